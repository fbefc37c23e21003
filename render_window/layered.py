"""The 2D layered renderer: an avatar pack as textured quads/meshes in one draw call.

Per frame the CPU only evaluates the bindings and bones and composes each layer's 2x3 canvas
transform through the parent chain (:func:`avatars.compose.pose_layers`, the very code the
software compositor uses); the results go to the GPU as small uniform arrays. The vertex shader
applies the transforms and the mesh warps (``warp_open``, ``warp_smile``, ``warp_squash``);
sprite swaps change a layer's atlas rectangle. Textures are built once at load (one
premultiplied atlas), so nothing is uploaded per frame.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyglet
from pyglet import gl
from pyglet.graphics.shader import Shader, ShaderProgram

from avatars.compose import pose_layers
from avatars.model import WARP_TARGETS, AvatarPack, Layer

from .atlas import Atlas, AtlasRect, build_atlas
from .renderer import Renderer, RendererError

log = logging.getLogger(__name__)

#: Fraction of the viewport the canvas fills (a little air around the avatar).
FILL = 0.96
#: Warps need interior vertices: sin(pi*u) and (2u-1)^2 profiles want columns, warp_open a row
#: at v = 0.5. These minimums keep the mesh curve visibly smooth at 1080p.
WARP_MIN_COLS = 16
#: Below this canvas-to-screen scale the atlas is sampled with mipmaps (see set_viewport).
MIPMAP_BELOW_SCALE = 0.8
WARP_MIN_ROWS = 2

VERTEX_SHADER = """#version 330 core
in vec2 uv;       // position inside the full layer image, 0..1, v down
in float layer;   // index into the per-layer arrays
in vec4 tint;     // variant tint, straight RGBA
in vec4 crop;     // opaque part of the image (u0, v0, u1, v1) that the atlas holds

uniform vec4 u_m0[LAYERS];   // (a, b, tx, opacity): canvas.x = a*x + b*y + tx
uniform vec4 u_m1[LAYERS];   // (c, d, ty, unused):  canvas.y = c*x + d*y + ty
uniform vec4 u_uv[LAYERS];   // atlas rectangle of the current sprite (u0, v0, u1, v1)
uniform vec4 u_geo[LAYERS];  // (width, height, warp_open, warp_smile) in image pixels
uniform vec4 u_warp[LAYERS]; // (warp_squash, 0, 0, 0)
uniform vec4 u_view;         // canvas px -> NDC: ndc = canvas * xy + zw

out vec2 v_tex;
out vec4 v_color;

void main() {
    int i = int(layer + 0.5);
    vec4 geo = u_geo[i];
    vec4 m0 = u_m0[i];
    vec4 m1 = u_m1[i];
    // Warps, exactly as avatars/compose.py evaluates them per pixel (FORMAT.md).
    float y = uv.y * geo.y;
    float k = max(0.02, 1.0 - u_warp[i].x);
    float dy = (y - 0.5 * geo.y) * (k - 1.0);
    dy += geo.z * sin(3.14159265 * uv.x) * clamp(2.0 * uv.y - 1.0, 0.0, 1.0);
    float e = 2.0 * uv.x - 1.0;
    dy -= geo.w * e * e;
    vec2 p = vec2(uv.x * geo.x, y + dy);
    vec2 c = vec2(dot(m0.xy, p) + m0.z, dot(m1.xy, p) + m1.z);
    gl_Position = vec4(c * u_view.xy + u_view.zw, 0.0, 1.0);
    if (m0.w <= 0.0) {
        gl_Position = vec4(2.0, 2.0, 2.0, 1.0);  // invisible: skip rasterising it at all
    }
    vec4 r = u_uv[i];
    vec2 local = (uv - crop.xy) / max(crop.zw - crop.xy, vec2(1e-6));
    v_tex = mix(r.xy, r.zw, local);
    float a = tint.a * clamp(m0.w, 0.0, 1.0);
    v_color = vec4(tint.rgb * a, a);
}
"""

FRAGMENT_SHADER = """#version 330 core
in vec2 v_tex;
in vec4 v_color;
uniform sampler2D u_atlas;
out vec4 out_color;

