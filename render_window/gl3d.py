"""The 3D renderer plug-in: glTF 2.0 / VRM models (avatars.gltf) drawn with OpenGL 3.3 core.

Per frame the CPU poses the skeleton and evaluates the VRM expression rules
(:mod:`render_window.pose3d`), blends the morph targets that moved (numpy, only the targets
with a weight, uploaded only when the weights changed) and uploads each skin's joint matrices
into a small float texture; the GPU skins, transforms the texture coordinates and toon-shades
(:mod:`render_window.shaders3d`). The renderer joins the window's pyglet batch through a
one-vertex stub list whose group draws the model, so the window's draw order and its
screenshots need no change.

Loading measures a warm-up (a few full frames with ``glFinish``): a model too slow for the
frame budget raises :class:`RendererError`, and the window falls back to a 2D avatar with the
reason, as it does for a file that does not load.
"""

from __future__ import annotations

import ctypes
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyglet
from numpy.typing import NDArray
from pyglet import gl
from pyglet.graphics.shader import Shader, ShaderProgram

from avatars.model3d import Model, Primitive

from .pose3d import Posed, Poser, frame_camera
from .renderer import Renderer, RendererError
from .shaders3d import FRAGMENT, STUB_FRAGMENT, STUB_VERTEX, VERTEX

log = logging.getLogger(__name__)

#: A model whose warm-up frames take longer than this (ms, fastest) is refused: at 60 FPS a
#: frame has 16.7 ms, and the window needs some of them for itself.
WARMUP_LIMIT_MS = 40.0
WARMUP_FRAMES = 4
#: View-space direction toward the key light: above, a little to the left, from the front.
LIGHT = np.array([-0.35, 0.55, 0.75], np.float32) / np.linalg.norm([-0.35, 0.55, 0.75])
ALPHA_MODES = {"OPAQUE": 0, "MASK": 1, "BLEND": 2}
INT_UNIFORMS = frozenset(
    {
        "u_skinned",
        "u_has_tex",
        "u_alpha_mode",
        "u_shade_tex",
        "u_outline_pass",
        "u_tex",
        "u_joint_tex",
    }
)
_UNIFORM_F: dict[int, Any] = {
    1: gl.glUniform1f,
    2: gl.glUniform2f,
    3: gl.glUniform3f,
    4: gl.glUniform4f,
}
UNIFORMS = (
    "u_model u_view u_proj u_skinned u_joint_tex u_outline u_uvx u_uvanim u_time u_uvrot u_tex "
    "u_has_tex u_color u_shade u_shade_tex u_rim u_emission u_shift u_toony u_alpha_mode "
    "u_cutoff u_outline_pass u_outline_color u_light"
)


def _fptr(a: NDArray[Any]) -> Any:
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


@dataclass
class _Draw:
    """One primitive of one node: its GL objects and the CPU copies morphing needs."""

    node: int
    prim: Primitive
    vao: int
    vbos: list[int]
    count: int
    material: int
    morph_w: NDArray[np.float32] | None = None  # weights last uploaded
    targets: NDArray[np.float32] | None = None  # (T, N, 6) position+normal deltas
    base: NDArray[np.float32] | None = None  # (N, 6) positions+normals at rest


class _Group(pyglet.graphics.Group):
    def __init__(self, renderer: Gltf3DRenderer, order: int) -> None:
        super().__init__(order=order)
        self.r = renderer

    def set_state(self) -> None:
        self.r.render()
        assert self.r.stub is not None
        self.r.stub.use()

    def unset_state(self) -> None:
        assert self.r.stub is not None
        self.r.stub.stop()

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


