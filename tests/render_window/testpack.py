"""A small custom avatar pack drawn at test time (a valid FORMAT.md pack in a temp dir).

It lets the renderer tests run against a pack whose geometry the test knows exactly, in
addition to the built-in avatars.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from tests.avatars.packkit import write_pack

CANVAS = 512
#: Where the test pack's eyes and mouth sit at rest (canvas px, y down): x0, y0, x1, y1.
EYE_VIEWER_LEFT = (170, 200, 230, 250)  # the subject's RIGHT eye
EYE_VIEWER_RIGHT = (282, 200, 342, 250)  # the subject's LEFT eye
MOUTH = (206, 320, 306, 360)

PACK = {
    "format": 1,
    "id": "testface",
    "name": "Test face",
    "version": "1.0.0",
    "author": "tests",
    "license": "CC0-1.0",
    "canvas": [CANVAS, CANVAS],
    "default_variant": "plain",
}
VARIANTS = [
    {"id": "plain", "name": "Plain"},
    {"id": "blue", "name": "Blue", "tint": {"head": [0.6, 0.7, 1.0, 1.0]}},
]


def _layer(
    layer_id: str,
    image: str,
    parent: str,
    position: list[int],
    pivot: list[int],
    z: int,
    *bindings: tuple[str, str, float],
    mesh: list[int] | None = None,
) -> dict[str, object]:
    layer: dict[str, object] = {
        "id": layer_id,
        "image": image,
        "parent": parent,
        "position": position,
        "pivot": pivot,
        "z": z,
    }
    if mesh is not None:
        layer["mesh"] = mesh
    layer["bindings"] = [{"param": p, "target": t, "gain": g} for p, t, g in bindings]
    return layer


LAYERS = [
    _layer("body", "layers/body.png", "", [96, 400], [256, 460], 0, ("breath", "offset_y", 3.0)),
    _layer(
        "head",
        "layers/head.png",
        "body",
        [136, 110],
        [256, 400],
        10,
        ("headYaw", "offset_x", 120.0),
        ("headPitch", "offset_y", 80.0),
        ("headRoll", "rotate", 1.0),
    ),
    _layer(
        "eye_r",
        "layers/eye.png",
        "head",
        list(EYE_VIEWER_LEFT[:2]),
        [200, 225],
        20,
        ("eyeBlinkRight", "warp_squash", 1.0),
        mesh=[1, 1],
    ),
    _layer(
        "eye_l",
        "layers/eye.png",
        "head",
        list(EYE_VIEWER_RIGHT[:2]),
        [312, 225],
        20,
        ("eyeBlinkLeft", "warp_squash", 1.0),
    ),
    _layer(
        "mouth",
        "layers/mouth.png",
        "head",
        list(MOUTH[:2]),
        [256, 340],
        20,
        ("mouthOpen", "warp_open", 50.0),
        ("smile", "warp_smile", 14.0),
        mesh=[8, 2],
    ),
]


def write_test_pack(root: Path) -> Path:
    """Draw the pack into ``root/testface`` and return that directory."""
    body = Image.new("RGBA", (320, 112), (0, 0, 0, 0))
    ImageDraw.Draw(body).rounded_rectangle((0, 20, 319, 111), radius=40, fill=(60, 90, 160, 255))

    head = Image.new("RGBA", (240, 300), (0, 0, 0, 0))
    ImageDraw.Draw(head).ellipse((0, 0, 239, 299), fill=(236, 196, 160, 255))

    eye = Image.new("RGBA", (60, 50), (0, 0, 0, 0))
    d = ImageDraw.Draw(eye)
    d.ellipse((0, 0, 59, 49), fill=(255, 255, 255, 255), outline=(40, 30, 30, 255), width=3)
    d.ellipse((18, 13, 42, 37), fill=(30, 60, 120, 255))

    mouth = Image.new("RGBA", (100, 40), (0, 0, 0, 0))
    d = ImageDraw.Draw(mouth)
    d.rounded_rectangle((0, 12, 99, 27), radius=8, fill=(120, 20, 30, 255))

    images = {
        "layers/body.png": body,
        "layers/head.png": head,
        "layers/eye.png": eye,
        "layers/mouth.png": mouth,
    }
    return write_pack(root / "testface", PACK, VARIANTS, LAYERS, images)