void main() {
    out_color = texture(u_atlas, v_tex) * v_color;  // premultiplied alpha
}
"""


class _AvatarGroup(pyglet.graphics.Group):
    """GL state for one avatar: program, atlas, premultiplied blending, viewport, uniforms."""

    def __init__(self, renderer: Layered2DRenderer, order: int) -> None:
        super().__init__(order=order)
        self.r = renderer

    def set_state(self) -> None:
        r = self.r
        assert r.program is not None
        r.program.use()
        gl.glActiveTexture(gl.GL_TEXTURE0)
        gl.glBindTexture(gl.GL_TEXTURE_2D, r.texture.value)
        gl.glEnable(gl.GL_BLEND)
        gl.glBlendFunc(gl.GL_ONE, gl.GL_ONE_MINUS_SRC_ALPHA)
        gl.glGetIntegerv(gl.GL_VIEWPORT, r.saved_viewport)
        gl.glViewport(*r.viewport)
        r.upload_uniforms()

    def unset_state(self) -> None:
        gl.glViewport(*self.r.saved_viewport)
        gl.glBlendFunc(gl.GL_SRC_ALPHA, gl.GL_ONE_MINUS_SRC_ALPHA)
        assert self.r.program is not None
        self.r.program.stop()

    # Two avatars (peer and self-view) must never be merged into one state block.
    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


def _bbox(path: Path) -> tuple[int, int, int, int] | None:
    """Opaque bounding box (x0, y0, x1, y1) of an image, or None when fully transparent."""
    from PIL import Image

    with Image.open(path) as img:
        alpha = img.convert("RGBA").getchannel("A")
        return alpha.getbbox()


class Layered2DRenderer(Renderer):
    """Layered 2D avatar packs (FORMAT.md). The fallback renderer: needs only GL 3.3."""

    name: ClassVar[str] = "layered2d"
    priority: ClassVar[int] = 0

    def __init__(self, batch: Any = None, order: int = 0) -> None:
        super().__init__(batch, order)
        self._own_batch = batch is None
        if self.batch is None:
            self.batch = pyglet.graphics.Batch()
        self.program: ShaderProgram | None = None
        self.texture = gl.GLuint(0)
        self.viewport = (0, 0, 1, 1)
        self._hidden = False
        self._mip = True
        self.saved_viewport = (gl.GLint * 4)()
        self.pack: AvatarPack | None = None
        self.variant: str | None = None
        self._vlist: Any = None
        self._group: _AvatarGroup | None = None
        self._n = 0
        self._view = np.zeros(4, dtype=np.float32)
        self._loc: dict[str, int] = {}

    def can_render(self, pack: Any) -> bool:
        return hasattr(pack, "layers") and hasattr(pack, "canvas")

    # -- loading -------------------------------------------------------------------------
    def load(self, pack: Any, variant: str | None = None) -> None:
        if not pack.layers:
            raise RendererError(f"avatar {pack.id!r} has no layers")
        self._free()
        self.pack = pack
        self.variant = variant or pack.default_variant
        layers: list[Layer] = list(pack.layers)
        self._n = n = len(layers)
        self._index = {la.id: i for i, la in enumerate(layers)}
        self._pos = [la.position for la in layers]

        # Every image a layer can show (rest image and sprites), and the union of their opaque
        # boxes: the mesh only covers that box, which saves llvmpipe most of its fill work.
        self._images: list[Path] = []
        crops: list[tuple[float, float, float, float]] = []
        per_layer: list[list[Path]] = []
        for la in layers:
            paths = [pack.layer_image(la.id, self.variant)]
            for b in la.bindings:
                paths.extend(p for _, p in b.sprites)
            per_layer.append(paths)
            w, h = la.size
            boxes = [bb for bb in (_bbox(p) for p in dict.fromkeys(paths)) if bb]
            if boxes:
                x0 = min(b[0] for b in boxes)
                y0 = min(b[1] for b in boxes)
                x1 = max(b[2] for b in boxes)
                y1 = max(b[3] for b in boxes)
            else:
                x0, y0, x1, y1 = 0, 0, 1, 1
            crops.append((x0 / w, y0 / h, x1 / w, y1 / h))
        self._crops = crops
        cropped = self._cropped_images(per_layer, crops)
        atlas = build_atlas(cropped)
        self._rects: dict[Any, AtlasRect] = atlas.rects
        self._rest_image = [paths[0] for paths in per_layer]
        try:
            self._create_gl(atlas, layers)
        except (pyglet.gl.GLException, pyglet.graphics.shader.ShaderException) as e:
            self._free()
            raise RendererError(f"GL setup failed: {e}") from e
        self._m0 = np.zeros((n, 4), dtype=np.float32)
        self._m1 = np.zeros((n, 4), dtype=np.float32)
        self._uv = np.zeros((n, 4), dtype=np.float32)
        self._geo = np.zeros((n, 4), dtype=np.float32)
        self._warp = np.zeros((n, 4), dtype=np.float32)
        for i, la in enumerate(layers):
            self._geo[i, 0:2] = la.size
        self._evaluate({})
        log.info("layered2d: loaded %s (%d layers, atlas %dx%d)", pack.id, n, *atlas.size)

    def _cropped_images(
        self, per_layer: list[list[Path]], crops: list[tuple[float, float, float, float]]
    ) -> dict[tuple[int, Path], Any]:
        """(layer index, image) -> the cropped PIL image the atlas will hold."""
        from PIL import Image

        out: dict[tuple[int, Path], Any] = {}
        for i, paths in enumerate(per_layer):
            u0, v0, u1, v1 = crops[i]
            for p in dict.fromkeys(paths):
                with Image.open(p) as img:
                    rgba = img.convert("RGBA")
                w, h = rgba.size
                box = (round(u0 * w), round(v0 * h), round(u1 * w), round(v1 * h))
                out[(i, p)] = rgba.crop(box)
        return out

    def _create_gl(self, atlas: Atlas, layers: list[Layer]) -> None:
        n = self._n
        vs = Shader(VERTEX_SHADER.replace("LAYERS", str(n)), "vertex")
        fs = Shader(FRAGMENT_SHADER, "fragment")
        self.program = ShaderProgram(vs, fs)
        for name in ("u_m0", "u_m1", "u_uv", "u_geo", "u_warp", "u_view", "u_atlas"):
            self._loc[name] = gl.glGetUniformLocation(self.program.id, name.encode())
        self.program.use()
        gl.glUniform1i(self._loc["u_atlas"], 0)
        self.program.stop()

        gl.glGenTextures(1, ctypes.byref(self.texture))
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.texture.value)
        w, h = atlas.size
        data = np.ascontiguousarray(atlas.pixels)
        gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 1)
        gl.glTexImage2D(
            gl.GL_TEXTURE_2D,
            0,
            gl.GL_RGBA8,
            w,
            h,
            0,
            gl.GL_RGBA,
            gl.GL_UNSIGNED_BYTE,
            data.ctypes.data_as(ctypes.POINTER(ctypes.c_ubyte)),
        )
        gl.glGenerateMipmap(gl.GL_TEXTURE_2D)
        gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MIN_FILTER, gl.GL_LINEAR_MIPMAP_LINEAR)
        gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MAG_FILTER, gl.GL_LINEAR)
        gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_WRAP_S, gl.GL_CLAMP_TO_EDGE)
        gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_WRAP_T, gl.GL_CLAMP_TO_EDGE)
        gl.glBindTexture(gl.GL_TEXTURE_2D, 0)
        self._mip = True

        uvs: list[float] = []
        idx: list[float] = []
        tints: list[float] = []
        crop_attr: list[float] = []
        indices: list[int] = []
        order = sorted(range(n), key=lambda i: layers[i].z)  # stable: equal z keeps pack order
        for i in order:
            la = layers[i]
            cols, rows = la.mesh
            targets = {b.target for b in la.bindings} & WARP_TARGETS
            if targets & {"warp_open", "warp_smile"}:
                cols = max(cols, WARP_MIN_COLS)
            if "warp_open" in targets:
                rows = max(rows, WARP_MIN_ROWS)
            u0, v0, u1, v1 = self._crops[i]
            tint = self.pack.layer_tint(la.id, self.variant) if self.pack else (1, 1, 1, 1)
            base = len(uvs) // 2
            row_v = [v0 + (v1 - v0) * r / rows for r in range(rows + 1)]
            if "warp_open" in targets and v0 < 0.5 < v1 and all(abs(v - 0.5) > 1e-6 for v in row_v):
                row_v = sorted([*row_v, 0.5])  # warp_open's profile bends at v = 0.5
            rows = len(row_v) - 1
            for v in row_v:
                for c in range(cols + 1):
                    uvs += [u0 + (u1 - u0) * c / cols, v]
                    idx.append(float(i))
                    tints += list(tint)
                    crop_attr += [u0, v0, u1, v1]
            for r in range(rows):
                for c in range(cols):
                    a = base + r * (cols + 1) + c
                    b = a + cols + 1
                    indices += [a, a + 1, b, a + 1, b + 1, b]
        self._group = _AvatarGroup(self, self.order)
        self._vlist = self.program.vertex_list_indexed(
            len(idx),
            gl.GL_TRIANGLES,
            indices,
            batch=self.batch,
            group=self._group,
            uv=("f", uvs),
            layer=("f", idx),
            tint=("f", tints),
            crop=("f", crop_attr),
        )

    # -- per frame -----------------------------------------------------------------------
    def set_viewport(self, x: int, y: int, width: int, height: int) -> None:
        self._hidden = width <= 0 or height <= 0  # a zero viewport hides the avatar
        self.viewport = (int(x), int(y), max(1, int(width)), max(1, int(height)))
        if self.pack is None:
            return
        cw, ch = self.pack.canvas
        w, h = self.viewport[2], self.viewport[3]
        scale = FILL * min(w / cw, h / ch)
        # Trilinear filtering costs llvmpipe a lot per pixel; only a shrunken avatar (the
        # self-view inset) needs mipmaps, a magnified one looks the same with bilinear.
        mip = scale < MIPMAP_BELOW_SCALE
        if self.texture.value and mip != self._mip:
            self._mip = mip
            gl.glBindTexture(gl.GL_TEXTURE_2D, self.texture.value)
            gl.glTexParameteri(
                gl.GL_TEXTURE_2D,
                gl.GL_TEXTURE_MIN_FILTER,
                gl.GL_LINEAR_MIPMAP_LINEAR if mip else gl.GL_LINEAR,
            )
            gl.glBindTexture(gl.GL_TEXTURE_2D, 0)
        # canvas px (y down) -> viewport NDC (y up), canvas centred.
        ox = (w - cw * scale) / 2.0
        oy = (h - ch * scale) / 2.0
        self._view[:] = (
            2.0 * scale / w,
            -2.0 * scale / h,
            2.0 * ox / w - 1.0,
            1.0 - 2.0 * oy / h,
        )

    def draw(self, params: Mapping[str, float], t: float) -> None:
        """Evaluate bindings and transforms for ``params``; the batch draws them."""
        self._evaluate(params)
        if self._own_batch and self.pack is not None:
            self.batch.draw()

    def _evaluate(self, params: Mapping[str, float]) -> None:
        """Per-layer uniforms (transform, opacity, sprite rectangle, warps) for ``params``."""
        if self.pack is None:
            return
        m0, m1, uv, geo, warp = self._m0, self._m1, self._uv, self._geo, self._warp
        for i, ((a, b, tx, c, d, ty), st) in enumerate(pose_layers(self.pack.layers, params)):
            # Fold the layer's rest position into the matrix: vertices are image pixels.
            qx, qy = self._pos[i]
            m0[i] = (a, b, a * qx + b * qy + tx, st.opacity)
            m1[i] = (c, d, c * qx + d * qy + ty, 0.0)
            r = self._rects[(i, st.sprite or self._rest_image[i])]
            uv[i] = (r.u0, r.v0, r.u1, r.v1)
            geo[i, 2] = st.warp_open
            geo[i, 3] = st.warp_smile
            warp[i, 0] = st.warp_squash
        if self._hidden:
            m0[:, 3] = 0.0

    def upload_uniforms(self) -> None:
        """Called from the group's set_state with the program in use."""
        n = self._n
        fp = ctypes.POINTER(gl.GLfloat)
        for name, arr in (
            ("u_m0", self._m0),
            ("u_m1", self._m1),
            ("u_uv", self._uv),
            ("u_geo", self._geo),
            ("u_warp", self._warp),
        ):
            gl.glUniform4fv(self._loc[name], n, arr.ctypes.data_as(fp))
        gl.glUniform4fv(self._loc["u_view"], 1, self._view.ctypes.data_as(fp))

    # -- teardown ------------------------------------------------------------------------
    def _free(self) -> None:
        if self._vlist is not None:
            self._vlist.delete()
            self._vlist = None
        if self.texture.value:
            gl.glDeleteTextures(1, ctypes.byref(self.texture))
            self.texture = gl.GLuint(0)
        if self.program is not None:
            self.program.delete()
            self.program = None
        self._group = None

    def close(self) -> None:
        self._free()
        self.pack = None
