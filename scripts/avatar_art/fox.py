"""Fox: an animal with big ears, a white muzzle, whiskers and slit pupils; three fur colours."""

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

EYE_Y = 236
EYES = {"Right": 202.0, "Left": 310.0}
MOUTH_Y = 334
INK = hexc("2b1a14")


ARMS = ArmStyle(
    shoulder=(140, 450), upper=82, forearm=76, palm=44, finger=24,
    upper_w=40, fore_w=34, palm_w=52, finger_w=15,
    upper_paint=lambda c: c["fur"], fore_paint=lambda c: c["fur"],
    hand_paint=lambda c: c["ear"], ink=INK,
)  # fmt: skip


def _eye_pts(cx: float, cy: float, mirror: bool) -> list[Pt]:
    # +x toward the nose; the outer corner sweeps up like a fox's
    pts = [(-30, -9), (-14, -15), (6, -13), (22, -3), (24, 6), (8, 12), (-12, 9), (-26, 0)]
    s = -1 if mirror else 1
    return [(cx + s * x * 1.12, cy + y * 1.2) for x, y in pts]


def body(p: Pen, c: Palette) -> None:
    chest = catmull(
        [(70, 520), (96, 450), (170, 404), (256, 392), (342, 404), (416, 450), (442, 520)], steps=10
    )
    p.shape(chest, p.linear(c["fur"], shade(c["fur"], -0.35), 400, 512), outline=INK, ow=2)
    bib = catmull([(196, 520), (204, 430), (256, 400), (308, 430), (316, 520)], steps=10)
    p.shape(bib, p.linear(c["white"], shade(c["white"], -0.15), 400, 512))
    if c.get("scarf"):
        band = catmull([(150, 420), (256, 452), (362, 420), (370, 446), (256, 480), (142, 446)])
        p.shape(band, p.linear(c["scarf"], shade(c["scarf"], -0.3), 420, 480), outline=INK, ow=2)


def ear(side: str) -> LayerSpec:
    s = -1 if side == "Right" else 1
    base = 256 + s * 80

    def draw(p: Pen, c: Palette) -> None:
        tip = (256 + s * 150, 60)
        pts = catmull([(256 + s * 30, 160), tip, (256 + s * 165, 230)], steps=14)
        p.shape(pts, p.linear(shade(c["fur"], 0.1), c["fur"], 60, 230), outline=INK, ow=2.5)
        inner = catmull([(256 + s * 62, 170), (256 + s * 142, 92), (256 + s * 146, 206)], steps=14)
        p.shape(inner, p.linear(c["ear"], c["white"], 90, 210))
        p.shape(
            catmull([(tip[0] - s * 22, 84), tip, (tip[0] + s * 4, 96)], steps=8),
            shade(c["fur"], -0.7),
        )

    return LayerSpec(
        f"ear_{side.lower()}",
        draw,
        parent="head",
        pivot=(base, 190),
        z=8,
        bindings=[
            *rig.parallax(-14, -8),
            rig.b("emotionSurprised", "rotate", -0.12 * s, lo=0, hi=1),
            rig.b("emotionSad", "rotate", 0.25 * s, lo=0, hi=1),
            rig.b("browInnerUp", "rotate", -0.08 * s, lo=0, hi=1),
        ],
    )


def head(p: Pen, c: Palette) -> None:
    pts = [
        (256, 124),
        (330, 134),
        (384, 186),
        (408, 262),
        (440, 300),
        (396, 314),
        (420, 340),
        (350, 352),
        (256, 392),
        (162, 352),
        (92, 340),
        (116, 314),
        (72, 300),
        (104, 262),
        (128, 186),
        (182, 134),
    ]
    grad = p.radial(shade(c["fur"], 0.15), shade(c["fur"], -0.2), 256, 210, 190, 190)
    p.shape(catmull(pts, steps=10), grad, outline=INK, ow=2.5)


def face(p: Pen, c: Palette) -> None:
    pts = [
        (256, 254),
        (300, 270),
        (340, 280),
        (374, 298),
        (356, 314),
        (366, 332),
        (324, 346),
        (256, 380),
        (188, 346),
        (146, 332),
        (156, 314),
        (138, 298),
        (172, 280),
        (212, 270),
    ]
    p.shape(catmull(pts, steps=10), p.linear(c["white"], shade(c["white"], -0.12), 250, 390))
    p.shape(
        catmull([(256, 170), (270, 200), (264, 262), (256, 270), (248, 262), (242, 200)]),
        shade(c["fur"], 0.1),
    )


