"""The peer's hand gestures as a short burst over their avatar (:class:`ShowGesture`).

A gesture (thumbs-up, wave, peace) is shown as a handful of hand icons that rise and fade beside
the hand that made it, with a one-line caption, over :data:`BURST_S`. The icons are drawn once
with PIL (no emoji font is needed: Debian desktops and Xvfb have none, and pyglet has no
per-glyph fallback) and uploaded once per gesture kind; a frame only moves and fades a few
sprites, so a burst costs the paced loop nothing measurable. Bursts are capped
(:data:`MAX_BURSTS`): a peer sending gestures in a loop cannot pile up work.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import pyglet

from i18n import N_, _
from protocol.body import GESTURES, Side

#: How long one burst lasts, and how many icons it has (the first one larger, then smaller).
BURST_S = 1.5
ICONS_PER_BURST = 5
#: Icons start over this long, so the burst reads as a puff, not a block.
STAGGER_S = 0.25
#: Bursts on screen at once; a new one beyond this replaces the oldest.
MAX_BURSTS = 3
#: Icon size in pixels at a 720-pixel-high window (scaled with the window).
ICON_PX = 96
#: How far icons rise over a burst, as a fraction of the window height.
RISE = 0.35
#: Caption per gesture (shown under the burst).
CAPTION = {
    "thumbs_up": N_("Thumbs up!"),
    "wave": N_("Hello! (waving)"),
    "peace": N_("Peace!"),
}
#: Emoji-like yellow with a warm outline.
SKIN = (255, 204, 77, 255)
INK = (135, 85, 20, 255)


def _icon(name: str, size: int = ICON_PX) -> Any:
    """A hand icon for ``name`` as an RGBA PIL image (drawn 4x and downsampled)."""
    from PIL import Image, ImageDraw

    ss = 4
    n = size * ss
    img = Image.new("RGBA", (n, n), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    k = n / 96.0

    def capsule(x0: float, y0: float, x1: float, y1: float, w: float) -> None:
        for width, color in ((w + 5, INK), (w, SKIN)):
            d.line([(x0 * k, y0 * k), (x1 * k, y1 * k)], fill=color, width=round(width * k))
            for x, y in ((x0, y0), (x1, y1)):
                r = width * k / 2
                d.ellipse([x * k - r, y * k - r, x * k + r, y * k + r], fill=color)

    def palm(x0: float, y0: float, x1: float, y1: float) -> None:
        d.rounded_rectangle([x0 * k, y0 * k, x1 * k, y1 * k], radius=12 * k, fill=SKIN,
                            outline=INK, width=round(3 * k))  # fmt: skip

    if name == "thumbs_up":
        capsule(38, 46, 38, 12, 17)
        palm(24, 42, 74, 86)
        for y in (54, 65, 76):
            d.line([(46 * k, y * k), (72 * k, y * k)], fill=INK, width=round(2.5 * k))
    elif name == "peace":
        capsule(42, 52, 30, 12, 14)
        capsule(56, 52, 68, 12, 14)
        palm(28, 46, 70, 88)
        capsule(36, 64, 58, 60, 11)  # the thumb folded over the ring and little fingers
    else:  # wave: an open hand with motion marks
        for x0, x1 in ((36, 28), (46, 44), (56, 60), (65, 74)):
            capsule(x0, 50, x1, 14 + abs(x1 - 50) * 0.3, 12)
        capsule(30, 66, 14, 50, 13)
        palm(28, 44, 70, 88)
        for side in (-1, 1):
            cx = 48 + side * 42
            d.arc([(cx - 8) * k, 20 * k, (cx + 8) * k, 52 * k],
                  start=-60 if side > 0 else 120, end=60 if side > 0 else 240,
                  fill=INK, width=round(3 * k))  # fmt: skip
    return img.resize((size, size), Image.Resampling.LANCZOS)


@dataclass
class _Burst:
    start: float | None  # set by the first update after it was asked for
    sprites: list[Any]
    caption: Any
    paths: list[tuple[float, float, float, float]]  # (delay, dx, wobble phase, scale)
    side: Side
    name: str = ""
    done: bool = field(default=False)


class GestureBursts:
    """Gesture bursts over the peer's avatar; all drawing goes through the shared batch."""

    def __init__(self, batch: pyglet.graphics.Batch, font: str | None, order: int) -> None:
        self.batch = batch
        self.font = font
        self.group = pyglet.graphics.Group(order=order)
        self._textures: dict[str, Any] = {}
        self._bursts: list[_Burst] = []
        self._area = (0.0, 0.0, 1.0, 1.0)  # window coordinates of the peer's picture
        self._rng = random.Random(17)
        for name in GESTURES:  # drawn and uploaded now: a first gesture mid-call must not stall
            self._texture(name)

    def layout(self, x: float, y: float, width: float, height: float) -> None:
        self._area = (x, y, max(1.0, width), max(1.0, height))

    def _texture(self, name: str) -> Any:
        if name not in self._textures:
            img = _icon(name)
            # PIL rows run top-down, GL's bottom-up: a negative pitch says so
            image = pyglet.image.ImageData(
                img.width, img.height, "RGBA", img.tobytes(), pitch=-img.width * 4
            )
            image.anchor_x, image.anchor_y = img.width // 2, img.height // 2
            self._textures[name] = image
        return self._textures[name]

    def show(self, name: str, side: int) -> None:
        """Start a burst for ``name`` made with the peer's ``side`` hand (their own left is
        drawn on the viewer's right, like the avatar)."""
        if name not in GESTURES:
            return  # the command was validated; this only guards a future name
        while len(self._bursts) >= MAX_BURSTS:
            self._free(self._bursts.pop(0))
        image = self._texture(name)
        sprites, paths = [], []
        for i in range(ICONS_PER_BURST):
            s = pyglet.sprite.Sprite(image, batch=self.batch, group=self.group)
            s.opacity = 0
            sprites.append(s)
            delay = 0.0 if i == 0 else self._rng.uniform(0.05, STAGGER_S)
            scale = 1.0 if i == 0 else self._rng.uniform(0.45, 0.7)
            dx = 0.0 if i == 0 else self._rng.uniform(-0.09, 0.09)
            paths.append((delay, dx, self._rng.uniform(0, 2 * math.pi), scale))
        caption = pyglet.text.Label(
            _(CAPTION[name]),
            font_name=self.font,
            font_size=18,
            color=(255, 255, 255, 0),
            anchor_x="center",
            anchor_y="top",
            batch=self.batch,
            group=self.group,
        )
        self._bursts.append(_Burst(None, sprites, caption, paths, Side(side), name))

    def update(self, now: float) -> bool:
        """Move and fade the icons for ``now``; returns whether any burst is showing."""
        x0, y0, w, h = self._area
        px = min(w, h) / 720.0
        for burst in list(self._bursts):
            if burst.start is None:  # its life starts with the first frame that draws it
                burst.start = now
            t = now - burst.start
            if t >= BURST_S:
                self._bursts.remove(burst)
                self._free(burst)
                continue
            # the peer's own left hand is drawn on the viewer's right
            cx = x0 + w * (0.5 + (0.27 if burst.side is Side.LEFT else -0.27))
            base_y = y0 + h * 0.42
            for sprite, (delay, dx, phase, scale) in zip(burst.sprites, burst.paths, strict=True):
                k = (t - delay) / (BURST_S - delay)
                if k <= 0:
                    sprite.opacity = 0
                    continue
                ease = 1.0 - (1.0 - k) ** 2  # fast start, slowing down
                pop = min(1.0, k * 6.0)  # grows in over the first sixth
                sprite.update(
                    x=cx + (dx * w + 10 * px * math.sin(phase + 7.0 * t)),
                    y=base_y + RISE * h * ease,
                    scale=px * scale * (0.6 + 0.4 * pop),
                )
                sprite.opacity = round(255 * _fade(k))
            burst.caption.x = cx
            burst.caption.y = base_y - 60 * px
            burst.caption.font_size = max(10.0, 18 * px)
            r, g, b, _a = burst.caption.color
            burst.caption.color = (r, g, b, round(255 * _fade(t / BURST_S)))
        return bool(self._bursts)

    @property
    def active(self) -> list[str]:
        """Names of the bursts on screen (for stats and tests)."""
        return [b.name for b in self._bursts]

    @staticmethod
    def _free(burst: _Burst) -> None:
        for s in burst.sprites:
            s.delete()
        burst.caption.delete()

    def close(self) -> None:
        for burst in self._bursts:
            self._free(burst)
        self._bursts.clear()


def _fade(k: float) -> float:
    """Opacity over a burst's life 0..1: in fast, held, out over the last 40 %."""
    if k < 0.08:
        return k / 0.08
    if k > 0.6:
        return max(0.0, (1.0 - k) / 0.4)
    return 1.0
