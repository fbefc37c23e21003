"""A software compositor for packs: previews, terminal thumbnails and checking art by eye.

It follows FORMAT.md exactly (same binding semantics as the GPU renderer via
:func:`avatars.model.binding_value`) but evaluates warps continuously per pixel column instead
of on a vertex mesh, so it is the reference the renderer's screenshots can be compared with.
It is meant for a handful of frames, not for 60 FPS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from avatars.model import AvatarPack, Layer, binding_value, select_sprite

Matrix = np.ndarray


@dataclass(frozen=True)
class LayerState:
    """The summed effect of a layer's bindings for one parameter set (FORMAT.md)."""

    offset: tuple[float, float] = (0.0, 0.0)
    rotate: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)
    opacity: float = 1.0
    sprite: Path | None = None
    warp_open: float = 0.0
    warp_smile: float = 0.0
    warp_squash: float = 0.0


def layer_state(layer: Layer, params: dict[str, float]) -> LayerState:
    sums: dict[str, float] = {}
    sprite: Path | None = None
    for b in layer.bindings:
        if b.target == "sprite":
            chosen = select_sprite(b, params)
            if chosen is not None:
                sprite = chosen
            continue
        sums[b.target] = sums.get(b.target, 0.0) + binding_value(b, params)
    s = 1.0 + sums.get("scale", 0.0)
    return LayerState(
        offset=(sums.get("offset_x", 0.0), sums.get("offset_y", 0.0)),
        rotate=sums.get("rotate", 0.0),
        scale=(s * (1.0 + sums.get("scale_x", 0.0)), s * (1.0 + sums.get("scale_y", 0.0))),
        opacity=min(1.0, max(0.0, 1.0 + sums.get("opacity", 0.0))),
        sprite=sprite,
        warp_open=sums.get("warp_open", 0.0),
        warp_smile=sums.get("warp_smile", 0.0),
        warp_squash=sums.get("warp_squash", 0.0),
    )


def local_matrix(layer: Layer, st: LayerState) -> Matrix:
    """Scale about the pivot, rotate about the pivot (clockwise on screen), then offset."""
    px, py = layer.pivot
    c, s = math.cos(st.rotate), math.sin(st.rotate)
    to_pivot = np.array([[1, 0, -px], [0, 1, -py], [0, 0, 1]], dtype=float)
    scale = np.diag([st.scale[0], st.scale[1], 1.0])
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=float)
    back = np.array([[1, 0, px + st.offset[0]], [0, 1, py + st.offset[1]], [0, 0, 1]], dtype=float)
    out: Matrix = back @ rot @ scale @ to_pivot
    return out


def world_matrices(
    pack: AvatarPack, params: dict[str, float]
) -> dict[str, tuple[Matrix, LayerState]]:
    """Each layer's canvas transform (parent's world @ own local) and its state."""
    out: dict[str, tuple[Matrix, LayerState]] = {}
    for layer in pack.layers:  # parents come first
        st = layer_state(layer, params)
        m = local_matrix(layer, st)
        if layer.parent is not None and layer.parent in out:
            m = out[layer.parent][0] @ m
        out[layer.id] = (m, st)
    return out


@lru_cache(maxsize=512)
def _load(path: Path) -> Image.Image:
    return Image.open(path).convert("RGBA")


def warp_image(img: Image.Image, st: LayerState) -> tuple[Image.Image, int]:
    """Apply the vertical warps in image space; returns (image padded top/bottom, pad)."""
    if not (st.warp_open or st.warp_smile or st.warp_squash):
        return img, 0
    w, h = img.size
    pad = math.ceil(abs(st.warp_open) + abs(st.warp_smile)) + 2
    src = np.asarray(img, dtype=np.float32)
    out = np.zeros((h + 2 * pad, w, 4), dtype=np.float32)
    ys = np.arange(h, dtype=np.float64) + 0.5
    v = ys / h
    cy = h / 2.0
    k = max(0.02, 1.0 - st.warp_squash)
    rows = np.arange(h + 2 * pad, dtype=np.float64) + 0.5 - pad
    for x in range(w):
        u = (x + 0.5) / w
        dy = (ys - cy) * (k - 1.0)
        dy += st.warp_open * math.sin(math.pi * u) * np.clip(2.0 * v - 1.0, 0.0, 1.0)
        dy -= st.warp_smile * (2.0 * u - 1.0) ** 2
        dest = ys + dy
        srcy = np.interp(rows, dest, ys, left=-1.0, right=-1.0)
        valid = srcy >= 0
        fy = np.clip(srcy - 0.5, 0, h - 1)
        y0 = np.floor(fy).astype(int)
        y1 = np.minimum(y0 + 1, h - 1)
        t = (fy - y0)[:, None]
        col = src[y0, x] * (1 - t) + src[y1, x] * t
        out[:, x] = np.where(valid[:, None], col, 0.0)
    return Image.fromarray(out.clip(0, 255).astype(np.uint8), "RGBA"), pad


def _tinted(
    img: Image.Image, tint: tuple[float, float, float, float], opacity: float
) -> Image.Image:
    if tint == (1.0, 1.0, 1.0, 1.0) and opacity >= 1.0:
        return img
    arr = np.asarray(img, dtype=np.float32) * np.array([*tint[:3], tint[3] * opacity], np.float32)
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGBA")


def compose(
    pack: AvatarPack,
    params: dict[str, float] | None = None,
    *,
    variant: str | None = None,
    size: int | tuple[int, int] | None = None,
    background: tuple[int, int, int, int] = (0, 0, 0, 0),
) -> Image.Image:
    """Render ``pack`` at ``params`` (missing = rest) to an RGBA image of ``size`` (canvas)."""
    params = params or {}
    cw, ch = pack.canvas
    if size is None:
        size = (cw, ch)
    elif isinstance(size, int):
        size = (size, round(size * ch / cw))
    sx, sy = size[0] / cw, size[1] / ch
    to_out = np.diag([sx, sy, 1.0])
    canvas = Image.new("RGBA", size, background)
    mats = world_matrices(pack, params)
    for layer in sorted(pack.layers, key=lambda la: la.z):  # stable: equal z keeps pack order
        m, st = mats[layer.id]
        if st.opacity <= 0.0:
            continue
        path = st.sprite or pack.layer_image(layer.id, variant)
        img, pad = warp_image(_load(path), st)
        img = _tinted(img, pack.layer_tint(layer.id, variant), st.opacity)
        place = np.array([[1, 0, layer.position[0]], [0, 1, layer.position[1] - pad], [0, 0, 1]])
        full = to_out @ m @ place
        try:
            inv = np.linalg.inv(full)
        except np.linalg.LinAlgError:
            continue  # scaled to nothing
        coeffs = tuple(float(c) for c in inv[:2].reshape(-1))
        drawn = img.transform(size, Image.Transform.AFFINE, coeffs, Image.Resampling.BICUBIC)
        canvas.alpha_composite(drawn)
    return canvas


def thumbnail(pack: AvatarPack, variant: str | None = None, size: int = 256) -> Image.Image:
    """The pack's preview for ``variant`` (its preview file, else composed at rest)."""
    vid = variant or pack.default_variant
    chosen = pack.with_variant(vid).preview
    if chosen is not None and (chosen.name == f"preview-{vid}.png" or vid == pack.default_variant):
        img = Image.open(chosen).convert("RGBA")
        return (
            img if img.size == (size, size) else img.resize((size, size), Image.Resampling.LANCZOS)
        )
    return compose(pack, variant=vid, size=size)
