"""Mochi: a stylised squishy rice-cake blob on a cushion; three flavours with toppings."""

from __future__ import annotations

import math

from . import rig
from .arms import ArmStyle, with_arms
from .kit import (
    AvatarSpec,
    LayerSpec,
    Palette,
    Pen,
    VariantSpec,
    angle_pts,
    catmull,
    hexc,
    shade,
)

EYE_Y = 294
EYES = {"Right": 204.0, "Left": 308.0}
MOUTH_Y = 340
INK = hexc("3a2a30")


ARMS = ArmStyle(
    shoulder=(112, 352), upper=40, forearm=38, palm=30, finger=12,
    upper_w=34, fore_w=32, palm_w=38, finger_w=12,
    upper_paint=lambda c: c["dough"], fore_paint=lambda c: c["dough"],
    hand_paint=lambda c: c["dough"], ink=INK, upper_z=11,
)  # fmt: skip


def body(p: Pen, c: Palette) -> None:
    p.soft(p.ellipse_mask(256, 476, 190, 26), hexc("000000", 70), 8)
    cushion = catmull(
        [
            (70, 452),
            (150, 420),
            (256, 414),
            (362, 420),
            (442, 452),
            (430, 492),
            (256, 508),
            (82, 492),
        ],
        steps=10,
    )
    p.shape(
        cushion, p.linear(c["cushion"], shade(c["cushion"], -0.35), 414, 508), outline=INK, ow=2
    )
    for x in (120, 392):
        p.ellipse(x, 452, 10, 6, shade(c["cushion"], 0.35))


def head(p: Pen, c: Palette) -> None:
    pts = [
        (256, 152),
        (350, 168),
        (414, 238),
        (428, 330),
        (392, 410),
        (256, 440),
        (120, 410),
        (84, 330),
        (98, 238),
        (162, 168),
    ]
    grad = p.radial(shade(c["dough"], 0.6), shade(c["dough"], -0.12), 200, 210, 300, 300)
    p.shape(catmull(pts), grad, outline=shade(c["dough"], -0.5), ow=2.5)
    p.soft(p.ellipse_mask(190, 206, 40, 20), hexc("ffffff", 200), 10)


def topping(p: Pen, c: Palette) -> None:
    kind = c["topping"]
    if kind == "leaf":
        leaf = catmull([(256, 158), (300, 120), (352, 112), (330, 150), (280, 166)])
        p.shape(leaf, p.linear(hexc("7cc25a"), hexc("3f8a3a"), 110, 166), outline=INK, ow=2)
        p.stroke(catmull([(262, 158), (300, 136), (344, 116)], closed=False), hexc("2f6a2a"), 2)
    elif kind == "flower":
        cx, cy = 300, 150
        for k in range(5):
            a = math.radians(k * 72 - 90)
            px, py = cx + 16 * math.cos(a), cy + 16 * math.sin(a)
            p.ellipse(
                px,
                py,
                13,
                13,
                p.radial(hexc("fff0f5"), hexc("ff8fb0"), px, py, 14),
                outline=INK,
                ow=1.5,
            )
        p.ellipse(cx, cy, 7, 7, hexc("ffd84a"), outline=INK, ow=1)
    elif kind == "sprout":
        p.stroke(catmull([(256, 160), (252, 130), (258, 108)], closed=False), hexc("3f8a3a"), 5)
        for s in (-1, 1):
            leaf = catmull(
                [(258, 110), (258 + s * 22, 88), (258 + s * 44, 92), (258 + s * 26, 112)]
            )
            p.shape(leaf, p.linear(hexc("9ad86a"), hexc("4f9a3a"), 86, 114), outline=INK, ow=2)


def face(p: Pen, c: Palette) -> None:
    for x in (170, 342):
        p.soft(p.ellipse_mask(x, 334, 26, 14), hexc("ff6f8d", 130), 7)
        for dx in (-8, 0, 8):
            p.stroke([(x + dx - 2, 336), (x + dx + 3, 328)], hexc("ff6f8d", 160), 1.6)


def eye_white(side: str) -> LayerSpec:
    cx = EYES[side]

    def draw(p: Pen, c: Palette) -> None:
        p.ellipse(cx, EYE_Y, 17, 21, hexc("ffffff"), outline=INK, ow=3)

    return LayerSpec(
        f"eye_{side.lower()}", draw, parent="face", pivot=(cx, EYE_Y), z=20, bindings=rig.eye(side)
    )


def iris(side: str) -> LayerSpec:
    cx = EYES[side]

    def draw(p: Pen, c: Palette) -> None:
        clip = p.ellipse_mask(cx, EYE_Y, 17, 21)
        p.ellipse(
            cx,
            EYE_Y + 2,
            13,
            17,
            p.linear(hexc("3a2a3a"), c["eyes"], EYE_Y - 14, EYE_Y + 19),
            clip=clip,
        )
        p.ellipse(cx - 5, EYE_Y - 6, 5, 6, hexc("ffffff"), clip=clip)
        p.ellipse(cx + 5, EYE_Y + 9, 2.5, 2.5, hexc("ffffff", 200), clip=clip)

    return LayerSpec(
        f"iris_{side.lower()}",
        draw,
        parent=f"eye_{side.lower()}",
        pivot=(cx, EYE_Y),
        z=21,
        bindings=rig.iris(4, 4),
    )


