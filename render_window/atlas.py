"""Pack every image of an avatar into one premultiplied RGBA atlas at load time.

One texture means one draw call per avatar and no texture switches; sprite swaps become a
change of UV rectangle (a uniform), so nothing is uploaded per frame.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

log = logging.getLogger(__name__)

#: Gap between images; with mipmaps a few texels keep neighbours from bleeding into each other.
PADDING = 4
#: Largest atlas we build; every GL 3.3 implementation supports 4096 and it keeps memory small
#: (64 MiB at most). Images are scaled down uniformly when they would not fit.
MAX_ATLAS = 4096


@dataclass(frozen=True, slots=True)
class AtlasRect:
    """Where one image sits, in texture coordinates (v grows down, like the images)."""

    u0: float
    v0: float
    u1: float
    v1: float


@dataclass(slots=True)
class Atlas:
    pixels: npt.NDArray[np.uint8]  # (H, W, 4) premultiplied RGBA, row 0 = top
    rects: dict[Hashable, AtlasRect]

    @property
    def size(self) -> tuple[int, int]:
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])


def _premultiply(img: Image.Image) -> npt.NDArray[np.uint8]:
    arr = np.asarray(img.convert("RGBA"), dtype=np.uint16)
    rgb = (arr[..., :3] * arr[..., 3:4] + 127) // 255
    return np.concatenate([rgb, arr[..., 3:4]], axis=-1).astype(np.uint8)


def _shelf_pack(sizes: list[tuple[int, int]], width: int) -> tuple[list[tuple[int, int]], int]:
    """Place rectangles on shelves (tallest first); returns positions and the used height."""
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i][1])
    pos: list[tuple[int, int]] = [(0, 0)] * len(sizes)
    x = y = shelf_h = 0
    for i in order:
        w, h = sizes[i]
        if x + w + PADDING > width:
            x, y, shelf_h = 0, y + shelf_h + PADDING, 0
        pos[i] = (x + PADDING, y + PADDING)
        x += w + PADDING
        shelf_h = max(shelf_h, h)
    return pos, y + shelf_h + 2 * PADDING


def build_atlas(items: Mapping[Any, Image.Image], max_size: int = MAX_ATLAS) -> Atlas:
    """Pack ``key -> image`` into one atlas; ``rects`` has the same keys."""
    unique = list(items)
    images = [items[k] for k in unique]
    scale = 1.0
    while True:
        sizes = [
            (max(1, round(im.width * scale)), max(1, round(im.height * scale))) for im in images
        ]
        area = sum((w + PADDING) * (h + PADDING) for w, h in sizes)
        width = 256
        while width * width < area * 1.3 or width < max(w for w, _ in sizes) + 2 * PADDING:
            width *= 2
        width = min(width, max_size)
        pos, height = _shelf_pack(sizes, width)
        if height <= max_size and max(w for w, _ in sizes) + 2 * PADDING <= width:
            break
        scale *= 0.8
    if scale < 1.0:
        log.info("avatar images scaled by %.2f to fit a %d px atlas", scale, max_size)
    tex_h = 1 << max(0, (height - 1).bit_length())
    pixels = np.zeros((tex_h, width, 4), dtype=np.uint8)
    rects: dict[Hashable, AtlasRect] = {}
    for key, img, (w, h), (x, y) in zip(unique, images, sizes, pos, strict=True):
        if (w, h) != img.size:
            img = img.convert("RGBA").resize((w, h), Image.Resampling.LANCZOS)
        pixels[y : y + h, x : x + w] = _premultiply(img)
        rects[key] = AtlasRect(x / width, y / tex_h, (x + w) / width, (y + h) / tex_h)
    return Atlas(pixels, rects)
