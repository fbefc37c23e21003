"""Pictures in the terminal with half-block characters: avatar previews and QR codes.

Each character cell shows two vertical pixels: ``▀`` with the upper pixel as foreground colour
and the lower one as background. That doubles the vertical resolution, works in every terminal
with true or 256 colours, and needs nothing beyond Pillow (no sixel/kitty protocol support).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import qrcode
from PIL import Image
from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style

UPPER_HALF = "▀"
RGB = tuple[int, int, int]


class HalfBlocks:
    """A rich renderable: ``pixels`` is rows of RGB tuples (an even number of rows)."""

    def __init__(self, pixels: Sequence[Sequence[RGB]]) -> None:
        self.pixels = pixels
        self.width = len(pixels[0]) if pixels else 0
        self.height = (len(pixels) + 1) // 2
        self._styles: dict[tuple[RGB, RGB], Style] = {}

    def _style(self, top: RGB, bottom: RGB) -> Style:
        key = (top, bottom)
        style = self._styles.get(key)
        if style is None:
            style = Style(color=Color.from_rgb(*top), bgcolor=Color.from_rgb(*bottom))
            self._styles[key] = style
        return style

    def lines(self) -> list[list[Segment]]:
        out: list[list[Segment]] = []
        rows = list(self.pixels)
        if len(rows) % 2:
            rows.append(rows[-1])
        for y in range(0, len(rows), 2):
            top_row, bottom_row = rows[y], rows[y + 1]
            line: list[Segment] = []
            for top, bottom in zip(top_row, bottom_row, strict=True):
                line.append(Segment(UPPER_HALF, self._style(top, bottom)))
            out.append(list(Segment.simplify(line)))
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines():
            yield from line
            yield Segment.line()


def image_pixels(
    image: Image.Image, width: int, height: int, background: RGB = (0, 0, 0)
) -> list[list[RGB]]:
    """Fit ``image`` into ``width`` x ``height`` *cells* (2 pixels per cell vertically),
    keeping its aspect ratio, centred on ``background`` (transparent areas show it)."""
    px_w, px_h = max(1, width), max(2, height * 2)
    img = image.convert("RGBA")
    scale = min(px_w / img.width, px_h / img.height)
    new_size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    img = img.resize(new_size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (px_w, px_h), (*background, 255))
    canvas.alpha_composite(img, ((px_w - new_size[0]) // 2, (px_h - new_size[1]) // 2))
    raw = canvas.convert("RGB").tobytes()
    return [
        [(raw[i], raw[i + 1], raw[i + 2]) for i in range(y * px_w * 3, (y + 1) * px_w * 3, 3)]
        for y in range(px_h)
    ]


#: QR codes are drawn black on white whatever the terminal theme: scanners need the contrast
#: and the quiet zone (border) to be light.
QR_DARK: RGB = (0, 0, 0)
QR_LIGHT: RGB = (255, 255, 255)


def qr_matrix(data: str, border: int = 2) -> list[list[bool]]:
    """The QR modules for ``data`` (True = dark), with a ``border``-module quiet zone."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L, box_size=1, border=border)
    qr.add_data(data)
    qr.make(fit=True)
    return [list(map(bool, row)) for row in qr.get_matrix()]


def qr_pixels(data: str, border: int = 2) -> list[list[RGB]]:
    return [[QR_DARK if dark else QR_LIGHT for dark in row] for row in qr_matrix(data, border)]


def qr_text_lines(data: str, border: int = 2) -> list[str]:
    """The QR code as plain half-block text (for logs and files; no colours needed:
    ``█`` both dark, ``▀`` top dark, ``▄`` bottom dark, space both light)."""
    matrix = qr_matrix(data, border)
    if len(matrix) % 2:
        matrix.append([False] * len(matrix[0]))
    chars = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
    return [
        "".join(chars[(t, b)] for t, b in zip(matrix[y], matrix[y + 1], strict=True))
        for y in range(0, len(matrix), 2)
    ]


def solid(width: int, height: int, colour: RGB) -> list[list[RGB]]:
    return [[colour] * width for _ in range(height * 2)]


def flatten(rows: Iterable[Sequence[RGB]]) -> list[list[RGB]]:
    return [list(r) for r in rows]
