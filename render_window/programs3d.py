"""The 3D renderer's shader programs and the uniform state it keeps for each.

One program per kind of draw (alpha mask, textured, skinned), compiled from
:mod:`render_window.shaders3d` with ``#define`` s, and for each program the values its uniforms
hold: uniforms keep their values between draws and frames, so a value is only sent when it
differs (on llvmpipe each GL call costs Python and driver time, and about half of a frame's
calls were repeats). :class:`Programs` is that state; :mod:`render_window.gl3d` decides what to
draw with it.
"""

from __future__ import annotations

import ctypes
from typing import Any, NamedTuple

import numpy as np
import pyglet.gl as gl  # the module: ``from pyglet import gl`` is a proxy (a lookup per call)
from numpy.typing import NDArray
from pyglet.graphics.shader import Shader, ShaderProgram

from .material3d import SLOTS, Values
from .renderer import RendererError
from .shaders3d import FRAGMENT, VERTEX


class Variant(NamedTuple):
    """A kind of draw that gets its own shader program: what the material (or pass) needs,
    compiled in, so that no pixel runs a branch on a uniform. llvmpipe runs both sides of such
    a branch for every pixel; the outline pass's early ``return`` alone cost nova's frame about
    a fifth of its fragment work (thread CPU time, 1280x720)."""

    mask: bool  # alpha MASK: may ``discard`` (which turns off the early depth test)
    textured: bool  # a base colour texture to fetch
    skinned: bool  # joint matrices from the joint texture (16 texel reads a vertex)
    blend: bool = False  # alpha BLEND: the base colour's alpha is written
    shade_tex: bool = False  # the shade colour is multiplied by the texture
    outline: bool = False  # the inverted-hull outline pass: one colour
    #: Back faces drawn (not culled), lit as seen from the back; else every face is a front one.
    double_sided: bool = True


#: View-space direction toward the key light: above, a little to the left, from the front.
LIGHT = np.array([-0.35, 0.55, 0.75], np.float32) / np.linalg.norm([-0.35, 0.55, 0.75])
INT_UNIFORMS = frozenset({"u_tex", "u_joint_tex"})
_UNIFORM_F: dict[int, Any] = {
    1: gl.glUniform1f,
    2: gl.glUniform2f,
    3: gl.glUniform3f,
    4: gl.glUniform4f,
}
#: Components of each float material uniform (its glUniform*f setter).
_SIZES = {"u_uvanim": 3, "u_uvrot": 1, "u_cutoff": 1, "u_shift": 1, "u_toony": 1, "u_color": 4}
_SIZES |= {"u_shade": 3, "u_rim": 3, "u_emission": 3, "u_outline_color": 3, "u_uvx": 4}
UNIFORMS = (
    "u_model u_view u_proj u_joint_tex u_outline u_uvx u_uvanim u_time u_uvrot u_tex "
    "u_color u_shade u_rim u_emission u_shift u_toony u_cutoff u_outline_color u_light"
)


def fptr(a: NDArray[Any]) -> Any:
    """``a``'s data as the ``float*`` GL calls take (``a`` must be contiguous float32)."""
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def vptr(a: NDArray[Any]) -> ctypes.c_void_p:
    """``a``'s data as a ``void*`` (``a`` contiguous): without numpy's ``ctypes`` helper
    object, which costs several microseconds a call."""
    return ctypes.c_void_p(a.__array_interface__["data"][0])


class Mat4:
    """A 4x4 float32 matrix in memory of ctypes' own, so a glUniformMatrix4fv takes it as it is:
    the ``ctypes.data_as`` of a numpy array (the cost of ``fptr``) was the largest Python cost
    of a draw, for the three matrices sent per program and node."""

    def __init__(self) -> None:
        self.c = (ctypes.c_float * 16)()
        self.np: NDArray[np.float32] = np.frombuffer(memoryview(self.c), np.float32).reshape(4, 4)