def snout(p: Pen, c: Palette) -> None:
    for s in (-1, 1):
        for dy, ang in ((-6, -10), (4, 0), (14, 10)):
            p.stroke(
                catmull(
                    [
                        (256 + s * 44, 308 + dy),
                        (256 + s * 90, 302 + dy + ang * 0.5),
                        (256 + s * 130, 296 + dy + ang),
                    ],
                    closed=False,
                ),
                hexc("3a2a24", 200),
                1.6,
            )
        for dx, dy in ((26, 0), (34, 10), (22, 12)):
            p.ellipse(256 + s * dx, 306 + dy, 1.8, 1.8, hexc("5a3a30", 200))
    nose = catmull([(238, 290), (256, 286), (274, 290), (264, 306), (256, 310), (248, 306)])
    p.shape(nose, p.radial(hexc("4a3a3a"), hexc("111014"), 252, 292, 22), outline=INK, ow=1)
    p.ellipse(250, 293, 5, 2.5, hexc("ffffff", 150))


def eye_white(side: str) -> LayerSpec:
    cx = EYES[side]

    def draw(p: Pen, c: Palette) -> None:
        p.shape(
            catmull(_eye_pts(cx, EYE_Y, side == "Left")),
            p.linear(hexc("f2e8d2"), hexc("fffaf0"), EYE_Y - 14, EYE_Y + 10),
        )

    return LayerSpec(
        f"eye_{side.lower()}", draw, parent="face", pivot=(cx, EYE_Y), z=20, bindings=rig.eye(side)
    )


