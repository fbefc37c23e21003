"""Understand what people paste into the join box.

People paste whatever they were sent: the bare room code, the whole one-line join command
(``avatarchat-tui --relay ws://10.0.0.5:8765 --join CODE``), or the command with stray quotes.
Accepting all of them saves a round of "which part do I copy?".
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from protocol.signaling import ROOM_CODE_RE


@dataclass(frozen=True, slots=True)
class JoinTarget:
    room: str
    relay: str = ""  # "" = not given in the pasted text


def parse_join_text(text: str) -> JoinTarget | None:
    """A room code (and relay, if present) from pasted text; None if there is no valid code."""
    text = text.strip()
    if not text:
        return None
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    relay = ""
    room = ""
    for i, word in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if word == "--relay":
            relay = nxt
        elif word.startswith("--relay="):
            relay = word.split("=", 1)[1]
        elif word == "--join":
            room = nxt
        elif word.startswith("--join="):
            room = word.split("=", 1)[1]
    if not room and len(words) == 1:
        room = words[0]
    if not ROOM_CODE_RE.match(room):
        return None
    return JoinTarget(room, relay)
