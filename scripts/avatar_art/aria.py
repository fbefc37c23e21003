"""Aria: a person with long hair; variants change hair/eye colour, freckles and glasses."""

from __future__ import annotations

from PIL import ImageChops, ImageFilter

from . import rig
from .arms import ArmStyle, with_arms
from .kit import (
    SS,
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

EYE_Y = 250
EYES = {"Right": 207.0, "Left": 305.0}  # subject's right eye is on the viewer's left
MOUTH_Y = 322
LINE = hexc("5a3426")


ARMS = ArmStyle(
    shoulder=(138, 450), upper=86, forearm=80, palm=50, finger=34,
    upper_w=38, fore_w=31, palm_w=50, finger_w=12,
    upper_paint=lambda c: c["shirt"], fore_paint=lambda c: c["skin"],
    hand_paint=lambda c: c["skin"], ink=LINE,
)  # fmt: skip


def _eye_pts(cx: float, cy: float, mirror: bool) -> list[Pt]:
    # local shape with +x toward the nose; outer corner slightly higher (almond)
    pts = [(-29, -1), (-16, -14), (2, -17), (19, -11), (27, 2), (14, 11), (-4, 12), (-20, 8)]
    s = -1 if mirror else 1
    return [(cx + s * x, cy + y) for x, y in pts]


def body(p: Pen, c: Palette) -> None:
    neck = [(226, 330), (286, 330), (292, 440), (220, 440)]
    p.shape(neck, p.linear(shade(c["skin"], -0.18), c["skin"], 340, 420), outline=LINE, ow=1.5)
    shirt = catmull(
        [
            (60, 520),
            (78, 462),
            (150, 426),
            (222, 412),
            (256, 446),
            (290, 412),
            (362, 426),
            (434, 462),
            (452, 520),
        ],
        steps=10,
    )
    p.shape(shirt, p.linear(c["shirt"], shade(c["shirt"], -0.35), 410, 512), outline=LINE, ow=2)
    p.stroke([(222, 412), (256, 446), (290, 412)], shade(c["shirt"], -0.45), 3)


def hair_back(p: Pen, c: Palette) -> None:
    pts = [
        (256, 80),
        (352, 96),
        (414, 170),
        (426, 290),
        (420, 420),
        (384, 466),
        (330, 440),
        (256, 430),
        (182, 440),
        (128, 466),
        (92, 420),
        (86, 290),
        (98, 170),
        (160, 96),
    ]
    p.shape(
        catmull(pts),
        p.linear(c["hair"], shade(c["hair"], -0.45), 120, 470),
        outline=shade(c["hair"], -0.6),
        ow=2,
    )


def head(p: Pen, c: Palette) -> None:
    for x in (146, 366):
        p.ellipse(
            x,
            262,
            16,
            24,
            p.linear(c["skin"], shade(c["skin"], -0.15), 240, 290),
            outline=LINE,
            ow=1.5,
        )
    face = [
        (256, 116),
        (330, 130),
        (368, 190),
        (370, 252),
        (352, 312),
        (308, 358),
        (256, 378),
        (204, 358),
        (160, 312),
        (142, 252),
        (144, 190),
        (182, 130),
    ]
    grad = p.radial(shade(c["skin"], 0.12), shade(c["skin"], -0.12), 256, 230, 150, 170)
    p.shape(catmull(face), grad, outline=LINE, ow=2)


def face(p: Pen, c: Palette) -> None:
    for x in (196, 316):
        p.soft(p.ellipse_mask(x, 296, 22, 12), hexc("ff6f7d", 110), 6)
    if c.get("freckles"):
        for i, (dx, dy) in enumerate([(-14, -4), (-4, 2), (6, -6), (12, 4), (-10, 8), (2, 10)]):
            for x in (200, 312):
                p.ellipse(
                    x + dx * (1 if x > 256 else -1),
                    286 + dy,
                    1.6 + (i % 2) * 0.4,
                    1.6,
                    hexc("a0583a", 150),
                )


def nose(p: Pen, c: Palette) -> None:
    p.stroke([(260, 262), (263, 286), (256, 294)], shade(c["skin"], -0.25), 2.5)
    p.stroke([(246, 296), (252, 299)], shade(c["skin"], -0.35), 2.5)
    p.stroke([(260, 299), (266, 296)], shade(c["skin"], -0.35), 2.5)


def eye_white(side: str) -> LayerSpec:
    cx = EYES[side]

    def draw(p: Pen, c: Palette) -> None:
        pts = catmull(_eye_pts(cx, EYE_Y, side == "Left"))
        p.shape(pts, p.linear(hexc("e9e4e6"), hexc("ffffff"), EYE_Y - 14, EYE_Y + 6))

    return LayerSpec(
        f"eye_{side.lower()}", draw, parent="face", pivot=(cx, EYE_Y), z=20, bindings=rig.eye(side)
    )


def iris(side: str) -> LayerSpec:
    cx = EYES[side]

    def draw(p: Pen, c: Palette) -> None:
        clip = p.grown_mask(catmull(_eye_pts(cx, EYE_Y, side == "Left")), 2.5)
        ix, iy = cx, EYE_Y - 1
        p.ellipse(
            ix,
            iy,
            14,
            14,
            p.radial(shade(c["eyes"], 0.35), shade(c["eyes"], -0.35), ix, iy + 3, 15),
            outline=shade(c["eyes"], -0.6),
            ow=1.5,
            clip=clip,
        )
        p.ellipse(ix, iy, 6.5, 6.5, hexc("140c0a"), clip=clip)
        p.ellipse(ix - 5, iy - 6, 3.6, 3.6, hexc("ffffff", 235), clip=clip)
        p.ellipse(ix + 5, iy + 5, 1.8, 1.8, hexc("ffffff", 180), clip=clip)

    return LayerSpec(
        f"iris_{side.lower()}",
        draw,
        parent=f"eye_{side.lower()}",
        pivot=(cx, EYE_Y),
        z=21,
        bindings=rig.iris(7, 5),
    )


def socket(side: str) -> LayerSpec:
    """Skin around the eye, above the iris: the iris can move without clipped edges showing.

    It repeats the art underneath (so it is invisible at rest) in a ring around the eye, and
    squashes with the eye on a blink (it is the eye's child).
    """
    cx = EYES[side]

    def draw(p: Pen, c: Palette) -> None:
        pts = catmull(_eye_pts(cx, EYE_Y, side == "Left"))
        soft = p.grown_mask(pts, 11).filter(ImageFilter.GaussianBlur(2.5 * SS))
        ring = ImageChops.subtract(soft, p.poly_mask(pts))
        p.copy_of(c, [head], ring)

    return LayerSpec(
        f"socket_{side.lower()}", draw, parent=f"eye_{side.lower()}", pivot=(cx, EYE_Y), z=22
    )


def lashes(side: str) -> LayerSpec:
    cx = EYES[side]
    m = side == "Left"

    def draw(p: Pen, c: Palette) -> None:
        pts = catmull(_eye_pts(cx, EYE_Y, m))
        n = len(pts)
        upper = pts[: n // 2 + 2]
        p.stroke(upper, hexc("2a1712"), 4.2)
        s = -1 if m else 1
        p.stroke([(cx - s * 27, EYE_Y - 1), (cx - s * 35, EYE_Y - 8)], hexc("2a1712"), 3.2)
        lower = pts[n // 2 + 2 :]
        p.stroke(lower, hexc("5a3426", 120), 1.4)

    return LayerSpec(
        f"lashes_{side.lower()}", draw, parent=f"eye_{side.lower()}", pivot=(cx, EYE_Y), z=23
    )


def lid(side: str) -> LayerSpec:
    cx = EYES[side]
    s = -1 if side == "Left" else 1

    def draw(p: Pen, c: Palette) -> None:
        arc = catmull(
            [
                (cx - s * 29, EYE_Y - 1),
                (cx - s * 10, EYE_Y + 7),
                (cx + s * 10, EYE_Y + 7),
                (cx + s * 27, EYE_Y + 1),
            ],
            closed=False,
        )
        p.stroke(arc, hexc("2a1712"), 4.2)
        p.stroke([(cx - s * 28, EYE_Y), (cx - s * 36, EYE_Y - 5)], hexc("2a1712"), 3)

    return LayerSpec(
        f"lid_{side.lower()}",
        draw,
        parent="face",
        pivot=(cx, EYE_Y),
        z=24,
        bindings=rig.closed_lid(side),
    )


def brow(side: str) -> LayerSpec:
    cx = EYES[side]
    out = -1 if side == "Right" else 1  # toward the outer end of this brow

    def draw(p: Pen, c: Palette) -> None:
        pts = catmull(
            [(cx - out * 26, EYE_Y - 36), (cx + out * 6, EYE_Y - 45), (cx + out * 32, EYE_Y - 37)],
            closed=False,
        )
        p.stroke(pts, shade(c["hair"], -0.35), 6.5)

    return LayerSpec(
        f"brow_{side.lower()}",
        draw,
        parent="face",
        pivot=(cx, EYE_Y - 38),
        z=25,
        bindings=rig.brow(side),
    )


UPPER = [(226, MOUTH_Y), (242, MOUTH_Y - 9), (256, MOUTH_Y - 5), (270, MOUTH_Y - 9), (286, MOUTH_Y)]


def mouth(p: Pen, c: Palette) -> None:
    pts = [
        *catmull(UPPER, closed=False, steps=8),
        (270, MOUTH_Y + 1),
        (256, MOUTH_Y + 2),
        (242, MOUTH_Y + 1),
    ]
    p.shape(pts, p.linear(shade(c["lips"], -0.1), c["lips"], MOUTH_Y - 9, MOUTH_Y))
    p.stroke(
        catmull([(226, MOUTH_Y), (256, MOUTH_Y + 2), (286, MOUTH_Y)], closed=False),
        shade(c["lips"], -0.55),
        2.2,
    )


def mouth_inner(p: Pen, c: Palette) -> None:
    pts = catmull(
        [
            (228, MOUTH_Y),
            (256, MOUTH_Y - 1),
            (284, MOUTH_Y),
            (276, MOUTH_Y + 22),
            (256, MOUTH_Y + 34),
            (236, MOUTH_Y + 22),
        ]
    )
    clip = p.poly_mask(pts)
    p.shape(pts, hexc("4a1018"), outline=shade(c["lips"], -0.5), ow=1.5)
    p.ellipse(256, MOUTH_Y - 2, 24, 8, hexc("fbf7f2"), clip=clip)
    p.ellipse(256, MOUTH_Y + 34, 18, 12, hexc("d9606c"), clip=clip)


def lip_lower(p: Pen, c: Palette) -> None:
    pts = catmull(
        [
            (230, MOUTH_Y + 1),
            (256, MOUTH_Y + 2),
            (282, MOUTH_Y + 1),
            (270, MOUTH_Y + 11),
            (256, MOUTH_Y + 13),
            (242, MOUTH_Y + 11),
        ]
    )
    p.shape(pts, p.linear(c["lips"], shade(c["lips"], -0.2), MOUTH_Y, MOUTH_Y + 13))
    p.ellipse(256, MOUTH_Y + 6, 8, 2.5, hexc("ffffff", 70))


def hair_front(p: Pen, c: Palette) -> None:
    outer = [
        (140, 320),
        (124, 210),
        (156, 122),
        (220, 84),
        (292, 84),
        (356, 118),
        (390, 206),
        (374, 322),
    ]
    inner = [
        (364, 260),
        (352, 196),
        (328, 166),
        (298, 190),
        (268, 160),
        (232, 186),
        (198, 166),
        (168, 198),
        (154, 262),
    ]
    pts = catmull(outer + inner)
    p.shape(
        pts,
        p.linear(shade(c["hair"], 0.12), c["hair"], 90, 300),
        outline=shade(c["hair"], -0.6),
        ow=2,
    )
    for a, bb, cc in [
        ((210, 100), (190, 130), (175, 175)),
        ((270, 96), (262, 125), (268, 158)),
        ((320, 106), (338, 140), (350, 190)),
    ]:
        p.stroke(catmull([a, bb, cc], closed=False), shade(c["hair"], 0.28), 3)


def glasses(p: Pen, c: Palette) -> None:
    if not c.get("glasses"):
        return
    frame = hexc("2d2a36")
    for cx in EYES.values():
        ring = p.ellipse_mask(cx, EYE_Y, 36, 30)
        hole = p.ellipse_mask(cx, EYE_Y, 32, 26)
        p.fill(hole, hexc("bfe3ff", 45))

        p.fill(ImageChops.subtract(ring, hole), frame)
        p.stroke([(cx - 16, EYE_Y - 18), (cx - 6, EYE_Y - 22)], hexc("ffffff", 140), 2.5)
    p.stroke(
        catmull(
            [(EYES["Right"] + 36, EYE_Y - 4), (256, EYE_Y - 10), (EYES["Left"] - 36, EYE_Y - 4)],
            closed=False,
        ),
        frame,
        4,
    )


def spec() -> AvatarSpec:
    base: Palette = {"skin": hexc("f3c9a8"), "lips": hexc("d9757a"), "shirt": hexc("3e7cc9")}
    layers = [
        LayerSpec("body", body, pivot=(256, 512), z=5, bindings=rig.body()),
        LayerSpec("head", head, parent="body", pivot=(256, 420), z=10, bindings=rig.head()),
        LayerSpec(
            "hair_back",
            hair_back,
            parent="head",
            pivot=(256, 300),
            z=2,
            bindings=rig.parallax(-16, -10),
        ),
        LayerSpec(
            "face", face, parent="head", pivot=(256, 280), z=12, bindings=rig.parallax(30, 20)
        ),
        LayerSpec("nose", nose, parent="face", pivot=(256, 290), z=14, bindings=rig.parallax(8, 4)),
        eye_white("Right"),
        eye_white("Left"),
        iris("Right"),
        iris("Left"),
        socket("Right"),
        socket("Left"),
        lashes("Right"),
        lashes("Left"),
        lid("Right"),
        lid("Left"),
        brow("Right"),
        brow("Left"),
        LayerSpec(
            "mouth",
            mouth,
            parent="face",
            pivot=(256, MOUTH_Y),
            z=18,
            mesh=(8, 2),
            group="mouth",
            bindings=[*rig.mouth_group(), *rig.smile_warp(15)],
        ),
        LayerSpec(
            "mouth_inner",
            mouth_inner,
            parent="mouth",
            pivot=(256, MOUTH_Y),
            z=16,
            mesh=(8, 2),
            group="mouth",
            bindings=rig.mouth_inner(15),
        ),
        LayerSpec(
            "lip_lower",
            lip_lower,
            parent="mouth",
            pivot=(256, MOUTH_Y),
            z=17,
            mesh=(8, 2),
            group="mouth",
            bindings=rig.lower_lip(32, 15),
        ),
        LayerSpec(
            "hair_front",
            hair_front,
            parent="head",
            pivot=(256, 200),
            z=30,
            bindings=rig.parallax(10, 6),
        ),
        LayerSpec("glasses", glasses, parent="face", pivot=(256, EYE_Y), z=32),
    ]
    variants = [
        VariantSpec("brunette", "Brunette", {"hair": hexc("5a3524"), "eyes": hexc("7a4a26")}),
        VariantSpec(
            "ginger",
            "Ginger, freckles",
            {
                "hair": hexc("c8582a"),
                "eyes": hexc("3f8f5a"),
                "freckles": True,
                "shirt": hexc("2f8f6f"),
            },
        ),
        VariantSpec(
            "silver",
            "Silver, glasses",
            {
                "hair": hexc("cfd3e0"),
                "eyes": hexc("7a5cc9"),
                "glasses": True,
                "shirt": hexc("8a4fb0"),
                "skin": hexc("e6b393"),
            },
        ),
    ]
    return AvatarSpec("aria", "Aria", with_arms(layers, ARMS), variants, base)
