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
from typing import Any, ClassVar

import numpy as np
import pyglet
import pyglet.gl as gl  # the module: ``from pyglet import gl`` is a proxy (a lookup per call)
from numpy.typing import NDArray
from pyglet.graphics.shader import Shader, ShaderProgram

from avatars.model3d import Model

from .material3d import ALPHA_MODES, MaterialUniforms
from .mesh3d import Draw, PictureCopy, upload_primitive, upload_texture
from .pose3d import Posed, Poser, frame_camera
from .programs3d import Programs, Variant, fptr, vptr
from .renderer import Renderer, RendererError
from .shaders3d import STUB_FRAGMENT, STUB_VERTEX

log = logging.getLogger(__name__)

#: A model whose warm-up frames take longer than this (ms, fastest) is refused: at 60 FPS a
#: frame has 16.7 ms, and the window needs some of them for itself.
WARMUP_LIMIT_MS = 40.0
WARMUP_FRAMES = 4
#: A viewport of at most this many pixels is an inset (the self-view, 216x216 at 1280x720):
#: it is posed and drawn at most every :data:`INSET_PERIOD_S` and its last picture copied back
#: in between. Its input, our own tracking, moves at 30 Hz, and at inset size the posing and
#: vertex work (the same as the large view's) cost as much as the large view's.
INSET_MAX_PIXELS = 400 * 400
INSET_PERIOD_S = 1 / 30 - 1 / 240


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
        #: The shaders compiled per (alpha mask, textured, skinned) kind (:meth:`_variant`).
        self.programs = Programs()
        self.stub: ShaderProgram | None = None  # made in load(): no GL before a context
        self._stub_list: Any = None
        self.viewport = (0, 0, 1, 1)
        self.draws: list[Draw] = []
        self._solid: list[Draw] = []
        self._mask: list[Draw] = []
        self._outlined: list[Draw] = []
        self._blend: list[Draw] = []
        self.textures: list[int] = []
        self.joint_tex: dict[int, int] = {}
        self.posed: Posed | None = None
        self.uniforms = MaterialUniforms([])
        self.t = 0.0
        self._cull = -1
        self._saved_viewport = (gl.GLint * 4)()
        self.load_ms = 0.0
        self.warmup_ms = 0.0
        self._joints: list[NDArray[np.intp]] = []  # each skin's joint nodes
        self._cam: tuple[tuple[int, int], NDArray[np.float32], NDArray[np.float32]] | None = None
        self._planes = np.zeros((4, 4), np.float32)  # the camera's side planes (culling)
        self._skin_mats: list[NDArray[np.float32]] = []  # this frame's joint matrices
        self._copy = PictureCopy()  # an inset's last picture
        self._drawn_t: float | None = None  # when it was drawn
        self._reuse = False  # this frame copies the last picture back instead of drawing

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
        self.stub = ShaderProgram(Shader(STUB_VERTEX, "vertex"), Shader(STUB_FRAGMENT, "fragment"))
        self.poser = Poser(pack)
        self.uniforms = MaterialUniforms(pack.materials)
        self.textures = [upload_texture(img) for img in pack.images]
        for k, nd in enumerate(pack.nodes):
            if nd.mesh is None:
                continue
            for prim in pack.meshes[nd.mesh].primitives:
                if prim.indices.size:
                    self.draws.append(upload_primitive(k, prim))
        for d in self.draws:
            d.variant = self._variant(d)
        kinds = {d.variant for d in self.draws}
        kinds |= {self._outline_kind(d) for d in self.draws if self._has_outline(d)}
        for kind in sorted(kinds):
            self.programs.compile(kind)
        # The passes' draw lists, in drawing order: materials do not change after loading.
        order = self._sort_key
        self._solid = sorted((d for d in self.draws if self._mat_alpha(d) == 0), key=order)
        self._mask = sorted((d for d in self.draws if self._mat_alpha(d) == 1), key=order)
        self._outlined = [d for d in self._solid + self._mask if self._has_outline(d)]
        self._blend = [d for d in self.draws if self._mat_alpha(d) == 2]  # in file order
        self._joints = [np.array(skin.joints, np.intp) for skin in pack.skins]
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

    def _variant(self, d: Draw) -> Variant:
        """Which of :attr:`programs` draws ``d`` (its lit pass)."""
        m = self.model
        skinned = bool(m and m.nodes[d.node].skin is not None and d.prim.joints is not None)
        mats = m.materials if m else []
        mat = mats[d.material] if 0 <= d.material < len(mats) else None
        if mat is None:
            return Variant(False, False, skinned)  # drawn double-sided
        textured = mat.texture is not None and mat.texture < len(self.textures)
        return Variant(
            mask=mat.alpha_mode == "MASK",
            textured=textured,
            skinned=skinned,
            blend=mat.alpha_mode == "BLEND",
            shade_tex=textured and mat.shade_textured,
            double_sided=mat.double_sided,
        )

    @staticmethod
    def _outline_kind(d: Draw) -> Variant:
        """The outline pass's program: one colour, whatever the material."""
        return Variant(False, False, d.variant.skinned, outline=True, double_sided=False)

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

    # -- per frame -----------------------------------------------------------------------
    def set_viewport(self, x: int, y: int, width: int, height: int) -> None:
        self.viewport = (x, y, width, height)

    def draw(self, params: Mapping[str, float], t: float) -> None:
        if self.poser is None:
            return
        _, _, vw, vh = self.viewport
        self._reuse = (
            vw * vh <= INSET_MAX_PIXELS
            and self._copy.size == (vw, vh)
            and self._drawn_t is not None
            and 0.0 <= t - self._drawn_t < INSET_PERIOD_S
        )
        if self._reuse:
            return
        self._drawn_t = t
        self.t = t
        self.posed = self.poser.pose(params)
        for d in self.draws:
            w = self.posed.morph.get(d.node)
            if w is None or d.targets is None or d.morph_w is None or d.base is None:
                continue
            w = w[: d.targets.shape[0]]
            if np.array_equal(w, d.morph_w):
                continue
            # One matrix-vector product; over all targets when most have a weight (gathering
            # their rows first would copy most of the matrix), else over those that do.
            w = w.astype(np.float32)
            nz = np.flatnonzero(w)
            if 2 * nz.size > w.size:
                data = d.base.ravel() + w @ d.targets
            else:
                data = d.base.ravel() + w[nz] @ d.targets[nz] if nz.size else d.base
            gl.glBindBuffer(gl.GL_ARRAY_BUFFER, d.vbos[0])
            gl.glBufferSubData(gl.GL_ARRAY_BUFFER, 0, data.nbytes, vptr(data))
            d.morph_w = w.copy()
        if self.model is not None:
            self._skin_mats = []
            for si, skin in enumerate(self.model.skins):
                mats = self.posed.world[self._joints[si]] @ skin.inverse_bind
                self._skin_mats.append(mats)
                # Column-major texels: row j holds the joint matrix's 4 columns.
                data = np.ascontiguousarray(mats.transpose(0, 2, 1), np.float32)
                gl.glBindTexture(gl.GL_TEXTURE_2D, self.joint_tex[si])
                gl.glTexSubImage2D(
                    gl.GL_TEXTURE_2D, 0, 0, 0, 4, len(skin.joints), gl.GL_RGBA, gl.GL_FLOAT,
                    fptr(data),
                )  # fmt: skip

    def render(self) -> None:
        """Draw the posed model into the viewport (called from the batch's group)."""
        if not self.programs or self.posed is None or self.model is None or self.poser is None:
            return
        x, y, w, h = self.viewport
        if w <= 1 or h <= 1:
            return
        if self._reuse:  # an inset between its redraws: its last picture
            self._copy.restore(x, y)
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
            clip = self._cam[2] @ self._cam[1]
            planes = np.stack([clip[3] + clip[0], clip[3] - clip[0], clip[3] + clip[1],
                               clip[3] - clip[1]])  # fmt: skip
            self._planes = planes / np.linalg.norm(planes[:, :3], axis=1)[:, None]
        self.programs.begin(self._cam[1], self._cam[2], self.t)
        solid, mask, outlined, blend = self._solid, self._mask, self._outlined, self._blend
        self._cull = -1
        gl.glDisable(gl.GL_CULL_FACE)
        gl.glDisable(gl.GL_BLEND)
        for d in solid:
            if self._visible(d):
                self._draw_one(d, outline=False)
        # The outline is one colour: the plain program draws it for every material.
        for d in outlined:
            if self._visible(d):
                self._draw_one(d, outline=True, variant=self._outline_kind(d))
        for d in mask:
            if self._visible(d):
                self._draw_one(d, outline=False)
        gl.glEnable(gl.GL_BLEND)
        gl.glBlendFunc(gl.GL_SRC_ALPHA, gl.GL_ONE_MINUS_SRC_ALPHA)
        gl.glDepthMask(gl.GL_FALSE)
        for d in blend:
            if self._visible(d):
                self._draw_one(d, outline=False)
        gl.glDepthMask(gl.GL_TRUE)
        gl.glBindVertexArray(0)
        gl.glDisable(gl.GL_DEPTH_TEST)
        gl.glDisable(gl.GL_CULL_FACE)
        gl.glViewport(*self._saved_viewport)
        gl.glUseProgram(0)
        if w * h <= INSET_MAX_PIXELS:  # keep the picture (with what is under it) for reuse
            self._copy.save(x, y, w, h)

    def _visible(self, d: Draw) -> bool:
        """False for a skinned primitive wholly outside the picture (its joint spheres all
        beyond one side of the view): llvmpipe would shade every vertex of it (16 texel reads
        each) only to clip them. Unskinned ones are always drawn."""
        if d.bound_joints is None or d.bound_c is None or d.bound_r is None:
            return True
        if self.model is None or not self._skin_mats:
            return True
        skin = self.model.nodes[d.node].skin
        if skin is None or skin >= len(self._skin_mats):
            return True
        m = self._skin_mats[skin][d.bound_joints]
        centres = np.einsum("kij,kj->ki", m[:, :3, :3], d.bound_c) + m[:, :3, 3]
        # A joint matrix may scale: grow the spheres by its largest axis.
        r = d.bound_r * np.linalg.norm(m[:, :3, :3], axis=1).max(axis=1)
        dist = centres @ self._planes[:, :3].T + self._planes[:, 3]
        return not bool((dist < -r[:, None]).all(axis=0).any())

    def _sort_key(self, d: Draw) -> tuple[tuple[bool, ...], bool]:
        """Draws of one program together, then single-sided ones together (fewer program and
        cull state changes: llvmpipe re-validates its pipeline on each)."""
        mats = self.model.materials if self.model else []
        sided = bool(0 <= d.material < len(mats) and mats[d.material].double_sided)
        return (self._variant(d)[:3], sided)

    def _has_outline(self, d: Draw) -> bool:
        mats = self.model.materials if self.model else []
        return 0 <= d.material < len(mats) and mats[d.material].outline_width > 0

    def _mat_alpha(self, d: Draw) -> int:
        if self.model is None or not 0 <= d.material < len(self.model.materials):
            return 0
        return ALPHA_MODES.get(self.model.materials[d.material].alpha_mode, 0)

    def _draw_one(self, d: Draw, outline: bool, variant: Variant | None = None) -> None:
        assert self.model is not None and self.posed is not None
        progs = self.programs
        progs.select(variant or d.variant)
        mats = self.model.materials
        mat = mats[d.material] if 0 <= d.material < len(mats) else None
        node = self.model.nodes[d.node]
        if d.variant.skinned:
            gl.glActiveTexture(gl.GL_TEXTURE1)
            gl.glBindTexture(gl.GL_TEXTURE_2D, self.joint_tex[int(node.skin or 0)])
            gl.glActiveTexture(gl.GL_TEXTURE0)
        else:  # a skinned vertex takes its matrix from the joints
            progs.model_matrix(d.node, self.posed.world[d.node])
        if mat is not None and mat.texture is not None and mat.texture < len(self.textures):
            gl.glBindTexture(gl.GL_TEXTURE_2D, self.textures[int(mat.texture)])
        progs.material(self.uniforms.values(d.material, self.posed.binds))
        progs.set("u_outline", (float(mat.outline_width) if outline and mat else 0.0,))
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

    # -- teardown ------------------------------------------------------------------------
    def _free(self) -> None:
        self._copy.free()
        self._drawn_t = None
        for d in self.draws:
            gl.glDeleteVertexArrays(1, ctypes.byref(gl.GLuint(d.vao)))
            for b in d.vbos:
                gl.glDeleteBuffers(1, ctypes.byref(gl.GLuint(b)))
        for t in [*self.textures, *self.joint_tex.values()]:
            gl.glDeleteTextures(1, ctypes.byref(gl.GLuint(t)))
        self.draws, self.textures, self.joint_tex = [], [], {}
        self._solid, self._mask, self._outlined, self._blend = [], [], [], []
        if self._stub_list is not None:
            self._stub_list.delete()
            self._stub_list = None
        self.programs.free()
        if self.stub is not None:
            self.stub.delete()
            self.stub = None

    def close(self) -> None:
        self._free()
        self.model = self.poser = self.posed = None
