"""A software compositor for packs: previews, terminal thumbnails and checking art by eye.

It follows FORMAT.md exactly (same binding semantics as the GPU renderer via
:func:`avatars.model.binding_value`) but evaluates warps continuously per pixel column instead
of on a vertex mesh, so it is the reference the renderer's screenshots can be compared with.
It is meant for a handful of frames, not for 60 FPS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from avatars.bones import IDENTITY, Mat, apply, bone_angle, bone_stretch, local_mat, mul
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


def pose_layers(
    layers: Sequence[Layer], params: Mapping[str, float]
) -> list[tuple[Mat, LayerState]]:
    """Each layer's canvas transform and state, in ``layers`` order (parents first).

    A bone (FORMAT.md, "Bones") turns to its segment's direction relative to the nearest
    ancestor bone and stretches along its length; the stretch belongs to the bone's own image:
    its children keep the unstretched orientation and scale but move with the stretched point
    under their pivot (a hand stays at the end of a foreshortened forearm, undistorted).
    """
    p = params if isinstance(params, dict) else dict(params)
    index: dict[str, int] = {}
    plain: list[Mat] = []  # what children inherit
    angles: list[float] = []  # absolute bone angle in effect (0 above the first bone)
    out: list[tuple[Mat, LayerState]] = []
    for i, layer in enumerate(layers):
        st = layer_state(layer, p)
        parent = index.get(layer.parent) if layer.parent is not None else None
        base_angle = angles[parent] if parent is not None else 0.0
        rotate, stretch, angle = st.rotate, 1.0, base_angle
        if layer.bone is not None:
            angle = bone_angle(layer.bone, p)
            rotate += angle - base_angle
            stretch = bone_stretch(layer.bone, p)
        own = local_mat(layer.pivot, st.offset, rotate, st.scale)
        full = own
        if stretch != 1.0:
            full = local_mat(layer.pivot, st.offset, rotate, (st.scale[0], st.scale[1] * stretch))
        frame = IDENTITY
        if parent is not None:
            frame = plain[parent]
            drawn = out[parent][0]
            if drawn is not frame:  # the parent is stretched: attach to its stretched point
                x, y = layer.pivot
                fx, fy = apply(drawn, x, y)
                nx, ny = apply(frame, x, y)
                frame = (
                    frame[0],
                    frame[1],
                    frame[2] + fx - nx,
                    frame[3],
                    frame[4],
                    frame[5] + fy - ny,
                )
        world = mul(frame, own)
        out.append((world if full is own else mul(frame, full), st))
        plain.append(world)
        angles.append(angle)
        index[layer.id] = i
    return out


def world_matrices(
    pack: AvatarPack, params: dict[str, float]
) -> dict[str, tuple[Matrix, LayerState]]:
    """Each layer's canvas transform (3x3, for PIL) and its state (:func:`pose_layers`)."""
    out: dict[str, tuple[Matrix, LayerState]] = {}
    for layer, (m, st) in zip(pack.layers, pose_layers(pack.layers, params), strict=True):
        out[layer.id] = (np.array([[m[0], m[1], m[2]], [m[3], m[4], m[5]], [0.0, 0.0, 1.0]]), st)
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
