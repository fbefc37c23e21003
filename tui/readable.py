"""Turn what children say into one readable line for people (never a traceback)."""

from __future__ import annotations

import re

from i18n import N_, _
from protocol.text import printable

#: Long enough for "tracking exited with code 1: RuntimeError: cannot open camera /dev/video0".
MAX_MESSAGE_CHARS = 240
_TRACEBACK_HEAD = "Traceback (most recent call last)"
_FILE_LINE = re.compile(r'^\s*File ".*", line \d+')

#: Child names as people know them (English message ids: shown through :func:`child_name`).
CHILD_NAMES = {
    "tracking": N_("Face tracking"),
    "render": N_("Avatar window"),
    "peer": N_("Connection"),
    "relay": N_("Local relay"),
    "call": N_("Call"),
    "vmc": N_("VMC sender"),  # the setting "also send my tracking to VMC" (peer.vmc_send)
}
#: What each call or child state is called on screen (unknown states: the word itself).
STATE_LABELS = {
    "starting": N_("Starting"),
    "signaling": N_("Signaling"),
    "connecting": N_("Connecting"),
    "waiting": N_("Waiting"),
    "connected": N_("Connected"),
    "peer_lost": N_("Peer lost"),
    "peer_left": N_("Peer left"),
    "reconnecting": N_("Reconnecting"),
    "refused": N_("Refused"),
    "no_room": N_("Nobody here"),
    "failed": N_("Failed"),
    "ended": N_("Ended"),
    "closed": N_("Closed"),
    "paused": N_("Paused"),
    "calibrating": N_("Calibrating"),
    "calibrated": N_("Calibrated"),
    "camera_error": N_("Camera error"),
    "running": N_("Running"),
    "no_face": N_("No face"),
}

#: Emotion presets as people read them (the wire carries the preset number).
EMOTION_LABELS = {
    "happy": N_("happy"),
    "sad": N_("sad"),
    "angry": N_("angry"),
    "surprised": N_("surprised"),
    "neutral": N_("neutral"),
}
#: A child process's state in the call screen's process line (others shown as they are).
PROC_STATES = {
    "starting": N_("starting"),
    "running": N_("running"),
    "restarting": N_("restarting"),
    "stopped": N_("stopped"),
}

#: Sentences about the peer: (with their name, without one). Two ids rather than a fallback
#: name, because Korean says "민수 님이 나갔습니다" but "상대가 나갔습니다", never "상대 님이".
PEER_PHRASES = {
    "here": (
        N_("{who} is here (avatar {avatar})"),
        N_("The other person is here (avatar {avatar})"),
    ),
    "left": (N_("{who} left the call"), N_("The other person left the call")),
    "shows": (N_("{who} shows: {emotion}"), N_("The other person shows: {emotion}")),
}


def about_peer(kind: str, name: str, **fields: str) -> str:
    """A sentence about the peer, named when they said their name (see :data:`PEER_PHRASES`)."""
    named, unnamed = PEER_PHRASES[kind]
    return _(named if name else unnamed).format(who=name, **fields)


def child_name(child: str) -> str:
    """``tracking`` -> "Face tracking" in the current language (unknown names as they are)."""
    name = CHILD_NAMES.get(child)
    return _(name) if name else child


def readable_error(message: object, child: str = "") -> str:
    """One line: the last meaningful line of ``message``, prefixed with who said it."""
    text = str(message or "").replace("\r", "")
    lines = [
        line.strip()
        for line in text.split("\n")
        if line.strip() and _TRACEBACK_HEAD not in line and not _FILE_LINE.match(line)
    ]
    # A traceback's last line is the exception; elsewhere the first line is the summary.
    line = (lines[-1] if _TRACEBACK_HEAD in text else lines[0]) if lines else _("unknown error")
    # Error messages quote what the peer or the relay said: no control characters, one line.
    line = printable(line.replace("\t", " "), len(line))
    if len(line) > MAX_MESSAGE_CHARS:
        line = line[: MAX_MESSAGE_CHARS - 1] + "…"
    who = child_name(child) if child in CHILD_NAMES else ""
    return f"{who}: {line}" if who and not line.lower().startswith(child.lower()) else line


def state_label(state: str) -> str:
    """``peer_left`` -> ``Peer left`` (in the current language)."""
    label = STATE_LABELS.get(state or "starting")
    return _(label) if label else state.replace("_", " ").strip().capitalize()
