"""The 3D renderer's material uniforms: each material's values for the toon shader, worked out
once at load; only the ones a VRM expression can bind (colours, texture scale and offset) are
recomputed, and only for a material this frame's binds touch.

Building them per draw from the material's fields cost the render loop about a third of its
Python time (two avatars, ~16 draws each, ~16 uniforms a draw, every frame).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: (name, values) for ``Gltf3DRenderer._set``: floats, or one int for an int uniform.
Pairs = list[tuple[str, tuple[float, ...]]]

#: Which uniform each bindable material colour sets (VRM materialColorBinds types), with the
#: number of its components the shader takes.
COLOR_BINDS = (
    ("color", "u_color", 4),
    ("shadeColor", "u_shade", 3),
    ("rimColor", "u_rim", 3),
    ("emissionColor", "u_emission", 3),
    ("outlineColor", "u_outline_color", 3),
)
ALPHA_MODES = {"OPAQUE": 0, "MASK": 1, "BLEND": 2}
#: Every material uniform, in the order :meth:`MaterialUniforms.values` gives them: the
#: renderer keeps each program's current values in this order and sets only those that differ.
SLOTS = (
    *("u_uvanim", "u_uvrot", "u_cutoff", "u_shift", "u_toony"),
    *("u_color", "u_shade", "u_rim", "u_emission", "u_outline_color", "u_uvx"),
)
Values = tuple[tuple[float, ...], ...]

#: A primitive without a material: white, plainly shaded.
DEFAULT: Pairs = [
    ("u_uvx", (1.0, 1.0, 0.0, 0.0)),
    ("u_uvanim", (0.0, 0.0, 0.0)),
    ("u_uvrot", (0.0,)),
    ("u_cutoff", (0.5,)),
    ("u_color", (1.0, 1.0, 1.0, 1.0)),
    ("u_shade", (0.6, 0.6, 0.6)),
    ("u_rim", (0.0, 0.0, 0.0)),
    ("u_emission", (0.0, 0.0, 0.0)),
    ("u_outline_color", (0.0, 0.0, 0.0)),
    ("u_shift", (0.0,)),
    ("u_toony", (0.9,)),
]


def _floats(values: Sequence[Any]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


class MaterialUniforms:
    """The shader's per-material uniforms of a model's materials."""

    def __init__(self, materials: Sequence[Any]) -> None:
        self._static: list[Pairs] = []
        #: Per material: the bindable colours at rest, RGBA (shader takes the first n).
        self._colors: list[dict[str, tuple[float, ...]]] = []
        self._uv: list[tuple[float, float, float, float]] = []
        for mat in materials:
            self._static.append(
                [
                    ("u_uvanim", _floats((*mat.uv_scroll, mat.uv_rotation_speed))),
                    ("u_uvrot", (float(mat.tex_rotation),)),
                    ("u_cutoff", (float(mat.alpha_cutoff),)),
                    ("u_shift", (float(mat.shading_shift),)),
                    ("u_toony", (float(mat.shading_toony),)),
                ]
            )
            self._colors.append(
                {
                    "color": _floats(mat.base_color),
                    "shadeColor": _floats((*mat.shade_color, 1.0)),
                    "rimColor": _floats((*mat.rim_color, 1.0)),
                    "emissionColor": _floats((*mat.emission, 1.0)),
                    "outlineColor": _floats((*mat.outline_color, 1.0)),
                }
            )
            sx, sy = mat.tex_scale
            ox, oy = mat.tex_offset
            self._uv.append((float(sx), float(sy), float(ox), float(oy)))
        self._rest: list[Pairs] = [self._bound(mi, None) for mi in range(len(materials))]
        self._rest_values = [_ordered(p) for p in self._rest]
        self._default_values = _ordered(DEFAULT)

    def values(self, mi: int, binds: Any) -> Values:
        """:meth:`pairs` as values in :data:`SLOTS` order; the very same tuple every frame
        for a material no bind touches, so the renderer can skip it by identity."""
        if not 0 <= mi < len(self._static):
            return self._default_values
        if self._touched(mi, binds):
            return _ordered(self._bound(mi, binds))
        return self._rest_values[mi]

    def pairs(self, mi: int, binds: Any) -> Pairs:
        """The uniforms of material ``mi`` (-1 or out of range: none) under this frame's
        expression ``binds`` (``avatars.vrm`` colour and texture-transform binds)."""
        if not 0 <= mi < len(self._static):
            return DEFAULT
        return self._bound(mi, binds) if self._touched(mi, binds) else self._rest[mi]

    @staticmethod
    def _touched(mi: int, binds: Any) -> bool:
        return bool(
            mi in binds.tex_scale
            or mi in binds.tex_offset
            or any((mi, kind) in binds.colors for kind, _, _ in COLOR_BINDS)
        )

    def _bound(self, mi: int, binds: Any) -> Pairs:
        out = list(self._static[mi])
        for kind, name, n in COLOR_BINDS:
            base = self._colors[mi][kind]
            delta = binds.colors.get((mi, kind)) if binds is not None else None
            if delta is not None:  # a bind adds to the colour, clamped to 0..1
                base = tuple(
                    min(max(b + float(dv), 0.0), 1.0) for b, dv in zip(base, delta, strict=True)
                )
            out.append((name, base[:n]))
        sx, sy, ox, oy = self._uv[mi]
        if binds is not None:
            dsx, dsy = binds.tex_scale.get(mi, (0.0, 0.0))
            dox, doy = binds.tex_offset.get(mi, (0.0, 0.0))
            sx, sy, ox, oy = sx + float(dsx), sy + float(dsy), ox + float(dox), oy + float(doy)
        out.append(("u_uvx", (sx, sy, ox, oy)))
        return out


def _ordered(pairs: Pairs) -> Values:
    d = dict(pairs)
    return tuple(d[name] for name in SLOTS)