class Programs:
    """The compiled kinds, the one in use, and the uniform values each program holds."""

    def __init__(self) -> None:
        self.by_kind: dict[Variant, ShaderProgram] = {}
        self.pid = 0  # the program in use (0: none yet this frame)
        self._locs: dict[int, dict[str, int]] = {}
        self._ucaches: dict[int, dict[str, tuple[float, ...]]] = {}
        #: Per program: the material uniforms' setters and current values (SLOTS order).
        self._setters: dict[int, list[tuple[Any, int]]] = {}
        self._slots: dict[int, list[tuple[float, ...] | None]] = {}
        #: Per program: (picture, node) whose matrix its u_model holds (:meth:`model_matrix`).
        self._model_of: dict[int, tuple[int, int]] = {}
        self._picture = 0
        self._view, self._proj, self._model = Mat4(), Mat4(), Mat4()
        self._t = 0.0

    def __bool__(self) -> bool:
        return bool(self.by_kind)

    def compile(self, kind: Variant) -> None:
        """The shaders for one kind of draw. Kinds get their own program, not a branch on a
        uniform: llvmpipe runs both sides of a uniform branch for every pixel (and vertex), and
        a shader that may ``discard`` turns off its early depth test - so untextured materials
        skip the texture fetch, only MASK materials pay for the discard, only skinned
        primitives for the joint fetches, and only the outline pass for its colour."""
        head = "#version 330 core\n"
        defines = (
            ("ALPHA_MASK", kind.mask),
            ("TEXTURED", kind.textured),
            ("ALPHA_BLEND", kind.blend),
            ("SHADE_TEXTURE", kind.shade_tex),
            ("OUTLINE_PASS", kind.outline),
            ("DOUBLE_SIDED", kind.double_sided),
        )
        frag = "".join(f"#define {name}\n" for name, on in defines if on)
        fragment = FRAGMENT.replace(head, head + frag, 1)
        vertex = VERTEX.replace(head, head + "#define SKINNED\n", 1) if kind.skinned else VERTEX
        try:
            prog = ShaderProgram(Shader(vertex, "vertex"), Shader(fragment, "fragment"))
        except Exception as e:  # GLSL compile/link errors come as pyglet's own types
            raise RendererError(f"3D shaders do not compile here: {e}") from e
        self.by_kind[kind] = prog
        self._ucaches[prog.id] = {}
        self._locs[prog.id] = loc = {
            n: gl.glGetUniformLocation(prog.id, n.encode()) for n in UNIFORMS.split()
        }
        self._setters[prog.id] = [
            (gl.glUniform1i if n in INT_UNIFORMS else _UNIFORM_F[_SIZES[n]], loc[n]) for n in SLOTS
        ]
        self._slots[prog.id] = [None] * len(SLOTS)

    def begin(self, view: NDArray[np.float32], proj: NDArray[np.float32], t: float) -> None:
        """A new picture: each program gets this camera and time when it is first used."""
        self.pid = 0
        self._picture += 1
        self._view.np[...] = view
        self._proj.np[...] = proj
        self._t = t

    def select(self, kind: Variant) -> None:
        """Make ``kind``'s program current (a no-op when it is)."""
        prog = self.by_kind[kind]
        if prog.id == self.pid:
            return
        prog.use()
        self.pid = prog.id
        loc = self._locs[self.pid]
        gl.glUniformMatrix4fv(loc["u_view"], 1, gl.GL_TRUE, self._view.c)
        gl.glUniformMatrix4fv(loc["u_proj"], 1, gl.GL_TRUE, self._proj.c)
        self.set("u_light", tuple(float(v) for v in LIGHT))
        self.set("u_time", (float(self._t),))
        self.set("u_tex", (0,))
        self.set("u_joint_tex", (1,))

    def model_matrix(self, node: int, m: NDArray[np.float32]) -> None:
        """The current program's ``u_model``: ``node``'s matrix ``m`` this picture (nova's
        face is 9 primitives of one node: the matrix is sent once)."""
        key = (self._picture, node)
        if self._model_of.get(self.pid) == key:
            return
        self._model_of[self.pid] = key
        self._model.np[...] = m
        gl.glUniformMatrix4fv(self._locs[self.pid]["u_model"], 1, gl.GL_TRUE, self._model.c)

    def material(self, values: Values) -> None:
        """Set the material uniforms of the program in use that differ from ``values``
        (consecutive draws mostly share all but their colours: a dict-cached set per uniform
        cost the frame ~0.5 ms a view in Python)."""
        cur = self._slots[self.pid]
        for i, (setter, v) in enumerate(zip(self._setters[self.pid], values, strict=True)):
            if cur[i] != v:
                cur[i] = v
                setter[0](setter[1], *v)

    def set(self, name: str, values: tuple[float, ...]) -> None:
        """Set a uniform of the program in use unless it already holds ``values`` (uniforms
        keep their values between frames): about half the GL calls of a frame are skipped."""
        cache = self._ucaches[self.pid]
        if cache.get(name) == values:
            return
        cache[name] = values
        loc = self._locs[self.pid][name]
        if name in INT_UNIFORMS:
            gl.glUniform1i(loc, int(values[0]))
        else:
            _UNIFORM_F[len(values)](loc, *(float(v) for v in values))

    def free(self) -> None:
        for prog in self.by_kind.values():
            prog.delete()
        self.by_kind = {}
        self.pid = 0
        self._locs, self._ucaches, self._setters, self._slots = {}, {}, {}, {}
        self._model_of = {}
