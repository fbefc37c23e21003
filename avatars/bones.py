"""Bone layers (FORMAT.md, "Bones"): checking a ``[layers.bone]`` table and posing a pack.

A bone is a layer that follows one tracked arm segment. Its rotation is not a linear binding
(an angle is relative to whichever bone it hangs from, and the drawn length shrinks when the
segment points at the camera), so posing needs the parent chain: :func:`pose_layers` is the
one implementation the GPU renderer and the software compositor both call, so the two cannot
drift apart.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

from avatars.model import Bone, Layer
from avatars.params import BONE_DRIVERS

#: A 2x3 affine matrix (a, b, tx, c, d, ty): x' = a*x + b*y + tx, y' = c*x + d*y + ty.
Mat = tuple[float, float, float, float, float, float]
IDENTITY: Mat = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
#: A segment pointing straight at the camera still shows its joint end: never shorter than this.
MIN_STRETCH = 0.2
BONE_KEYS = {"driver", "foreshorten"}


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _suggest(name: str, choices: Any) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- validation ----------------------------------------------------------------------------------
def check_bone(
    where: str,
    t: Any,
    pos: tuple[float, float] | None,
    pivot: tuple[float, float] | None,
    size: tuple[int, int] | None,
) -> tuple[Bone | None, list[str]]:
    """A layer's ``[layers.bone]`` table and its problems: a known driver, foreshorten in 0..1
    and a pivot (the joint) on the layer's image, since the image hangs from it."""
    if t is None:
        return None, []
    if not isinstance(t, dict):
        return None, [f"{where}: 'bone' must be a table ([layers.bone]), got {t!r}"]
    problems = [
        f"{where} bone: unknown key {key!r}{_suggest(key, BONE_KEYS)}"
        for key in t
        if key not in BONE_KEYS
    ]
    driver = t.get("driver")
    if not isinstance(driver, str) or driver not in BONE_DRIVERS:
        problems.append(
            f"{where} bone: unknown driver {driver!r}{_suggest(str(driver), BONE_DRIVERS)} "
            f"(drivers: {', '.join(BONE_DRIVERS)})"
        )
    fs = t.get("foreshorten", 1.0)
    if not _num(fs) or not 0.0 <= fs <= 1.0:
        problems.append(f"{where} bone: foreshorten must be a number in 0..1, got {fs!r}")
    if pos is not None and pivot is not None and size:
        x0, y0 = pos
        x1, y1 = x0 + size[0], y0 + size[1]
        if not (x0 <= pivot[0] <= x1 and y0 <= pivot[1] <= y1):
            problems.append(
                f"{where} bone: pivot {list(pivot)} (the joint) is outside the layer's image, "
                f"which covers x {x0:g}..{x1:g}, y {y0:g}..{y1:g} on the canvas; a bone's "
                "image hangs from its pivot"
            )
    if problems:
        return None, problems
    return Bone(driver=str(driver), foreshorten=float(fs)), []


def _side(driver: str) -> str:
    return "Left" if driver.endswith("Left") else "Right"


def check_bone_chains(
    manifest: str, layers: Sequence[Layer], by_id: Mapping[str, Layer]
) -> list[str]:
    """A bone under a bone of the other arm would turn by one arm's angle relative to the
    other's: always a rigging slip (``forearm_left`` parented to ``upper_arm_right``)."""
    problems: list[str] = []
    for layer in layers:
        if layer.bone is None:
            continue
        cur, seen = layer.parent, {layer.id}
        while cur is not None and cur in by_id and cur not in seen:  # cycles: reported apart
            seen.add(cur)
            up = by_id[cur]
            if up.bone is not None:
                if _side(layer.bone.driver) != _side(up.bone.driver):
                    problems.append(
                        f"{manifest} layer {layer.id!r}: bone driven by {layer.bone.driver!r} "
                        f"hangs from bone {up.id!r} driven by {up.bone.driver!r}; a bone chain "
                        "follows one arm"
                    )
                break
            cur = up.parent
    return problems


# -- posing --------------------------------------------------------------------------------------
def bone_angle(bone: Bone, params: Mapping[str, float]) -> float:
    """The on-screen rotation (radians, + = clockwise) that turns the hanging image to the
    segment's direction: + angle swings toward the subject's left, the viewer's right, which
    is counter-clockwise from hanging."""
    return -float(params.get(BONE_DRIVERS[bone.driver][0], 0.0))


def bone_stretch(bone: Bone, params: Mapping[str, float]) -> float:
    """Length factor along the bone: the projected length of a unit segment whose forward
    component is ``forward``, blended by ``foreshorten``; a missing parameter is rest (1)."""
    f = float(params.get(BONE_DRIVERS[bone.driver][1], 0.0))
    f = max(-1.0, min(1.0, f))
    projected = math.sqrt(1.0 - f * f)
    return max(MIN_STRETCH, 1.0 - bone.foreshorten * (1.0 - projected))


def local_mat(
    pivot: tuple[float, float],
    offset: tuple[float, float],
    rotate: float,
    scale: tuple[float, float],
) -> Mat:
    """Scale about the pivot, rotate about it (clockwise on screen), then offset (FORMAT.md)."""
    px, py = pivot
    cos, sin = math.cos(rotate), math.sin(rotate)
    sx, sy = scale
    a, b, c, d = cos * sx, -sin * sy, sin * sx, cos * sy
    return (a, b, px + offset[0] - (a * px + b * py), c, d, py + offset[1] - (c * px + d * py))


def mul(p: Mat, m: Mat) -> Mat:
    """``p @ m`` for 2x3 affine matrices."""
    pa, pb, ptx, pc, pd, pty = p
    a, b, tx, c, d, ty = m
    return (
        pa * a + pb * c,
        pa * b + pb * d,
        pa * tx + pb * ty + ptx,
        pc * a + pd * c,
        pc * b + pd * d,
        pc * tx + pd * ty + pty,
    )


def apply(m: Mat, x: float, y: float) -> tuple[float, float]:
    return (m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5])
