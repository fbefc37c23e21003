"""Arms and hands for the built-in avatars: one rig, drawn in each avatar's own style.

Every arm is three bone layers (FORMAT.md, "Bones"): ``upper_arm_<side>`` from the shoulder,
``forearm_<side>`` from the elbow and ``hand_<side>`` (the palm) from the wrist, each drawn
hanging straight down from its joint. Five finger layers hang from the palm's knuckles: a curl
shortens a finger toward its knuckle (a fist at 1), spread fans them. The palm faces the viewer
at rest, thumb on the outer side, so a hand raised beside the face shows its palm with the thumb
toward the head, as a wave does.

The arms hang far below the 512 canvas at rest, so each part is drawn near the top of the pen
and placed with :attr:`LayerSpec.shift`; only the upper arms show at rest (by the torso), the
rest comes into view when the arm is raised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .kit import Color, LayerSpec, Palette, Pen, Pt, b, catmull, shade

#: Where each part is drawn on the pen (its joint's y), before the shift puts it in place.
DRAW_Y = 24.0
#: Fingers from the thumb side: (name, position across the palm -1..1, length factor).
FINGER_LAYOUT = (("index", 0.72, 0.94), ("middle", 0.24, 1.0), ("ring", -0.24, 0.93),
                 ("pinky", -0.72, 0.76))  # fmt: skip
#: How far each finger turns (radians) when the hand is fully splayed from rest (spread 0.2).
SPREAD_TURN = {"index": 0.30, "middle": 0.09, "ring": -0.11, "pinky": -0.32}
#: A fully curled finger keeps this fraction of its length (what shows of a fist from the front).
CURLED = 0.3
REST_SPREAD = 0.2
#: Shoulders rise this many px at a full shrug; the torso leans by this factor of the roll.
SHRUG_PX = 16.0
ROLL_GAIN = 0.6
ROLL_LIMIT = 0.6

Paint = Callable[[Palette], Color]


@dataclass(frozen=True)
class ArmStyle:
    """One avatar's arms: where the shoulders are, how long and thick, which colours."""

    shoulder: Pt  # the subject's RIGHT shoulder joint (viewer's left); the left one mirrors it
    upper: float  # lengths, px
    forearm: float
    palm: float
    finger: float
    upper_w: float  # widths, px
    fore_w: float
    palm_w: float
    finger_w: float
    upper_paint: Paint
    fore_paint: Paint
    hand_paint: Paint
    ink: Color
    outline: float = 2.0
    upper_z: int = 6  # over the torso, under the head: a raised upper arm goes behind the hair
    front_z: int = 60  # forearm and hand: over everything (a hand raised by the face)
    #: Optional extra per part: called with (pen, palette, x, y0, y1, width) after the fill.
    detail: Callable[[Pen, Palette, str, float, float, float, float], None] | None = None


def _capsule(
    p: Pen, x: float, y0: float, y1: float, w: float, color: Color, ink: Color, ow: float
) -> None:
    """A vertical rounded limb with a cylinder-like shade across it."""
    paint = p.linear(shade(color, 0.18), shade(color, -0.28), x - w / 2, x + w / 2, x_axis=True)
    p.fill(p.stroke_mask([(x, y0), (x, y1)], w), paint, outline=ink, ow=ow)


def _sides(st: ArmStyle) -> list[tuple[str, str, float, float]]:
    """(layer suffix, parameter side, joint x, outward sign) per side; outward = away from the
    body on screen (+x for the subject's left, drawn on the viewer's right)."""
    rx = st.shoulder[0]
    return [("right", "Right", rx, -1.0), ("left", "Left", 512.0 - rx, 1.0)]


def arm_layers(st: ArmStyle) -> list[LayerSpec]:
    """The 16 arm and hand layers (8 per side), children of ``body``."""
    out: list[LayerSpec] = []
    for suffix, side, x, outward in _sides(st):
        out += _side_layers(st, suffix, side, x, outward)
    return out


