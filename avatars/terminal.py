"""Avatar thumbnails for terminals: truecolor half-block text (two pixels per character cell).

Used by ``avatarchat avatar show`` and available to the TUI's picker; it needs no graphics
protocol, only a terminal with 24-bit colour.
"""

from __future__ import annotations

from PIL import Image

UPPER_HALF = "\u2580"  # foreground paints the top pixel, background the bottom one


def halfblock_lines(
    img: Image.Image, columns: int, background: tuple[int, int, int] = (0, 0, 0)
) -> list[str]:
    """``img`` as ANSI lines ``columns`` characters wide (alpha blended over ``background``)."""
    w, h = img.size
    rows = max(1, round(h * columns / w / 2))
    flat = Image.new("RGBA", img.size, (*background, 255))
    flat.alpha_composite(img.convert("RGBA"))
    small = flat.convert("RGB").resize((columns, rows * 2), Image.Resampling.LANCZOS)
    px = small.load()
    assert px is not None
    lines = []
    for r in range(rows):
        parts = []
        for c in range(columns):
            tr, tg, tb = px[c, 2 * r]  # type: ignore[misc]
            br, bg, bb = px[c, 2 * r + 1]  # type: ignore[misc]
            parts.append(f"\x1b[38;2;{tr};{tg};{tb}m\x1b[48;2;{br};{bg};{bb}m{UPPER_HALF}")
        lines.append("".join(parts) + "\x1b[0m")
    return lines
