"""protocol.text.printable: what the peer or the relay says cannot drive the terminal."""

from __future__ import annotations

import pytest

from protocol.text import printable

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

R = "\ufffd"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\x00b\x07c\x08d\x7fe", f"a{R}b{R}c{R}d{R}e"),  # C0 and DEL
        ("a\x85b\x9bc", f"a{R}b{R}c"),  # C1 (NEL, CSI)
        ("\x1b[2Jcleared", f"{R}[2Jcleared"),  # ESC [ 2 J: clear screen
        ("\x1b]52;c;ZXZpbA==\x07", f"{R}]52;c;ZXZpbA=={R}"),  # OSC 52: write the clipboard
        ("\x1b]0;title\x1b\\", f"{R}]0;title{R}\\"),  # OSC 0 ended by ST
        ("abc\u202edcba", f"abc{R}dcba"),  # bidi override (RLO)
        ("\u2066x\u2069\u200f\ufeff", f"{R}x{R}{R}{R}"),  # isolates, RLM, BOM
        ("Eve\nEvil\r\tx", f"Eve{R}Evil{R}{R}x"),  # a name stays one line
        ("a\u2028b\u2029c", f"a{R}b{R}c"),  # line and paragraph separators
        ("lone \ud800 surrogate", f"lone {R} surrogate"),  # unencodable: printing it would raise
    ],
)
def test_controls_are_replaced(raw: str, shown: str) -> None:
    assert printable(raw) == shown


@pytest.mark.parametrize(
    "text",
    [
        "안녕하세요, 민수입니다!",
        "hi 👋 🦊",
        "[bold red]x[/]",
        "Ünïcödé — ¿qué? 日本語",
        " spaces  kept ",
    ],
)
def test_text_of_every_script_is_kept(text: str) -> None:
    assert printable(text) == text


def test_length_is_bounded() -> None:
    assert printable("가" * 1000) == "가" * 500
    assert printable("x" * 100, 64) == "x" * 64
    assert printable("") == ""


def test_log_text_escapes_and_bounds_untrusted_strings() -> None:
    from protocol.text import log_text

    forged = "bye\n2026-12-01 ERROR relay: forged\x1b[2J\ud800"
    quoted = log_text(forged)
    assert "\n" not in quoted and "\x1b" not in quoted and "\\n" in quoted and "\\ud800" in quoted
    assert log_text("x" * 200, 80) == ascii("x" * 80) + "..."
    assert log_text(b"\xff\x00ok") == ascii("\ufffd\x00ok")
