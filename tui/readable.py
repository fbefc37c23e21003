"""Turn what children say into one readable line for people (never a traceback)."""

from __future__ import annotations

import re

from protocol.text import printable

#: Long enough for "tracking exited with code 1: RuntimeError: cannot open camera /dev/video0".
MAX_MESSAGE_CHARS = 240
_TRACEBACK_HEAD = "Traceback (most recent call last)"
_FILE_LINE = re.compile(r'^\s*File ".*", line \d+')

#: Child names as people know them.
CHILD_NAMES = {
    "tracking": "Face tracking",
    "render": "Avatar window",
    "peer": "Connection",
    "relay": "Local relay",
    "call": "Call",
}


def readable_error(message: object, child: str = "") -> str:
    """One line: the last meaningful line of ``message``, prefixed with who said it."""
    text = str(message or "").replace("\r", "")
    lines = [
        line.strip()
        for line in text.split("\n")
        if line.strip() and _TRACEBACK_HEAD not in line and not _FILE_LINE.match(line)
    ]
    # A traceback's last line is the exception; elsewhere the first line is the summary.
    line = (lines[-1] if _TRACEBACK_HEAD in text else lines[0]) if lines else "unknown error"
    # Error messages quote what the peer or the relay said: no control characters, one line.
    line = printable(line.replace("\t", " "), len(line))
    if len(line) > MAX_MESSAGE_CHARS:
        line = line[: MAX_MESSAGE_CHARS - 1] + "…"
    who = CHILD_NAMES.get(child, "")
    return f"{who}: {line}" if who and not line.lower().startswith(child.lower()) else line


def state_label(state: str) -> str:
    """``peer_left`` -> ``Peer left``."""
    return state.replace("_", " ").strip().capitalize() or "Starting"
