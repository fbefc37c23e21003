"""Bolt: a robot with a metal head, antenna, LED eyes and a grille mouth; three paint jobs."""

from __future__ import annotations

from PIL import Image

from . import rig
from .arms import ArmStyle, with_arms
from .kit import (
    AvatarSpec,
    LayerSpec,
    Palette,
    Pen,
    Pt,
    VariantSpec,
    catmull,
    hexc,
    shade,
)

EYE_Y = 236
EYES = {"Right": 200.0, "Left": 312.0}
MOUTH_Y = 318
INK = hexc("1c2026")


ARMS = ArmStyle(
    shoulder=(132, 450), upper=80, forearm=76, palm=46, finger=30,
    upper_w=34, fore_w=30, palm_w=52, finger_w=13,
    upper_paint=lambda c: c["paint"], fore_paint=lambda c: shade(c["paint"], -0.15),
    hand_paint=lambda c: hexc("6c737c"), ink=INK, outline=2.5,
)  # fmt: skip


def rrect(x0: float, y0: float, x1: float, y1: float, r: float) -> list[Pt]:
    """A rounded rectangle as a polygon (corner radius r)."""
    from .kit import angle_pts

    return (
        angle_pts(x1 - r, y0 + r, r, r, -90, 0, 8)
        + angle_pts(x1 - r, y1 - r, r, r, 0, 90, 8)
        + angle_pts(x0 + r, y1 - r, r, r, 90, 180, 8)
        + angle_pts(x0 + r, y0 + r, r, r, 180, 270, 8)
    )


def metal(p: Pen, c: Palette, y0: float, y1: float) -> Image.Image:
    return p.linear(shade(c["paint"], 0.35), shade(c["paint"], -0.35), y0, y1)


def body(p: Pen, c: Palette) -> None:
    p.shape(
        rrect(226, 360, 286, 430, 6),
        p.linear(hexc("6c737c"), hexc("3a3f46"), 226, 286, x_axis=True),
        outline=INK,
        ow=2,
    )
    for y in (374, 392, 410):
        p.stroke([(228, y), (284, y)], hexc("2a2e34"), 2)
    torso = catmull(
        [(70, 530), (84, 456), (150, 420), (256, 410), (362, 420), (428, 456), (442, 530)], steps=10
    )
    p.shape(torso, metal(p, c, 410, 512), outline=INK, ow=2.5)
    p.shape(rrect(200, 448, 312, 500, 10), hexc("20252c"), outline=shade(c["paint"], -0.5), ow=2)
    for i, col in enumerate(("ff5a5a", "ffd23c", "5aff8a")):
        p.ellipse(226 + i * 30, 474, 8, 8, hexc(col), outline=INK, ow=1.5)
    for x in (116, 396):
        p.ellipse(x, 470, 6, 6, shade(c["paint"], -0.3), outline=INK, ow=1)


def antenna(p: Pen, c: Palette) -> None:
    p.stroke([(256, 120), (256, 60)], hexc("5c636c"), 6)
    p.ellipse(256, 52, 14, 14, p.radial(hexc("ffffff"), c["led2"], 251, 47, 16), outline=INK, ow=2)
    p.shape(rrect(236, 112, 276, 128, 5), metal(p, c, 112, 128), outline=INK, ow=2)


def head(p: Pen, c: Palette) -> None:
    for x in (118, 394):
        p.shape(rrect(x - 18, 220, x + 18, 300, 10), metal(p, c, 220, 300), outline=INK, ow=2)
        p.ellipse(x, 260, 8, 8, shade(c["paint"], -0.4), outline=INK, ow=1)
    p.shape(rrect(128, 124, 384, 372, 56), metal(p, c, 124, 372), outline=INK, ow=3)
    p.stroke([(168, 140), (344, 140)], hexc("ffffff", 110), 4)
    for x, y in ((150, 150), (362, 150), (150, 346), (362, 346)):
        p.ellipse(x, y, 5, 5, shade(c["paint"], -0.25), outline=shade(c["paint"], -0.6), ow=1)


def face(p: Pen, c: Palette) -> None:
    p.shape(
        rrect(154, 184, 358, 350, 36),
        p.linear(hexc("232a33"), hexc("0e1217"), 184, 350),
        outline=shade(c["paint"], -0.55),
        ow=3,
    )
    p.stroke([(184, 196), (320, 196)], hexc("ffffff", 40), 3)


def eye_white(side: str) -> LayerSpec:
    cx = EYES[side]

    def draw(p: Pen, c: Palette) -> None:
        p.soft(p.ellipse_mask(cx, EYE_Y, 30, 30), (*c["led"][:3], 120), 8)
        p.ellipse(
            cx,
            EYE_Y,
            25,
            25,
            p.radial(shade(c["led"], -0.55), shade(c["led"], -0.8), cx, EYE_Y, 25),
            outline=c["led"],
            ow=3,
        )

    return LayerSpec(
        f"eye_{side.lower()}", draw, parent="face", pivot=(cx, EYE_Y), z=20, bindings=rig.eye(side)
    )


