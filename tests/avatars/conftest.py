"""A small valid pack built in tmp_path, for the tests to break one way at a time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

MANIFEST = """\
[pack]
format = 1
id = "testy"
name = "Testy"
version = "0.1.0"
author = "tests"
license = "CC0-1.0"
canvas = [64, 64]
default_variant = "plain"

[[variants]]
id = "plain"
name = "Plain"

[[variants]]
id = "blue"
name = "Blue"
[variants.textures]
face = "layers/face_blue.png"
[variants.tint]
eye = [1.0, 0.5, 0.5, 1.0]

[[layers]]
id = "head"
image = "layers/head.png"
parent = ""
position = [0, 0]
pivot = [32, 60]
z = 0

  [[layers.bindings]]
  param = "headYaw"
  target = "offset_x"
  gain = 10.0
  min = -1.0
  max = 1.0

[[layers]]
id = "face"
image = "layers/face.png"
parent = "head"
position = [16, 16]
pivot = [32, 32]
z = 1
mesh = [4, 2]

  [[layers.bindings]]
  param = "smile"
  target = "warp_smile"
  gain = 3.0

[[layers]]
id = "eye"
image = "layers/eye.png"
parent = "face"
position = [36, 20]
pivot = [40, 24]
z = 2

  [[layers.bindings]]
  param = "eyeBlinkLeft"
  target = "sprite"
  sprites = [[0.5, "layers/eye_half.png"], [0.9, "layers/eye_closed.png"]]
"""


def _png(path: Path, size: tuple[int, int], color: tuple[int, int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGBA", size, color).save(path)


def write_valid_pack(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "avatar.toml").write_text(MANIFEST, encoding="utf-8")
    _png(root / "layers/head.png", (64, 64), (200, 150, 120, 255))
    _png(root / "layers/face.png", (32, 32), (240, 200, 170, 255))
    _png(root / "layers/face_blue.png", (32, 32), (120, 150, 240, 255))
    _png(root / "layers/eye.png", (8, 8), (255, 255, 255, 255))
    _png(root / "layers/eye_half.png", (8, 8), (128, 128, 128, 255))
    _png(root / "layers/eye_closed.png", (8, 8), (0, 0, 0, 255))
    return root


@pytest.fixture
def valid_pack(tmp_path: Path) -> Path:
    return write_valid_pack(tmp_path / "testy")


@pytest.fixture
def edit_manifest() -> Callable[[Path, str, str], None]:
    """Replace exactly one occurrence of ``old`` in the pack's avatar.toml."""

    def edit(pack: Path, old: str, new: str) -> None:
        path = pack / "avatar.toml"
        text = path.read_text(encoding="utf-8")
        assert text.count(old) >= 1, f"{old!r} not in manifest"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return edit


@pytest.fixture(autouse=True)
def _pack_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Zips unpack into a per-test cache, never the user's."""
    cache = tmp_path / "pack-cache"
    monkeypatch.setenv("AVATARCHAT_PACK_CACHE", str(cache))
    return cache