def _side_layers(st: ArmStyle, suffix: str, side: str, x: float, outward: float) -> list[LayerSpec]:
    out: list[LayerSpec] = []
    sy = st.shoulder[1]
    elbow_y = sy + st.upper
    wrist_y = elbow_y + st.forearm
    knuckle_y = wrist_y + st.palm * 0.92

    def part(name: str, y0: float, y1: float, w: float, paint: Paint) -> Callable[..., None]:
        def draw(p: Pen, c: Palette) -> None:
            _capsule(p, x, DRAW_Y, DRAW_Y + (y1 - y0), w, paint(c), st.ink, st.outline)
            if st.detail:
                st.detail(p, c, name, x, DRAW_Y, DRAW_Y + (y1 - y0), w)

        return draw

    def palm(p: Pen, c: Palette) -> None:
        w, h = st.palm_w, st.palm
        top = DRAW_Y
        pts = [
            (x - w * 0.42, top),
            (x + w * 0.42, top),
            (x + w * 0.5, top + h * 0.55),
            (x + w * 0.46, top + h),
            (x - w * 0.46, top + h),
            (x - w * 0.5, top + h * 0.55),
        ]
        col = st.hand_paint(c)
        paint = p.linear(shade(col, 0.12), shade(col, -0.2), x - w / 2, x + w / 2, x_axis=True)
        p.shape(catmull(pts, steps=8), paint, outline=st.ink, ow=st.outline)
        if st.detail:
            st.detail(p, c, "palm", x, top, top + h, w)

    def finger(fx: float, length: float, w: float) -> Callable[[Pen, Palette], None]:
        def draw(p: Pen, c: Palette) -> None:
            top = DRAW_Y + st.palm * 0.92
            _capsule(p, fx, top, top + length, w, st.hand_paint(c), st.ink, st.outline)

        return draw

    def thumb(p: Pen, c: Palette) -> None:
        ax, ay = x + outward * st.palm_w * 0.42, DRAW_Y + st.palm * 0.3
        length = st.finger * 0.85
        end = (ax + outward * length * 0.45, ay + length * 0.85)
        col = st.hand_paint(c)
        mask = p.stroke_mask([(ax, ay), end], st.finger_w * 1.1)
        p.fill(mask, col, outline=st.ink, ow=st.outline)

    shrug = [b(f"shoulderShrug{side}", "offset_y", -SHRUG_PX, lo=0, hi=1)]
    out.append(
        LayerSpec(
            f"upper_arm_{suffix}",
            part("upper", sy, elbow_y, st.upper_w, st.upper_paint),
            parent="body",
            pivot=(x, sy),
            z=st.upper_z,
            bindings=shrug,
            shift=(0.0, sy - DRAW_Y),
            bone={"driver": f"upperArm{side}", "foreshorten": 0.8},
        )
    )
    out.append(
        LayerSpec(
            f"forearm_{suffix}",
            part("forearm", elbow_y, wrist_y, st.fore_w, st.fore_paint),
            parent=f"upper_arm_{suffix}",
            pivot=(x, elbow_y),
            z=st.front_z,
            shift=(0.0, elbow_y - DRAW_Y),
            bone={"driver": f"forearm{side}", "foreshorten": 0.8},
        )
    )
    hand_shift = (0.0, wrist_y - DRAW_Y)
    out.append(
        LayerSpec(
            f"hand_{suffix}",
            palm,
            parent=f"forearm_{suffix}",
            pivot=(x, wrist_y),
            z=st.front_z + 2,
            shift=hand_shift,
            bone={"driver": f"hand{side}", "foreshorten": 0.6},
        )
    )
    for name, across, factor in FINGER_LAYOUT:
        fx = x + outward * across * st.palm_w * 0.36
        out.append(
            LayerSpec(
                f"{name}_{suffix}",
                finger(fx, st.finger * factor, st.finger_w),
                parent=f"hand_{suffix}",
                pivot=(fx, knuckle_y),
                z=st.front_z + 1,
                shift=hand_shift,
                bindings=[
                    b(f"{name}Curl{side}", "scale_y", -(1 - CURLED), lo=0, hi=1),
                    b(
                        f"fingerSpread{side}",
                        "rotate",
                        -outward * SPREAD_TURN[name] / 0.8,
                        offset=-REST_SPREAD,
                        lo=0,
                        hi=1,
                    ),
                ],
            )
        )
    tx, ty = x + outward * st.palm_w * 0.42, wrist_y + st.palm * 0.3
    out.append(
        LayerSpec(
            f"thumb_{suffix}",
            thumb,
            parent=f"hand_{suffix}",
            pivot=(tx, ty),
            z=st.front_z + 3,  # over the palm: a curled thumb folds across it
            shift=hand_shift,
            bindings=[
                # curling folds the thumb in across the palm and shortens it
                b(f"thumbCurl{side}", "rotate", 0.9 * outward, lo=0, hi=1),
                b(f"thumbCurl{side}", "scale_y", -0.4, lo=0, hi=1),
                b(
                    f"fingerSpread{side}",
                    "rotate",
                    -0.3 * outward,
                    offset=-REST_SPREAD,
                    lo=0,
                    hi=1,
                ),
            ],
        )
    )
    return out


def torso_bindings() -> list[dict[str, Any]]:
    """The body leans with the torso roll (+ = toward the subject's left: clockwise about the
    body's pivot at the bottom of the canvas)."""
    return [b("torsoRoll", "rotate", ROLL_GAIN, lo=-ROLL_LIMIT, hi=ROLL_LIMIT)]


def with_arms(layers: list[LayerSpec], style: ArmStyle) -> list[LayerSpec]:
    """``layers`` plus the arms, with the torso roll bound on the ``body`` layer."""
    for ls in layers:
        if ls.id == "body":
            ls.bindings = [*ls.bindings, *torso_bindings()]
    return [*layers, *arm_layers(style)]