class Gltf3DRenderer(Renderer):
    """glTF 2.0 / VRM 0.x and 1.0 models; outranks the 2D renderer for the packs it draws."""

    name: ClassVar[str] = "gltf3d"
    priority: ClassVar[int] = 10
    #: The screenshot CLI lifts this (one frame has no frame budget).
    warmup_limit_ms: ClassVar[float] = WARMUP_LIMIT_MS

    def __init__(self, batch: Any = None, order: int = 0) -> None:
        super().__init__(batch, order)
        if self.batch is None:
            self.batch = pyglet.graphics.Batch()
        self.model: Model | None = None
        self.poser: Poser | None = None
        self.program: ShaderProgram | None = None
        #: The same shaders with the alpha-mask ``discard``: a shader that may discard turns
        #: off llvmpipe's early depth test, so only MASK materials pay for it.
        self.mask_program: ShaderProgram | None = None
        self._pid = 0  # the program in use
        self.stub: ShaderProgram | None = None  # made in load(): no GL before a context
        self._stub_list: Any = None
        self.viewport = (0, 0, 1, 1)
        self.draws: list[_Draw] = []
        self.textures: list[int] = []
        self.joint_tex: dict[int, int] = {}
        self.posed: Posed | None = None
        self.t = 0.0
        self._locs: dict[int, dict[str, int]] = {}
        self._ucaches: dict[int, dict[str, tuple[float, ...]]] = {}
        self._cull = -1
        self._saved_viewport = (gl.GLint * 4)()
        self.load_ms = 0.0
        self.warmup_ms = 0.0
        self._cam: tuple[tuple[int, int], NDArray[np.float32], NDArray[np.float32]] | None = None

    def can_render(self, pack: Any) -> bool:
        return isinstance(pack, Model)

    # -- loading -------------------------------------------------------------------------
    def load(self, pack: Any, variant: str | None = None) -> None:
        if not isinstance(pack, Model):
            raise RendererError("not a glTF/VRM model")
        t0 = time.perf_counter()
        bits = gl.GLint(0)
        gl.glGetFramebufferAttachmentParameteriv(
            gl.GL_FRAMEBUFFER, gl.GL_DEPTH, gl.GL_FRAMEBUFFER_ATTACHMENT_DEPTH_SIZE, bits
        )
        if bits.value == 0:  # without depth the model would draw inside out
            raise RendererError("the window has no depth buffer")
        self._free()
        self.model = pack
        self._cam = None
        try:
            self.program = ShaderProgram(Shader(VERTEX, "vertex"), Shader(FRAGMENT, "fragment"))
            masked = FRAGMENT.replace("#version 330 core", "#version 330 core\n#define ALPHA_MASK")
            self.mask_program = ShaderProgram(Shader(VERTEX, "vertex"), Shader(masked, "fragment"))
        except Exception as e:  # GLSL compile/link errors come as pyglet's own types
            raise RendererError(f"3D shaders do not compile here: {e}") from e
        self.stub = ShaderProgram(Shader(STUB_VERTEX, "vertex"), Shader(STUB_FRAGMENT, "fragment"))
        for prog in (self.program, self.mask_program):
            pid = prog.id
            self._ucaches[pid] = {}
            self._locs[pid] = {
                n: gl.glGetUniformLocation(pid, n.encode()) for n in UNIFORMS.split()
            }
        self.poser = Poser(pack)
        self.textures = [self._texture(img) for img in pack.images]
        for k, nd in enumerate(pack.nodes):
            if nd.mesh is None:
                continue
            for prim in pack.meshes[nd.mesh].primitives:
                if prim.indices.size:
                    self.draws.append(self._upload(k, prim))
        for si, skin in enumerate(pack.skins):
            tex = gl.GLuint(0)
            gl.glGenTextures(1, ctypes.byref(tex))
            self.joint_tex[si] = tex.value
            gl.glBindTexture(gl.GL_TEXTURE_2D, tex.value)
            for p in (gl.GL_TEXTURE_MIN_FILTER, gl.GL_TEXTURE_MAG_FILTER):
                gl.glTexParameteri(gl.GL_TEXTURE_2D, p, gl.GL_NEAREST)
            gl.glTexImage2D(
                gl.GL_TEXTURE_2D, 0, gl.GL_RGBA32F, 4, len(skin.joints), 0, gl.GL_RGBA,
                gl.GL_FLOAT, None,
            )  # fmt: skip
        assert self.stub is not None
        self._stub_list = self.stub.vertex_list(
            1, gl.GL_POINTS, batch=self.batch, group=_Group(self, self.order),
            position=("f", (3.0, 3.0)),
        )  # fmt: skip
        self.load_ms = (time.perf_counter() - t0) * 1000
        self._warm_up()

    def _warm_up(self) -> None:
        """Render a few frames now and refuse the model when they are too slow.

        Each frame is timed in this thread's CPU time, and the fastest counts: on llvmpipe
        (rasterising on this thread, see ``__main__._software_gl_threads``) that is the work a
        frame costs, whereas wall time on a loaded 2-core box mostly measured the neighbours
        (a model that takes 26 ms alone took 60 ms while other processes ran)."""
        times = []
        saved = self.viewport
        self.viewport = (0, 0, 1280, 720)
        for i in range(WARMUP_FRAMES):
            t0 = time.thread_time()
            self.draw({"headYaw": 0.1 * i, "jawOpen": 0.2 * i}, float(i) / 60)
            self.render()
            gl.glFinish()
            times.append((time.thread_time() - t0) * 1000)
        self.viewport = saved
        gl.glClear(gl.GL_COLOR_BUFFER_BIT | gl.GL_DEPTH_BUFFER_BIT)
        # The first frame compiles shaders on llvmpipe: the fastest of the others counts.
        self.warmup_ms = float(min(times[1:]))
        log.info("3D model loaded in %.0f ms, warm-up %.1f ms/frame", self.load_ms, self.warmup_ms)
        if self.warmup_ms > self.warmup_limit_ms:
            raise RendererError(
                f"model too slow to render here: {self.warmup_ms:.0f} ms per frame "
                f"(limit {self.warmup_limit_ms:.0f})"
            )

    def _texture(self, img: NDArray[np.uint8]) -> int:
        tex = gl.GLuint(0)
        gl.glGenTextures(1, ctypes.byref(tex))
        gl.glBindTexture(gl.GL_TEXTURE_2D, tex.value)
        h, w = img.shape[:2]
        data = np.ascontiguousarray(img)
        gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 1)
        gl.glTexImage2D(
            gl.GL_TEXTURE_2D, 0, gl.GL_RGBA8, w, h, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE,
            data.ctypes.data_as(ctypes.POINTER(ctypes.c_ubyte)),
        )  # fmt: skip
        gl.glGenerateMipmap(gl.GL_TEXTURE_2D)
        gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MIN_FILTER, gl.GL_LINEAR_MIPMAP_LINEAR)
        gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MAG_FILTER, gl.GL_LINEAR)
        for p in (gl.GL_TEXTURE_WRAP_S, gl.GL_TEXTURE_WRAP_T):
            gl.glTexParameteri(gl.GL_TEXTURE_2D, p, gl.GL_REPEAT)
        return tex.value

    def _buffer(self, target: int, data: NDArray[Any], dynamic: bool = False) -> int:
        buf = gl.GLuint(0)
        gl.glGenBuffers(1, ctypes.byref(buf))
        gl.glBindBuffer(target, buf.value)
        usage = gl.GL_DYNAMIC_DRAW if dynamic else gl.GL_STATIC_DRAW
        gl.glBufferData(target, data.nbytes, data.ctypes.data_as(ctypes.c_void_p), usage)
        return buf.value

    def _upload(self, node: int, prim: Primitive) -> _Draw:
        vao = gl.GLuint(0)
        gl.glGenVertexArrays(1, ctypes.byref(vao))
        gl.glBindVertexArray(vao.value)
        n = prim.positions.shape[0]
        morph = bool(prim.targets)
        posnorm = np.ascontiguousarray(np.hstack([prim.positions, prim.normals]), np.float32)
        vbos = [self._buffer(gl.GL_ARRAY_BUFFER, posnorm, dynamic=morph)]
        gl.glVertexAttribPointer(0, 3, gl.GL_FLOAT, gl.GL_FALSE, 24, 0)
        gl.glVertexAttribPointer(1, 3, gl.GL_FLOAT, gl.GL_FALSE, 24, 12)
        gl.glEnableVertexAttribArray(0)
        gl.glEnableVertexAttribArray(1)
        vbos.append(self._buffer(gl.GL_ARRAY_BUFFER, np.ascontiguousarray(prim.uv, np.float32)))
        gl.glVertexAttribPointer(2, 2, gl.GL_FLOAT, gl.GL_FALSE, 0, 0)
        gl.glEnableVertexAttribArray(2)
        if prim.joints is not None and prim.weights is not None:
            skin = np.hstack([prim.joints.astype(np.float32), prim.weights]).astype(np.float32)
            vbos.append(self._buffer(gl.GL_ARRAY_BUFFER, np.ascontiguousarray(skin)))
            gl.glVertexAttribPointer(3, 4, gl.GL_FLOAT, gl.GL_FALSE, 32, 0)
            gl.glVertexAttribPointer(4, 4, gl.GL_FLOAT, gl.GL_FALSE, 32, 16)
            gl.glEnableVertexAttribArray(3)
            gl.glEnableVertexAttribArray(4)
        vbos.append(
            self._buffer(gl.GL_ELEMENT_ARRAY_BUFFER, np.ascontiguousarray(prim.indices, np.uint32))
        )
        gl.glBindVertexArray(0)
        d = _Draw(
            node,
            prim,
            vao.value,
            vbos,
            int(prim.indices.size),
            -1 if prim.material is None else int(prim.material),
        )
        if morph:
            d.base = posnorm
            d.targets = np.stack([np.hstack([dp, dn]) for dp, dn in prim.targets]).astype(
                np.float32
            )
            d.morph_w = np.zeros(len(prim.targets), np.float32)
        del n
        return d

    # -- per frame -----------------------------------------------------------------------
    def set_viewport(self, x: int, y: int, width: int, height: int) -> None:
        self.viewport = (x, y, width, height)

    def draw(self, params: Mapping[str, float], t: float) -> None:
        if self.poser is None:
            return
        self.t = t
        self.posed = self.poser.pose(params)
        for d in self.draws:
            w = self.posed.morph.get(d.node)
            if w is None or d.targets is None or d.morph_w is None or d.base is None:
                continue
            w = w[: d.targets.shape[0]]
            if np.array_equal(w, d.morph_w):
                continue
            nz = np.flatnonzero(w)
            data = d.base + np.tensordot(w[nz], d.targets[nz], axes=1) if nz.size else d.base
            data = np.ascontiguousarray(data, np.float32)
            gl.glBindBuffer(gl.GL_ARRAY_BUFFER, d.vbos[0])
            gl.glBufferSubData(
                gl.GL_ARRAY_BUFFER, 0, data.nbytes, data.ctypes.data_as(ctypes.c_void_p)
            )
            d.morph_w = w.copy()
        if self.model is not None:
            for si, skin in enumerate(self.model.skins):
                mats = np.stack([self.posed.world[j] for j in skin.joints]) @ skin.inverse_bind
                # Column-major texels: row j holds the joint matrix's 4 columns.
                data = np.ascontiguousarray(mats.transpose(0, 2, 1), np.float32)
                gl.glBindTexture(gl.GL_TEXTURE_2D, self.joint_tex[si])
                gl.glTexSubImage2D(
                    gl.GL_TEXTURE_2D, 0, 0, 0, 4, len(skin.joints), gl.GL_RGBA, gl.GL_FLOAT,
                    _fptr(data),
                )  # fmt: skip

    def render(self) -> None:
        """Draw the posed model into the viewport (called from the batch's group)."""
        if self.program is None or self.posed is None or self.model is None or self.poser is None:
            return
        x, y, w, h = self.viewport
        if w <= 1 or h <= 1:
            return
        gl.glGetIntegerv(gl.GL_VIEWPORT, self._saved_viewport)
        gl.glViewport(x, y, w, h)
        gl.glEnable(gl.GL_SCISSOR_TEST)
        gl.glScissor(x, y, w, h)
        gl.glClear(gl.GL_DEPTH_BUFFER_BIT)
        gl.glDisable(gl.GL_SCISSOR_TEST)
        gl.glEnable(gl.GL_DEPTH_TEST)
        gl.glDepthFunc(gl.GL_LEQUAL)
        if self._cam is None or self._cam[0] != (w, h):
            self._cam = ((w, h), *frame_camera(self.poser, w / h))
        self._use(self.program)
        blend = [d for d in self.draws if self._mat_alpha(d) == 2]
        solid = sorted((d for d in self.draws if self._mat_alpha(d) == 0), key=self._sided)
        mask = sorted((d for d in self.draws if self._mat_alpha(d) == 1), key=self._sided)
        self._cull = -1
        gl.glDisable(gl.GL_CULL_FACE)
        gl.glDisable(gl.GL_BLEND)
        for d in solid:
            self._draw_one(d, outline=False)
        for d in solid + mask:
            self._draw_one(d, outline=True)
        if mask:
            self._use(self.mask_program)
            for d in mask:
                self._draw_one(d, outline=False)
            self._use(self.program)
        gl.glEnable(gl.GL_BLEND)
        gl.glBlendFunc(gl.GL_SRC_ALPHA, gl.GL_ONE_MINUS_SRC_ALPHA)
        gl.glDepthMask(gl.GL_FALSE)
        for d in blend:
            self._draw_one(d, outline=False)
        gl.glDepthMask(gl.GL_TRUE)
        gl.glBindVertexArray(0)
        gl.glDisable(gl.GL_DEPTH_TEST)
        gl.glDisable(gl.GL_CULL_FACE)
        gl.glViewport(*self._saved_viewport)
        self.program.stop()

    def _use(self, prog: ShaderProgram | None) -> None:
        """Make ``prog`` current and give it this frame's camera, light and time."""
        assert prog is not None and self._cam is not None
        prog.use()
        self._pid = prog.id
        _, view, proj = self._cam
        loc = self._locs[self._pid]
        gl.glUniformMatrix4fv(loc["u_view"], 1, gl.GL_TRUE, _fptr(np.ascontiguousarray(view)))
        gl.glUniformMatrix4fv(loc["u_proj"], 1, gl.GL_TRUE, _fptr(np.ascontiguousarray(proj)))
        self._u("u_light", *(float(v) for v in LIGHT))
        self._u("u_time", float(self.t))
        self._u("u_tex", 0)
        self._u("u_joint_tex", 1)

    def _sided(self, d: _Draw) -> bool:
        """Sort key: single-sided draws together (fewer cull state changes)."""
        mats = self.model.materials if self.model else []
        return bool(0 <= d.material < len(mats) and mats[d.material].double_sided)

    def _mat_alpha(self, d: _Draw) -> int:
        if self.model is None or not 0 <= d.material < len(self.model.materials):
            return 0
        return ALPHA_MODES.get(self.model.materials[d.material].alpha_mode, 0)

    def _draw_one(self, d: _Draw, outline: bool) -> None:
        assert self.model is not None and self.posed is not None
        loc = self._locs[self._pid]
        mats = self.model.materials
        mat = mats[d.material] if 0 <= d.material < len(mats) else None
        if outline and (mat is None or mat.outline_width <= 0):
            return
        binds = self.posed.binds
        mi = d.material
        node = self.model.nodes[d.node]
        skinned = node.skin is not None and d.prim.joints is not None
        self._u("u_skinned", int(skinned))
        if skinned:
            gl.glActiveTexture(gl.GL_TEXTURE1)
            gl.glBindTexture(gl.GL_TEXTURE_2D, self.joint_tex[int(node.skin or 0)])
            gl.glActiveTexture(gl.GL_TEXTURE0)
        model_m = np.ascontiguousarray(self.posed.world[d.node])
        gl.glUniformMatrix4fv(loc["u_model"], 1, gl.GL_TRUE, _fptr(model_m))
        if mat is None:
            color, shade = (1.0, 1.0, 1.0, 1.0), (0.6, 0.6, 0.6)
            self._u("u_has_tex", 0)
            self._u("u_uvx", 1.0, 1.0, 0.0, 0.0)
            self._u("u_uvanim", 0.0, 0.0, 0.0)
            self._u("u_uvrot", 0.0)
            self._u("u_alpha_mode", 0)
            rim = emission = outline_c = (0.0, 0.0, 0.0)
            shift, toony, shade_tex = 0.0, 0.9, 0
        else:
            color = self._color(mi, "color", tuple(mat.base_color))
            shade = self._color(mi, "shadeColor", (*mat.shade_color, 1.0))[:3]
            rim = self._color(mi, "rimColor", (*mat.rim_color, 1.0))[:3]
            emission = self._color(mi, "emissionColor", (*mat.emission, 1.0))[:3]
            outline_c = self._color(mi, "outlineColor", (*mat.outline_color, 1.0))[:3]
            ds = binds.tex_scale.get(mi, (0.0, 0.0))
            do = binds.tex_offset.get(mi, (0.0, 0.0))
            self._u(
                "u_uvx", float(mat.tex_scale[0] + ds[0]), float(mat.tex_scale[1] + ds[1]),
                float(mat.tex_offset[0] + do[0]), float(mat.tex_offset[1] + do[1]),
            )  # fmt: skip
            self._u("u_uvanim", *mat.uv_scroll, mat.uv_rotation_speed)
            self._u("u_uvrot", mat.tex_rotation)
            has_tex = mat.texture is not None and mat.texture < len(self.textures)
            self._u("u_has_tex", int(has_tex))
            if has_tex:
                gl.glBindTexture(gl.GL_TEXTURE_2D, self.textures[int(mat.texture or 0)])
            self._u("u_alpha_mode", ALPHA_MODES.get(mat.alpha_mode, 0))
            self._u("u_cutoff", mat.alpha_cutoff)
            shift, toony, shade_tex = mat.shading_shift, mat.shading_toony, int(mat.shade_textured)
        self._u("u_color", *(float(c) for c in color))
        self._u("u_shade", *(float(c) for c in shade))
        self._u("u_shade_tex", shade_tex)
        self._u("u_rim", *(float(c) for c in rim))
        self._u("u_emission", *(float(c) for c in emission))
        self._u("u_outline_color", *(float(c) for c in outline_c))
        self._u("u_shift", float(shift))
        self._u("u_toony", float(toony))
        self._u("u_outline_pass", int(outline))
        self._u("u_outline", float(mat.outline_width) if outline and mat else 0.0)
        # Inverted hull: the outline pass shows only the extruded back faces.
        cull = gl.GL_FRONT if outline else (gl.GL_BACK if mat and not mat.double_sided else 0)
        if cull != self._cull:  # llvmpipe re-validates its pipeline on every state change
            self._cull = cull
            if cull:
                gl.glEnable(gl.GL_CULL_FACE)
                gl.glCullFace(cull)
            else:
                gl.glDisable(gl.GL_CULL_FACE)
        gl.glBindVertexArray(d.vao)
        gl.glDrawElements(gl.GL_TRIANGLES, d.count, gl.GL_UNSIGNED_INT, 0)

    def _u(self, name: str, *values: float) -> None:
        """Set a uniform of our program unless it already holds ``values`` (uniforms keep
        their values between frames): about half the GL calls of a frame are skipped."""
        cache = self._ucaches[self._pid]
        if cache.get(name) == values:
            return
        cache[name] = values
        loc = self._locs[self._pid][name]
        if name in INT_UNIFORMS:
            gl.glUniform1i(loc, int(values[0]))
        else:
            _UNIFORM_F[len(values)](loc, *(float(v) for v in values))

    def _color(
        self, mi: int, kind: str, base: tuple[float, ...]
    ) -> tuple[float, float, float, float]:
        assert self.posed is not None
        delta = self.posed.binds.colors.get((mi, kind))
        if delta is None:
            return (float(base[0]), float(base[1]), float(base[2]), float(base[3]))
        c = [min(max(float(b) + float(dv), 0.0), 1.0) for b, dv in zip(base, delta, strict=True)]
        return (c[0], c[1], c[2], c[3])

    # -- teardown ------------------------------------------------------------------------
    def _free(self) -> None:
        for d in self.draws:
            gl.glDeleteVertexArrays(1, ctypes.byref(gl.GLuint(d.vao)))
            for b in d.vbos:
                gl.glDeleteBuffers(1, ctypes.byref(gl.GLuint(b)))
        for t in [*self.textures, *self.joint_tex.values()]:
            gl.glDeleteTextures(1, ctypes.byref(gl.GLuint(t)))
        self.draws, self.textures, self.joint_tex = [], [], {}
        if self._stub_list is not None:
            self._stub_list.delete()
            self._stub_list = None
        for prog in (self.program, self.mask_program):
            if prog is not None:
                prog.delete()
        self.program = self.mask_program = None
        self._locs, self._ucaches = {}, {}
        if self.stub is not None:
            self.stub.delete()
            self.stub = None

    def close(self) -> None:
        self._free()
        self.model = self.poser = self.posed = None
