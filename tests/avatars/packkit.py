"""Build small avatar packs (FORMAT.md) in a temp dir: the one builder the tests share.

A pack is described as data -- ``[pack]`` fields, variants, layers with their bindings -- and
:func:`write_pack` writes its ``avatar.toml`` (:func:`manifest_toml`) and layer images.
``tests/avatars`` breaks its pack by editing the manifest text, so the layout is stable:
``key = value`` lines, ``[[layers.bindings]]`` indented by two spaces.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

Table = Mapping[str, Any]


def toml_value(value: Any) -> str:
    """A TOML literal for the str / bool / int / float / list values a manifest uses."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):  # an inline table (a layer's ``bone``)
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML literal for {value!r}")


def _keys(table: Table, indent: str = "") -> list[str]:
    return [f"{indent}{k} = {toml_value(v)}" for k, v in table.items() if not isinstance(v, dict)]


def manifest_toml(pack: Table, variants: Sequence[Table], layers: Sequence[Table]) -> str:
    """``avatar.toml`` text. A dict value in a variant is a sub-table (``[variants.tint]``),
    in a layer an inline table (``bone = { driver = "handLeft" }``); a layer's ``bindings``
    list becomes its ``[[layers.bindings]]`` entries."""
    out = ["[pack]", *_keys(pack)]
    for variant in variants:
        out += ["", "[[variants]]", *_keys(variant)]
        for key, sub in variant.items():
            if isinstance(sub, dict):
                out += [f"[variants.{key}]", *_keys(sub)]
    for layer in layers:
        fields = {k: v for k, v in layer.items() if k != "bindings"}
        out += ["", "[[layers]]", *(f"{k} = {toml_value(v)}" for k, v in fields.items())]
        for binding in layer.get("bindings", ()):
            out += ["", "  [[layers.bindings]]", *_keys(binding, "  ")]
    return "\n".join(out) + "\n"


def write_pack(
    root: Path,
    pack: Table,
    variants: Sequence[Table],
    layers: Sequence[Table],
    images: Mapping[str, Image.Image],
) -> Path:
    """Write the manifest and ``images`` (path inside the pack -> image) into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "avatar.toml").write_text(manifest_toml(pack, variants, layers), encoding="utf-8")
    for rel, image in images.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path)
    return root


def solid(size: tuple[int, int], color: tuple[int, int, int, int]) -> Image.Image:
    return Image.new("RGBA", size, color)


# -- "testy": the small valid pack tests/avatars breaks one way at a time -------------------

TESTY_PACK: dict[str, Any] = {
    "format": 1,
    "id": "testy",
    "name": "Testy",
    "version": "0.1.0",
    "author": "tests",
    "license": "CC0-1.0",
    "canvas": [64, 64],
    "default_variant": "plain",
}
TESTY_VARIANTS: list[dict[str, Any]] = [
    {"id": "plain", "name": "Plain"},
    {
        "id": "blue",
        "name": "Blue",
        "textures": {"face": "layers/face_blue.png"},
        "tint": {"eye": [1.0, 0.5, 0.5, 1.0]},
    },
]
TESTY_LAYERS: list[dict[str, Any]] = [
    {
        "id": "head",
        "image": "layers/head.png",
        "parent": "",
        "position": [0, 0],
        "pivot": [32, 60],
        "z": 0,
        "bindings": [
            {"param": "headYaw", "target": "offset_x", "gain": 10.0, "min": -1.0, "max": 1.0}
        ],
    },
    {
        "id": "face",
        "image": "layers/face.png",
        "parent": "head",
        "position": [16, 16],
        "pivot": [32, 32],
        "z": 1,
        "mesh": [4, 2],
        "bindings": [{"param": "smile", "target": "warp_smile", "gain": 3.0}],
    },
    {
        "id": "eye",
        "image": "layers/eye.png",
        "parent": "face",
        "position": [36, 20],
        "pivot": [40, 24],
        "z": 2,
        "bindings": [
            {
                "param": "eyeBlinkLeft",
                "target": "sprite",
                "sprites": [[0.5, "layers/eye_half.png"], [0.9, "layers/eye_closed.png"]],
            }
        ],
    },
]


def write_valid_pack(root: Path) -> Path:
    """The valid "testy" pack (64x64, three layers, two variants) in ``root``."""
    return write_pack(
        root,
        TESTY_PACK,
        TESTY_VARIANTS,
        TESTY_LAYERS,
        {
            "layers/head.png": solid((64, 64), (200, 150, 120, 255)),
            "layers/face.png": solid((32, 32), (240, 200, 170, 255)),
            "layers/face_blue.png": solid((32, 32), (120, 150, 240, 255)),
            "layers/eye.png": solid((8, 8), (255, 255, 255, 255)),
            "layers/eye_half.png": solid((8, 8), (128, 128, 128, 255)),
            "layers/eye_closed.png": solid((8, 8), (0, 0, 0, 255)),
        },
    )