def iris(side: str) -> LayerSpec:
    cx = EYES[side]

    def draw(p: Pen, c: Palette) -> None:
        p.soft(p.ellipse_mask(cx, EYE_Y, 13, 13), c["led"], 5)
        p.ellipse(cx, EYE_Y, 11, 11, p.radial(hexc("ffffff"), c["led"], cx - 3, EYE_Y - 3, 12))

    return LayerSpec(
        f"iris_{side.lower()}",
        draw,
        parent=f"eye_{side.lower()}",
        pivot=(cx, EYE_Y),
        z=21,
        bindings=rig.iris(9, 8),
    )


def lid(side: str) -> LayerSpec:
    cx = EYES[side]

    def draw(p: Pen, c: Palette) -> None:
        p.soft(p.stroke_mask([(cx - 24, EYE_Y), (cx + 24, EYE_Y)], 8), c["led"], 4)
        p.stroke([(cx - 24, EYE_Y), (cx + 24, EYE_Y)], shade(c["led"], 0.5), 5)

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

    def draw(p: Pen, c: Palette) -> None:
        p.shape(rrect(cx - 24, EYE_Y - 44, cx + 24, EYE_Y - 36, 4), c["led2"])

    return LayerSpec(
        f"brow_{side.lower()}",
        draw,
        parent="face",
        pivot=(cx, EYE_Y - 40),
        z=24,
        bindings=rig.brow(side, lift=10, drop=8),
    )


def mouth(p: Pen, c: Palette) -> None:
    p.shape(rrect(206, MOUTH_Y - 12, 306, MOUTH_Y, 6), hexc("2c333c"), outline=hexc("56606c"), ow=2)
    for x in range(216, 300, 12):
        p.stroke([(x, MOUTH_Y - 8), (x, MOUTH_Y - 3)], hexc("0c0f12"), 3)


def mouth_inner(p: Pen, c: Palette) -> None:
    p.shape(rrect(208, MOUTH_Y - 2, 304, MOUTH_Y + 24, 6), hexc("06080a"))
    heights = (6, 12, 18, 14, 20, 10, 16, 8)
    for i, h in enumerate(heights):
        x = 216 + i * 11.5
        p.shape(rrect(x - 4, MOUTH_Y + 11 - h / 2, x + 4, MOUTH_Y + 11 + h / 2, 2), c["led"])


def lip_lower(p: Pen, c: Palette) -> None:
    p.shape(rrect(206, MOUTH_Y, 306, MOUTH_Y + 12, 6), hexc("2c333c"), outline=hexc("56606c"), ow=2)
    for x in range(216, 300, 12):
        p.stroke([(x, MOUTH_Y + 3), (x, MOUTH_Y + 8)], hexc("0c0f12"), 3)


def spec() -> AvatarSpec:
    base: Palette = {}
    antenna_binds = [
        *rig.parallax(-10, -8),
        rig.b("headRoll", "rotate", -0.5, lo=-0.8, hi=0.8),
        rig.b("breath", "rotate", 0.04, lo=-1, hi=1),
    ]
    layers = [
        LayerSpec("body", body, pivot=(256, 512), z=5, bindings=rig.body()),
        LayerSpec("head", head, parent="body", pivot=(256, 400), z=10, bindings=rig.head(36, 24)),
        LayerSpec("antenna", antenna, parent="head", pivot=(256, 124), z=8, bindings=antenna_binds),
        LayerSpec(
            "face", face, parent="head", pivot=(256, 270), z=12, bindings=rig.parallax(22, 14)
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
            bindings=[*rig.mouth_group(), *rig.smile_warp(10)],
        ),
        LayerSpec(
            "mouth_inner",
            mouth_inner,
            parent="mouth",
            pivot=(256, MOUTH_Y - 2),
            z=26,
            mesh=(8, 2),
            group="mouth",
            bindings=rig.mouth_inner(10),
        ),
        LayerSpec(
            "lip_lower",
            lip_lower,
            parent="mouth",
            pivot=(256, MOUTH_Y),
            z=27,
            mesh=(8, 2),
            group="mouth",
            bindings=rig.lower_lip(24, 10),
        ),
    ]
    variants = [
        VariantSpec(
            "steel",
            "Steel",
            {"paint": hexc("9aa6b4"), "led": hexc("3ce0ff"), "led2": hexc("ff4a5a")},
        ),
        VariantSpec(
            "retro",
            "Retro orange",
            {"paint": hexc("e8893a"), "led": hexc("ffc23c"), "led2": hexc("ffe9b0")},
        ),
        VariantSpec(
            "mint", "Mint", {"paint": hexc("7fd6b8"), "led": hexc("ff6fb5"), "led2": hexc("fff36a")}
        ),
    ]
    return AvatarSpec("bolt", "Bolt", with_arms(layers, ARMS), variants, base)
