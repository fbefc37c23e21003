"""The Korean interface in a real terminal (tmux, 80x24), as a Korean user meets it: the locale
says Korean, the screens and the footer are in Korean, a Hangul name typed with the keyboard
shows whole and keeps the box borders in place (two cells per syllable), and a call's screen
and hang-up speak Korean too.
"""

from __future__ import annotations

import os
import shlex
import sys
import unicodedata
from pathlib import Path

import pytest

from .test_e2e_tmux import REPO, STEP_TIMEOUT_S, Tmux, tmux  # noqa: F401 - the fixture

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

WIDTH, HEIGHT = 80, 24


def cells(line: str) -> int:
    """Terminal cells ``line`` takes (Hangul syllables are two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def test_korean_locale_at_80x24(tmux: Tmux, tmp_path: Path) -> None:  # noqa: F811
    env = {
        "AVATARCHAT_CONFIG_DIR": str(tmp_path / "config"),
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "TERM": "xterm-256color",
        # Text encoding from a locale every machine has; the messages' language from the
        # user's Korean choice (gettext's LC_MESSAGES).
        "LANG": "C.UTF-8",
        "LC_MESSAGES": "ko_KR.UTF-8",
    }
    tui = f"{shlex.quote(sys.executable)} -m tui --no-window --source synthetic"
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    cwd = shlex.quote(str(REPO))
    shell = f"cd {cwd} && env -i {exports} {tui}; echo APP-EXITED-$?; sleep 60"
    tmux.run("new-session", "-d", "-s", "ko", "-x", str(WIDTH), "-y", str(HEIGHT), shell)

    screen = tmux.wait_for("ko", lambda s: "방 만들기" in s, STEP_TIMEOUT_S, "the home screen")
    assert "^n 방 만들기" in screen and "^s 설정" in screen  # the footer
    tmux.text("ko", "김지민")  # the name field has the focus when it is empty
    screen = tmux.wait_for("ko", lambda s: "김지민" in s, STEP_TIMEOUT_S, "the typed name")
    name_line = next(line for line in screen.splitlines() if "김지민" in line)
    border_line = next(line for line in screen.splitlines() if "표시 이름" in line)
    # The box's right edge is where it is on the label's line: nothing shifted or cut.
    assert cells(name_line.rstrip()) == cells(border_line.rstrip()), (name_line, screen)
    assert name_line.rstrip().endswith("│") and cells(name_line.rstrip()) >= WIDTH - 2

    tmux.keys("ko", "C-s")
    tmux.wait_for("ko", lambda s: "언어 (Language)" in s, STEP_TIMEOUT_S, "the settings")
    tmux.keys("ko", "Escape")
    tmux.wait_for("ko", lambda s: "방 만들기" in s, STEP_TIMEOUT_S, "home again")

    tmux.keys("ko", "C-n")
    screen = tmux.wait_for(
        "ko", lambda s: "기다리는 중" in s and "방 코드:" in s, STEP_TIMEOUT_S, "the call screen"
    )
    assert "^g 끊기" in screen
    tmux.keys("ko", "C-g")  # through a real terminal: the Ctrl key, not F10
    tmux.wait_for("ko", lambda s: "방 만들기" in s, STEP_TIMEOUT_S, "home after hanging up")
    tmux.keys("ko", "C-c")
    tmux.wait_for("ko", lambda s: "APP-EXITED-0" in s, STEP_TIMEOUT_S, "a clean exit")