def lid(side: str) -> LayerSpec:
    cx = EYES[side]

    def draw(p: Pen, c: Palette) -> None:
        p.stroke(angle_pts(cx, EYE_Y + 8, 17, 12, 200, 340, 16), INK, 4.5)

    return LayerSpec(
        f"lid_{side.lower()}",
        draw,
        parent="face",
        pivot=(cx, EYE_Y),
        z=23,
        bindings=rig.closed_lid(side),
    )


def brow(side: str) -> LayerSpec:
    cx = EYES[side]
    s = -1 if side == "Right" else 1

    def draw(p: Pen, c: Palette) -> None:
        p.stroke([(cx - s * 10, EYE_Y - 38), (cx + s * 8, EYE_Y - 40)], hexc("5a4048"), 5)

    return LayerSpec(
        f"brow_{side.lower()}",
        draw,
        parent="face",
        pivot=(cx, EYE_Y - 39),
        z=24,
        bindings=rig.brow(side, lift=9, drop=6),
    )


def mouth(p: Pen, c: Palette) -> None:
    p.stroke(
        catmull(
            [
                (236, MOUTH_Y - 3),
                (246, MOUTH_Y + 3),
                (256, MOUTH_Y - 1),
                (266, MOUTH_Y + 3),
                (276, MOUTH_Y - 3),
            ],
            closed=False,
            steps=8,
        ),
        INK,
        3.2,
    )


def mouth_inner(p: Pen, c: Palette) -> None:
    pts = catmull(
        [
            (238, MOUTH_Y),
            (256, MOUTH_Y - 1),
            (274, MOUTH_Y),
            (270, MOUTH_Y + 16),
            (256, MOUTH_Y + 24),
            (242, MOUTH_Y + 16),
        ]
    )
    clip = p.poly_mask(pts)
    p.shape(pts, hexc("6a1a2a"), outline=INK, ow=2.5)
    p.ellipse(256, MOUTH_Y + 22, 12, 9, hexc("ff7f95"), clip=clip)


def lip_lower(p: Pen, c: Palette) -> None:
    p.stroke(
        catmull([(244, MOUTH_Y + 2), (256, MOUTH_Y + 5), (268, MOUTH_Y + 2)], closed=False),
        shade(c["dough"], -0.45),
        2.4,
    )


def spec() -> AvatarSpec:
    base: Palette = {"eyes": hexc("6a4a6a")}
    top_binds = [
        *rig.parallax(-6, -10),
        rig.b("headRoll", "rotate", -0.4, lo=-0.8, hi=0.8),
        rig.b("breath", "rotate", 0.05, lo=-1, hi=1),
    ]
    layers = [
        LayerSpec("body", body, pivot=(256, 512), z=5),
        LayerSpec(
            "head",
            head,
            parent="body",
            pivot=(256, 430),
            z=10,
            bindings=[
                *rig.head(34, 22, 0.8),
                rig.b("breath", "scale_y", 0.015, lo=-1, hi=1),
                rig.b("breath", "scale_x", -0.01, lo=-1, hi=1),
            ],
        ),
        LayerSpec("topping", topping, parent="head", pivot=(256, 160), z=14, bindings=top_binds),
        LayerSpec(
            "face", face, parent="head", pivot=(256, 320), z=12, bindings=rig.parallax(30, 18)
        ),
        eye_white("Right"),
        eye_white("Left"),
        iris("Right"),
        iris("Left"),
        lid("Right"),
        lid("Left"),
        brow("Right"),
        brow("Left"),
        LayerSpec(
            "mouth",
            mouth,
            parent="face",
            pivot=(256, MOUTH_Y),
            z=28,
            mesh=(8, 2),
            group="mouth",
            bindings=[*rig.mouth_group(), *rig.smile_warp(11)],
        ),
        LayerSpec(
            "mouth_inner",
            mouth_inner,
            parent="mouth",
            pivot=(256, MOUTH_Y),
            z=26,
            mesh=(8, 2),
            group="mouth",
            bindings=rig.mouth_inner(11),
        ),
        LayerSpec(
            "lip_lower",
            lip_lower,
            parent="mouth",
            pivot=(256, MOUTH_Y),
            z=27,
            mesh=(8, 2),
            group="mouth",
            bindings=rig.lower_lip(20, 11),
        ),
    ]
    variants = [
        VariantSpec(
            "classic",
            "Classic",
            {"dough": hexc("fbf3ea"), "cushion": hexc("d0473e"), "topping": "leaf"},
        ),
        VariantSpec(
            "sakura",
            "Sakura",
            {"dough": hexc("ffcfdc"), "cushion": hexc("6a8fd0"), "topping": "flower"},
        ),
        VariantSpec(
            "matcha",
            "Matcha",
            {
                "dough": hexc("c4e3a4"),
                "cushion": hexc("b88a4a"),
                "topping": "sprout",
                "eyes": hexc("2a5a3a"),
            },
        ),
    ]
    return AvatarSpec("mochi", "Mochi", with_arms(layers, ARMS), variants, base)
