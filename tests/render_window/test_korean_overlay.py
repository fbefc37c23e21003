"""The avatar window's banner in Korean, under real Xvfb: the language arrives through the
environment (as from the TUI), the font has Hangul, and the banner holds real glyphs, not empty
boxes.

Why the glyph check works: a font without Hangul draws every syllable as the same box (or
nothing), so the text band would hold at most one distinct glyph shape; "상대가 통화에서
나갔습니다" has eleven different syllables.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import i18n
from protocol.ring import ShmRing

from .harness import Feeder, Image_, Window

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

W, H = 640, 360


def banner_band(height: int) -> slice:
    """render_window.app._layout: a 56 px band whose bottom is 8 % up from the bottom."""
    return slice(int(height - height * 0.08 - 56), int(height - height * 0.08))


def glyph_shapes(img: Image_) -> set[bytes]:
    """The distinct shapes of the text in the banner: runs of columns holding bright pixels."""
    bright = np.asarray((img[banner_band(img.shape[0])] > 200).all(axis=-1))
    columns = [bool(c) for c in np.asarray(bright.any(axis=0)).tolist()]
    shapes: set[bytes] = set()
    x = 0
    while x < len(columns):
        if columns[x]:
            end = x
            while end < len(columns) and columns[end]:
                end += 1
            shapes.add(np.packbits(bright[:, x:end]).tobytes() + bytes([end - x]))
            x = end
        else:
            x += 1
    return shapes


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_banner_speaks_the_language_from_the_environment(
    xvfb_display: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    monkeypatch.setenv(i18n.LANG_ENV, lang)
    ring = ShmRing.create("remote")
    feeder = Feeder(ring)
    win = Window(
        xvfb_display,
        [
            *("--remote-ring", ring.name, "--no-self-view", "--no-breath", "--seed", "3"),
            *("--width", str(W), "--height", str(H)),
        ],
        tmp_path,
    )
    try:
        ready = win.wait("ready")
        assert ready["language"] == lang
        if lang == "ko" and ready["banner_font"] is None:
            pytest.skip("no font with Hangul is installed (Debian fonts-nanum: system-deps.sh)")
        seq = feeder.set({})
        win.wait("overlay", lambda e: e["state"] == "")
        plain = win.shot(min_seq=seq + 2)
        win.cmd("overlay", state="peer_left")
        win.wait("overlay", lambda e: e["state"] == "peer_left")
        banner = win.shot()
    finally:
        assert win.close() == 0
        feeder.close()
        ring.close()
    assert not glyph_shapes(plain), "bright text in the banner area before any banner"
    shapes = glyph_shapes(banner)
    # Korean: 11 different syllables; English: "The other person left the call" (many letters).
    assert len(shapes) >= 8, f"{len(shapes)} distinct glyph shapes: boxes instead of text?"