def iris(side: str) -> LayerSpec:
    cx = EYES[side]

    def draw(p: Pen, c: Palette) -> None:
        clip = p.grown_mask(catmull(_eye_pts(cx, EYE_Y, side == "Left")), 2.5)
        ix = cx + (4 if side == "Right" else -4)
        p.ellipse(
            ix,
            EYE_Y - 1,
            15,
            15,
            p.radial(shade(c["eyes"], 0.4), shade(c["eyes"], -0.4), ix, EYE_Y + 4, 16),
            outline=shade(c["eyes"], -0.7),
            ow=1.5,
            clip=clip,
        )
        p.ellipse(ix, EYE_Y - 1, 3.5, 11, hexc("120a06"), clip=clip)
        p.ellipse(ix - 5, EYE_Y - 7, 3.5, 3.5, hexc("ffffff", 235), clip=clip)

    return LayerSpec(
        f"iris_{side.lower()}",
        draw,
        parent=f"eye_{side.lower()}",
        pivot=(cx, EYE_Y),
        z=21,
        bindings=rig.iris(6, 4),
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
        p.copy_of(c, [head, face], ring)

    return LayerSpec(
        f"socket_{side.lower()}", draw, parent=f"eye_{side.lower()}", pivot=(cx, EYE_Y), z=22
    )


def lashes(side: str) -> LayerSpec:
    cx = EYES[side]

    def draw(p: Pen, c: Palette) -> None:
        pts = catmull(_eye_pts(cx, EYE_Y, side == "Left"))
        n = len(pts)
        p.stroke(pts[: n // 2 + 1], INK, 4.5)
        p.stroke(pts[n // 2 :] + pts[:1], hexc("2b1a14", 150), 1.6)

    return LayerSpec(
        f"lashes_{side.lower()}", draw, parent=f"eye_{side.lower()}", pivot=(cx, EYE_Y), z=23
    )


def lid(side: str) -> LayerSpec:
    cx = EYES[side]
    s = -1 if side == "Left" else 1

    def draw(p: Pen, c: Palette) -> None:
        p.stroke(
            catmull(
                [(cx - s * 30, EYE_Y - 8), (cx - s * 6, EYE_Y + 4), (cx + s * 22, EYE_Y + 2)],
                closed=False,
            ),
            INK,
            4.5,
        )

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
    s = -1 if side == "Left" else 1

    def draw(p: Pen, c: Palette) -> None:
        tuft = catmull(
            [
                (cx - s * 18, EYE_Y - 30),
                (cx + s * 2, EYE_Y - 38),
                (cx + s * 20, EYE_Y - 33),
                (cx + s * 2, EYE_Y - 31),
            ]
        )
        p.shape(tuft, shade(c["fur"], -0.55))

    return LayerSpec(
        f"brow_{side.lower()}",
        draw,
        parent="face",
        pivot=(cx, EYE_Y - 34),
        z=25,
        bindings=rig.brow(side, lift=12, drop=8),
    )


def mouth(p: Pen, c: Palette) -> None:
    line = catmull(
        [
            (222, MOUTH_Y - 4),
            (238, MOUTH_Y + 2),
            (256, MOUTH_Y - 4),
            (274, MOUTH_Y + 2),
            (290, MOUTH_Y - 4),
        ],
        closed=False,
        steps=8,
    )
    p.stroke(line, INK, 3.2)
    p.stroke([(256, 310), (256, MOUTH_Y - 4)], INK, 2.6)


def mouth_inner(p: Pen, c: Palette) -> None:
    pts = catmull(
        [
            (224, MOUTH_Y - 3),
            (256, MOUTH_Y - 3),
            (288, MOUTH_Y - 3),
            (280, MOUTH_Y + 20),
            (256, MOUTH_Y + 36),
            (232, MOUTH_Y + 20),
        ]
    )
    clip = p.poly_mask(pts)
    p.shape(pts, hexc("3a0c12"), outline=INK, ow=2)
    p.ellipse(256, MOUTH_Y + 34, 18, 14, hexc("e0707e"), clip=clip)
    for x in (232, 280):
        p.shape(
            [(x - 5, MOUTH_Y - 3), (x + 5, MOUTH_Y - 3), (x, MOUTH_Y + 7)],
            hexc("fffaf0"),
            clip=clip,
        )


def lip_lower(p: Pen, c: Palette) -> None:
    jaw = catmull(
        [
            (226, MOUTH_Y + 2),
            (256, MOUTH_Y + 6),
            (286, MOUTH_Y + 2),
            (276, MOUTH_Y + 16),
            (256, MOUTH_Y + 22),
            (236, MOUTH_Y + 16),
        ]
    )
    p.shape(jaw, p.linear(c["white"], shade(c["white"], -0.1), MOUTH_Y, MOUTH_Y + 22))
    p.stroke(
        catmull([(228, MOUTH_Y + 3), (256, MOUTH_Y + 7), (284, MOUTH_Y + 3)], closed=False),
        INK,
        2.4,
    )


def spec() -> AvatarSpec:
    base: Palette = {"white": hexc("fbf6ee"), "ear": hexc("3a2420"), "eyes": hexc("e0a020")}
    layers = [
        LayerSpec("body", body, pivot=(256, 512), z=5, bindings=rig.body()),
        LayerSpec("head", head, parent="body", pivot=(256, 410), z=10, bindings=rig.head()),
        ear("Right"),
        ear("Left"),
        LayerSpec(
            "face", face, parent="head", pivot=(256, 300), z=12, bindings=rig.parallax(28, 18)
        ),
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
            parent="snout",
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
            pivot=(256, MOUTH_Y - 3),
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
            bindings=rig.lower_lip(30, 10),
        ),
        LayerSpec(
            "snout", snout, parent="face", pivot=(256, 300), z=30, bindings=rig.parallax(12, 6)
        ),
    ]
    variants = [
        VariantSpec("red", "Red fox", {"fur": hexc("e07a30")}),
        VariantSpec(
            "arctic",
            "Arctic fox",
            {
                "fur": hexc("dfe6ef"),
                "eyes": hexc("3a8ad8"),
                "ear": hexc("8a9ab0"),
                "white": hexc("ffffff"),
            },
        ),
        VariantSpec(
            "shadow",
            "Shadow fox, scarf",
            {"fur": hexc("4a4550"), "eyes": hexc("f0c030"), "scarf": hexc("c8324a")},
        ),
    ]
    return AvatarSpec("fox", "Fox", with_arms(layers, ARMS), variants, base)
