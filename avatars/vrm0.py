"""VRM 0.x MToon materials (``extensions.VRM.materialProperties``) as VRM 1.0 MToon values.

A VRM 0.x file keeps its toon shading outside the glTF material: a ``materialProperties`` entry
per material with Unity's ``VRM/MToon`` shader properties (colours in sRGB, a lit range from
``_ShadeShift``/``_ShadeToony``, outline width in centimetres). Without it a 0.x avatar loses
its shade colour, rim and outline and is shaded like a plain lit model (a dark half face).
:func:`mtoon_v1` turns an entry into the ``VRMC_materials_mtoon`` object of VRM 1.0, the one
:mod:`avatars.gltf` reads, following UniVRM's 0.x -> 1.0 migration (``MigrationMToon``,
``MToon10Migrator``), so both versions load through one path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: 0.x ``_OutlineWidthMode``: 0 none, 1 world (cm), 2 screen.
_OUTLINE_MODES = {1: "worldCoordinates", 2: "screenCoordinates"}


def srgb_to_linear(c: float) -> float:
    """One sRGB colour channel (0.x MToon colours) as linear (glTF and 1.0 factors)."""
    c = min(1.0, max(0.0, c))
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _number(props: Mapping[str, Any], key: str, default: float) -> float:
    v = props.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return default
    return float(v)


def _color(props: Mapping[str, Any], key: str) -> list[float] | None:
    """A 0.x sRGB colour property as 3 linear channels (None when absent or malformed)."""
    v = props.get(key)
    if not isinstance(v, list) or len(v) < 3:
        return None
    try:
        return [srgb_to_linear(float(c)) for c in v[:3]]
    except (TypeError, ValueError):
        return None


def shading_v1(toony0: float, shift0: float) -> tuple[float, float]:
    """0.x (``_ShadeToony``, ``_ShadeShift``) -> 1.0 (shadingToonyFactor, shadingShiftFactor).

    0.x lights a surface over the range [shift, lerp(1, shift, toony)] of N.L; 1.0's toony is
    the margin left by that range and its shift the range's centre, negated (UniVRM)."""
    lo, hi = shift0, 1.0 + (shift0 - 1.0) * toony0
    toony = min(1.0, max(0.0, (2.0 - (hi - lo)) * 0.5))
    shift = min(1.0, max(-1.0, -(hi + lo) * 0.5))
    return toony, shift


def mtoon_v1(entry: Any) -> tuple[dict[str, Any], list[float] | None]:
    """A 0.x ``materialProperties`` entry -> (1.0 MToon object, linear base colour or None).

    Returns ({}, None) for an entry that is not ``VRM/MToon`` (0.x also allows Unlit and
    Standard shaders, which the glTF material itself describes)."""
    if not isinstance(entry, dict) or entry.get("shader") != "VRM/MToon":
        return {}, None
    floats = entry.get("floatProperties")
    vectors = entry.get("vectorProperties")
    textures = entry.get("textureProperties")
    floats = floats if isinstance(floats, dict) else {}
    vectors = vectors if isinstance(vectors, dict) else {}
    textures = textures if isinstance(textures, dict) else {}
    toony, shift = shading_v1(
        _number(floats, "_ShadeToony", 0.9), _number(floats, "_ShadeShift", 0)
    )
    mt: dict[str, Any] = {
        "shadingToonyFactor": toony,
        "shadingShiftFactor": shift,
        "uvAnimationScrollXSpeedFactor": _number(floats, "_UvAnimScrollX", 0.0),
        # 0.x scrolls V the other way (Unity's texture origin is the bottom row).
        "uvAnimationScrollYSpeedFactor": -_number(floats, "_UvAnimScrollY", 0.0),
        "uvAnimationRotationSpeedFactor": _number(floats, "_UvAnimRotation", 0.0),
    }
    for key, name in (
        ("_ShadeColor", "shadeColorFactor"),
        ("_RimColor", "parametricRimColorFactor"),
        ("_OutlineColor", "outlineColorFactor"),
    ):
        c = _color(vectors, key)
        if c is not None:
            mt[name] = c
    if "_ShadeTexture" in textures:
        mt["shadeMultiplyTexture"] = {"index": textures["_ShadeTexture"]}
    mode = _OUTLINE_MODES.get(int(_number(floats, "_OutlineWidthMode", 0)))
    if mode is not None:
        mt["outlineWidthMode"] = mode
        mt["outlineWidthFactor"] = _number(floats, "_OutlineWidth", 0.0) * 0.01  # cm -> m
    base = _color(vectors, "_Color")
    if base is not None:
        alpha = vectors["_Color"][3] if len(vectors["_Color"]) > 3 else 1.0
        base.append(_number({"a": alpha}, "a", 1.0))
    return mt, base
