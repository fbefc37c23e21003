"""Drawing kit: supersampled shapes with gradients and outlines, and the pack builder.

Layers are drawn on a 2x canvas and downsampled (antialiasing), cropped to their visible box and
written as separate PNGs with an avatar.toml that rigs them (FORMAT.md).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
from PIL import Image, ImageChops, ImageDraw, ImageFilter

CANVAS = 512
#: Supersampling factor: shapes are drawn at 2x and downsampled for smooth edges.
SS = 2
Color = tuple[int, int, int] | tuple[int, int, int, int]
Pt = tuple[float, float]
Palette = dict[str, Any]


def hexc(s: str, a: int = 255) -> tuple[int, int, int, int]:
    s = s.lstrip("#")
    return (int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16), a)


def mix(c1: Color, c2: Color, t: float) -> tuple[int, int, int, int]:
    a1 = c1 if len(c1) == 4 else (*c1, 255)
    a2 = c2 if len(c2) == 4 else (*c2, 255)
    return tuple(round(a + (b - a) * t) for a, b in zip(a1, a2, strict=True))  # type: ignore[return-value]


def shade(c: Color, f: float) -> tuple[int, int, int, int]:
    """f < 0 darkens toward black, f > 0 lightens toward white."""
    return mix(c, (0, 0, 0) if f < 0 else (255, 255, 255), abs(f))


def catmull(points: Sequence[Pt], closed: bool = True, steps: int = 12) -> list[Pt]:
    """A smooth curve through ``points`` (Catmull-Rom), as a dense polyline."""
    pts = list(points)
    n = len(pts)
    out: list[Pt] = []
    segs = n if closed else n - 1
    for i in range(segs):
        p0 = pts[(i - 1) % n] if closed or i > 0 else pts[0]
        p1 = pts[i]
        p2 = pts[(i + 1) % n]
        p3 = pts[(i + 2) % n] if closed or i + 2 < n else pts[-1]
        for k in range(steps):
            t = k / steps
            t2, t3 = t * t, t * t * t
            out.append(
                tuple(  # type: ignore[arg-type]
                    0.5
                    * (
                        2 * b
                        + (-a + c) * t
                        + (2 * a - 5 * b + 4 * c - d) * t2
                        + (-a + 3 * b - 3 * c + d) * t3
                    )
                    for a, b, c, d in zip(p0, p1, p2, p3, strict=True)
                )
            )
    if not closed:
        out.append(pts[-1])
    return out


def bezier(p0: Pt, p1: Pt, p2: Pt, p3: Pt, steps: int = 24) -> list[Pt]:
    out = []
    for k in range(steps + 1):
        t = k / steps
        m = 1 - t
        out.append(
            (
                m**3 * p0[0] + 3 * m * m * t * p1[0] + 3 * m * t * t * p2[0] + t**3 * p3[0],
                m**3 * p0[1] + 3 * m * m * t * p1[1] + 3 * m * t * t * p2[1] + t**3 * p3[1],
            )
        )
    return out


class Pen:
    """Draws in 512-canvas coordinates onto a 2x supersampled RGBA layer."""

    def __init__(self) -> None:
        self.size = CANVAS * SS
        self.img = Image.new("RGBA", (self.size, self.size), (0, 0, 0, 0))

    # -- masks ---------------------------------------------------------------------------------
    def _mask(self) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        m = Image.new("L", (self.size, self.size), 0)
        return m, ImageDraw.Draw(m)

    def ellipse_mask(self, cx: float, cy: float, rx: float, ry: float) -> Image.Image:
        m, d = self._mask()
        d.ellipse([(cx - rx) * SS, (cy - ry) * SS, (cx + rx) * SS, (cy + ry) * SS], fill=255)
        return m

    def poly_mask(self, pts: Sequence[Pt]) -> Image.Image:
        m, d = self._mask()
        d.polygon([(x * SS, y * SS) for x, y in pts], fill=255)
        return m

    def stroke_mask(self, pts: Sequence[Pt], width: float) -> Image.Image:
        m, d = self._mask()
        w = max(1, round(width * SS))
        d.line([(x * SS, y * SS) for x, y in pts], fill=255, width=w, joint="curve")
        r = w / 2
        for x, y in (pts[0], pts[-1]):  # round caps
            d.ellipse([x * SS - r, y * SS - r, x * SS + r, y * SS + r], fill=255)
        return m

    def grown_mask(self, pts: Sequence[Pt], by: float) -> Image.Image:
        """A closed shape grown outward by ``by`` px (shape plus a stroke along its outline)."""
        ring = self.stroke_mask([*pts, pts[0]], 2 * by)
        return ImageChops.lighter(self.poly_mask(pts), ring)

    def copy_of(
        self, c: Palette, draws: Sequence[Callable[[Pen, Palette], None]], mask: Image.Image
    ) -> None:
        """Paint what ``draws`` would paint, but only inside ``mask`` (covers that match)."""
        tmp = Pen()
        for draw in draws:
            draw(tmp, c)
        alpha = ImageChops.multiply(tmp.img.getchannel("A"), mask)
        tmp.img.putalpha(alpha)
        self.img.alpha_composite(tmp.img)

    # -- paints --------------------------------------------------------------------------------
    def linear(
        self, c1: Color, c2: Color, y0: float, y1: float, x_axis: bool = False
    ) -> Image.Image:
        n = self.size
        coord = np.arange(n, dtype=np.float32) / SS
        t = np.clip((coord - y0) / max(1e-6, y1 - y0), 0, 1)
        a, b = np.array(mix(c1, c1, 0), np.float32), np.array(mix(c2, c2, 0), np.float32)
        line = a[None, :] + (b - a)[None, :] * t[:, None]
        arr = np.broadcast_to(line[None, :, :] if x_axis else line[:, None, :], (n, n, 4))
        return Image.fromarray(arr.astype(np.uint8), "RGBA")

    def radial(
        self, c_in: Color, c_out: Color, cx: float, cy: float, r: float, ry: float | None = None
    ) -> Image.Image:
        n = self.size
        ys, xs = np.mgrid[0:n, 0:n].astype(np.float32) / SS
        d = np.sqrt(((xs - cx) / r) ** 2 + ((ys - cy) / (ry or r)) ** 2)
        t = np.clip(d, 0, 1)[..., None]
        a, b = np.array(mix(c_in, c_in, 0), np.float32), np.array(mix(c_out, c_out, 0), np.float32)
        return Image.fromarray((a + (b - a) * t).astype(np.uint8), "RGBA")

    def _paint_img(self, paint: Color | Image.Image) -> Image.Image:
        if isinstance(paint, Image.Image):
            return paint
        return Image.new("RGBA", (self.size, self.size), mix(paint, paint, 0))

    # -- drawing -------------------------------------------------------------------------------
    def fill(
        self,
        mask: Image.Image,
        paint: Color | Image.Image,
        *,
        outline: Color | None = None,
        ow: float = 0.0,
        clip: Image.Image | None = None,
    ) -> None:
        """Paint ``mask`` (optionally outlined outward by ``ow`` px, optionally clipped)."""
        if clip is not None:
            mask = ImageChops.multiply(mask, clip)
        if outline is not None and ow > 0:
            k = round(ow * SS) * 2 + 1
            ring = mask.filter(ImageFilter.MaxFilter(k))
            if clip is not None:
                ring = ImageChops.multiply(ring, clip)
            self._put(ring, self._paint_img(outline))
        self._put(mask, self._paint_img(paint))

    def _put(self, mask: Image.Image, paint: Image.Image) -> None:
        layer = paint.copy()
        alpha = ImageChops.multiply(layer.getchannel("A"), mask)
        layer.putalpha(alpha)
        self.img.alpha_composite(layer)

    def ellipse(
        self, cx: float, cy: float, rx: float, ry: float, paint: Color | Image.Image, **kw: Any
    ) -> Image.Image:
        m = self.ellipse_mask(cx, cy, rx, ry)
        self.fill(m, paint, **kw)
        return m

    def shape(self, pts: Sequence[Pt], paint: Color | Image.Image, **kw: Any) -> Image.Image:
        m = self.poly_mask(pts)
        self.fill(m, paint, **kw)
        return m

    def stroke(
        self, pts: Sequence[Pt], color: Color, width: float, clip: Image.Image | None = None
    ) -> None:
        self.fill(self.stroke_mask(pts, width), color, clip=clip)

    def soft(self, mask: Image.Image, color: Color, blur: float) -> None:
        """A blurred glow/shadow of ``mask`` (blush, shading)."""
        self._put(mask.filter(ImageFilter.GaussianBlur(blur * SS)), self._paint_img(color))

    def final(self) -> Image.Image:
        """Downsample SSxSS blocks by their premultiplied mean: exact antialiasing.

        (A Lanczos resize rings at alpha edges, which shows as halos where layers repeat the
        art beneath them, e.g. the eye sockets.)
        """
        a = np.asarray(self.img, dtype=np.float64) / 255.0
        rgb, alpha = a[..., :3] * a[..., 3:4], a[..., 3:4]
        prem = np.concatenate([rgb, alpha], axis=2)
        n = CANVAS
        prem = prem.reshape(n, SS, n, SS, 4).mean(axis=(1, 3))
        al = prem[..., 3:4]
        col = np.where(al > 0, prem[..., :3] / np.maximum(al, 1e-9), 0.0)
        out = np.concatenate([col, al], axis=2)
        return Image.fromarray(np.round(out * 255.0).clip(0, 255).astype(np.uint8), "RGBA")


DrawFn = Callable[[Pen, Palette], None]


@dataclass
class LayerSpec:
    id: str
    draw: DrawFn
    parent: str = ""
    pivot: Pt = (256, 256)
    z: int = 0
    mesh: tuple[int, int] = (1, 1)
    bindings: list[dict[str, Any]] = field(default_factory=list)
    #: layers with the same group share one crop box (so warps line up across them)
    group: str | None = None
    #: canvas offset added to the drawn position: parts that hang below the 512 canvas at rest
    #: (arms) are drawn higher up on the pen and placed where they belong
    shift: Pt = (0.0, 0.0)
    #: [layers.bone] table (FORMAT.md, "Bones"), or None
    bone: dict[str, Any] | None = None


@dataclass
class VariantSpec:
    id: str
    name: str
    palette: Palette


@dataclass
class AvatarSpec:
    id: str
    name: str
    layers: list[LayerSpec]
    variants: list[VariantSpec]
    base: Palette
    version: str = "1.0.0"


def b(
    param: str,
    target: str,
    gain: float,
    offset: float = 0.0,
    lo: float | None = None,
    hi: float | None = None,
) -> dict[str, Any]:
    d: dict[str, Any] = {
        "param": param,
        "target": target,
        "gain": float(gain),
        "offset": float(offset),
    }
    if lo is not None:
        d["min"] = float(lo)
    if hi is not None:
        d["max"] = float(hi)
    return d


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _bbox(img: Image.Image) -> tuple[int, int, int, int] | None:
    # alpha below 3/255 is invisible; ignoring it keeps crops tight after resampling
    return img.getchannel("A").point(lambda a: 255 if a > 2 else 0).getbbox()


def build(spec: AvatarSpec, out: Path) -> dict[str, Any]:
    """Draw every layer for every variant, crop, write PNGs and avatar.toml into ``out``."""
    rendered: dict[str, dict[str, Image.Image]] = {}
    for v in spec.variants:
        pal = {**spec.base, **v.palette}
        for ls in spec.layers:
            pen = Pen()
            ls.draw(pen, pal)
            rendered.setdefault(ls.id, {})[v.id] = pen.final()
    boxes: dict[str, tuple[int, int, int, int]] = {}
    for ls in spec.layers:
        key = ls.group or ls.id
        for img in rendered[ls.id].values():
            bb = _bbox(img)
            if bb is None:
                continue
            old = boxes.get(key, bb)
            boxes[key] = (
                min(old[0], bb[0]),
                min(old[1], bb[1]),
                max(old[2], bb[2]),
                max(old[3], bb[3]),
            )
    (out / "layers").mkdir(parents=True, exist_ok=True)
    default = spec.variants[0].id
    layers_toml: list[dict[str, Any]] = []
    variants_toml: list[dict[str, Any]] = [
        {"id": v.id, "name": v.name, "textures": {}} for v in spec.variants
    ]
    for ls in spec.layers:
        x0, y0, x1, y1 = boxes[ls.group or ls.id]
        x0, y0 = max(0, x0 - 2), max(0, y0 - 2)
        x1, y1 = min(CANVAS, x1 + 2), min(CANVAS, y1 + 2)
        base = rendered[ls.id][default].crop((x0, y0, x1, y1))
        base_bytes = png_bytes(base)
        (out / "layers" / f"{ls.id}.png").write_bytes(base_bytes)
        for vt, v in zip(variants_toml, spec.variants, strict=True):
            if v.id == default:
                continue
            data = png_bytes(rendered[ls.id][v.id].crop((x0, y0, x1, y1)))
            if data != base_bytes:
                rel = f"layers/{ls.id}-{v.id}.png"
                (out / rel).write_bytes(data)
                vt["textures"][ls.id] = rel
        entry: dict[str, Any] = {
            "id": ls.id,
            "image": f"layers/{ls.id}.png",
            "parent": ls.parent,
            "position": [x0 + round(ls.shift[0]), y0 + round(ls.shift[1])],
            "pivot": [float(ls.pivot[0]), float(ls.pivot[1])],
            "z": ls.z,
            "mesh": list(ls.mesh),
        }
        if ls.bindings:
            entry["bindings"] = ls.bindings
        if ls.bone:
            entry["bone"] = ls.bone
        layers_toml.append(entry)
    for vt in variants_toml:
        if not vt["textures"]:
            del vt["textures"]
    doc = {
        "pack": {
            "format": 1,
            "id": spec.id,
            "name": spec.name,
            "version": spec.version,
            "author": "avatarchat",
            "license": "CC0-1.0",
            "canvas": [CANVAS, CANVAS],
            "default_variant": default,
        },
        "variants": variants_toml,
        "layers": layers_toml,
    }
    header = (
        f"# {spec.name}: generated by scripts/draw_avatars.py - edit the script, not this.\n"
        "# Layer sides follow the parameters: *_left is the subject's left (viewer's right).\n"
    )
    (out / "avatar.toml").write_text(header + tomli_w.dumps(doc), encoding="utf-8")
    return doc


def angle_pts(
    cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 24
) -> list[Pt]:
    """Points on an ellipse arc, angles in degrees (0 = right, 90 = down)."""
    return [
        (
            cx + rx * math.cos(math.radians(a0 + (a1 - a0) * i / n)),
            cy + ry * math.sin(math.radians(a0 + (a1 - a0) * i / n)),
        )
        for i in range(n + 1)
    ]
