"""The 3D renderer's GPU copies of a model: one vertex array per primitive (position+normal,
texture coordinates, joints+weights, indices) and the material textures. A primitive with morph
targets keeps its rest vertices and targets on the CPU, laid out for one matrix-vector product
a frame (``Gltf3DRenderer.draw``), and gets a dynamic buffer to upload the blend into."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyglet.gl as gl  # the module: ``from pyglet import gl`` is a proxy (a lookup per call)
from numpy.typing import NDArray

from avatars.model3d import Primitive

from .programs3d import Variant

PLAIN = Variant(False, False, False)

F32 = NDArray[np.float32]


@dataclass
class Draw:
    """One primitive of one node: its GL objects and the CPU copies morphing needs."""

    node: int
    prim: Primitive
    vao: int
    vbos: list[int]
    count: int
    material: int
    morph_w: NDArray[np.float32] | None = None  # weights last uploaded
    targets: NDArray[np.float32] | None = None  # (T, N*6) position+normal deltas
    base: NDArray[np.float32] | None = None  # (N, 6) positions+normals at rest
    #: Which of the renderer's shader programs draws it (programs3d.Variant).
    variant: Variant = PLAIN
    #: A skinned primitive's bounds for culling (:func:`joint_spheres`): the skin's joint
    #: indices it uses, a sphere (centre, radius) per joint around the vertices it moves.
    bound_joints: NDArray[np.intp] | None = None
    bound_c: NDArray[np.float32] | None = None
    bound_r: NDArray[np.float32] | None = None


def upload_texture(img: NDArray[np.uint8]) -> int:
    """An RGBA image as a mipmapped, repeating texture; returns its name."""
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


def _buffer(target: int, data: NDArray[Any], dynamic: bool = False) -> int:
    buf = gl.GLuint(0)
    gl.glGenBuffers(1, ctypes.byref(buf))
    gl.glBindBuffer(target, buf.value)
    usage = gl.GL_DYNAMIC_DRAW if dynamic else gl.GL_STATIC_DRAW
    gl.glBufferData(target, data.nbytes, data.ctypes.data_as(ctypes.c_void_p), usage)
    return buf.value


def upload_primitive(node: int, prim: Primitive) -> Draw:
    """A primitive's vertex array and buffers; a morphing one keeps its rest vertices and
    targets on the CPU and a dynamic position+normal buffer to re-blend into."""
    vao = gl.GLuint(0)
    gl.glGenVertexArrays(1, ctypes.byref(vao))
    gl.glBindVertexArray(vao.value)
    n = prim.positions.shape[0]
    morph = bool(prim.targets)
    posnorm = np.ascontiguousarray(np.hstack([prim.positions, prim.normals]), np.float32)
    vbos = [_buffer(gl.GL_ARRAY_BUFFER, posnorm, dynamic=morph)]
    gl.glVertexAttribPointer(0, 3, gl.GL_FLOAT, gl.GL_FALSE, 24, 0)
    gl.glVertexAttribPointer(1, 3, gl.GL_FLOAT, gl.GL_FALSE, 24, 12)
    gl.glEnableVertexAttribArray(0)
    gl.glEnableVertexAttribArray(1)
    vbos.append(_buffer(gl.GL_ARRAY_BUFFER, np.ascontiguousarray(prim.uv, np.float32)))
    gl.glVertexAttribPointer(2, 2, gl.GL_FLOAT, gl.GL_FALSE, 0, 0)
    gl.glEnableVertexAttribArray(2)
    if prim.joints is not None and prim.weights is not None:
        skin = np.hstack([prim.joints.astype(np.float32), prim.weights]).astype(np.float32)
        vbos.append(_buffer(gl.GL_ARRAY_BUFFER, np.ascontiguousarray(skin)))
        gl.glVertexAttribPointer(3, 4, gl.GL_FLOAT, gl.GL_FALSE, 32, 0)
        gl.glVertexAttribPointer(4, 4, gl.GL_FLOAT, gl.GL_FALSE, 32, 16)
        gl.glEnableVertexAttribArray(3)
        gl.glEnableVertexAttribArray(4)
    vbos.append(_buffer(gl.GL_ELEMENT_ARRAY_BUFFER, np.ascontiguousarray(prim.indices, np.uint32)))
    gl.glBindVertexArray(0)
    d = Draw(
        node,
        prim,
        vao.value,
        vbos,
        int(prim.indices.size),
        -1 if prim.material is None else int(prim.material),
    )
    if prim.joints is not None and prim.weights is not None and not morph:
        d.bound_joints, d.bound_c, d.bound_r = joint_spheres(prim)
    if morph:
        d.base = posnorm
        # (T, N*6): one matrix-vector product blends them all (see draw()).
        d.targets = np.stack([np.hstack([dp, dn]).ravel() for dp, dn in prim.targets]).astype(
            np.float32
        )
        d.morph_w = np.zeros(len(prim.targets), np.float32)
    del n
    return d


def joint_spheres(
    prim: Primitive,
) -> tuple[NDArray[np.intp], NDArray[np.float32], NDArray[np.float32]]:
    """For each joint that moves a vertex of ``prim``: a sphere (bind space) around those
    vertices. A skinned vertex is a weighted mean of its joints' rigid moves, so it lies in the
    hull of the moved spheres: when every sphere is outside one side of the view, the whole
    primitive is, and need not be drawn (nova's arms hang below the picture most of the time)."""
    assert prim.joints is not None and prim.weights is not None
    joints = prim.joints.astype(np.intp)
    weighted = prim.weights > 0
    used = np.unique(joints[weighted])
    centres, radii = [], []
    for j in used:
        pts = prim.positions[((joints == j) & weighted).any(axis=1)]
        c = (pts.min(axis=0) + pts.max(axis=0)) / 2
        centres.append(c)
        radii.append(float(np.linalg.norm(pts - c, axis=1).max()))
    return (
        used,
        np.array(centres, np.float32).reshape(-1, 3),
        np.array(radii, np.float32),
    )


class PictureCopy:
    """A copy of part of the window's picture in a texture, to put back on a later frame
    (an inset drawn at a lower rate, :data:`render_window.gl3d.INSET_PERIOD_S`). Both ways are a
    framebuffer blit: no shader, no blending, a few hundred microseconds on llvmpipe."""

    def __init__(self) -> None:
        self.fbo = self.tex = 0
        self.size = (0, 0)

    def save(self, x: int, y: int, w: int, h: int) -> None:
        """Copy the window's (x, y, w, h) into the texture."""
        if self.size != (w, h) or not self.fbo:
            self._make(w, h)
        _blit(0, (x, y), self.fbo, (0, 0), (w, h))

    def restore(self, x: int, y: int) -> None:
        """Put the saved picture back at (x, y)."""
        if self.fbo:
            _blit(self.fbo, (0, 0), 0, (x, y), self.size)

    def _make(self, w: int, h: int) -> None:
        self.free()
        tex, fbo = gl.GLuint(0), gl.GLuint(0)
        gl.glGenTextures(1, ctypes.byref(tex))
        gl.glBindTexture(gl.GL_TEXTURE_2D, tex.value)
        gl.glTexImage2D(
            gl.GL_TEXTURE_2D, 0, gl.GL_RGBA8, w, h, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, None
        )
        gl.glGenFramebuffers(1, ctypes.byref(fbo))
        gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, fbo.value)
        gl.glFramebufferTexture2D(
            gl.GL_FRAMEBUFFER, gl.GL_COLOR_ATTACHMENT0, gl.GL_TEXTURE_2D, tex.value, 0
        )
        gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, 0)
        self.tex, self.fbo, self.size = tex.value, fbo.value, (w, h)

    def free(self) -> None:
        if self.fbo:
            gl.glDeleteFramebuffers(1, ctypes.byref(gl.GLuint(self.fbo)))
            gl.glDeleteTextures(1, ctypes.byref(gl.GLuint(self.tex)))
        self.fbo = self.tex = 0
        self.size = (0, 0)


def _blit(
    src: int, a: tuple[int, int], dst: int, b: tuple[int, int], size: tuple[int, int]
) -> None:
    w, h = size
    gl.glBindFramebuffer(gl.GL_READ_FRAMEBUFFER, src)
    gl.glBindFramebuffer(gl.GL_DRAW_FRAMEBUFFER, dst)
    gl.glBlitFramebuffer(
        a[0], a[1], a[0] + w, a[1] + h, b[0], b[1], b[0] + w, b[1] + h,
        gl.GL_COLOR_BUFFER_BIT, gl.GL_NEAREST,
    )  # fmt: skip
    gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, 0)
