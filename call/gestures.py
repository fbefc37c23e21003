"""What front-ends say when the peer makes a hand gesture (the TUI's call log, the CLI's
status lines): one sentence per known gesture, through :mod:`i18n`.

The gesture name reaching here was checked against :data:`protocol.body.GESTURES` by the
networking process (it is the peer's, untrusted); the name of the person is the peer's too and
is made printable here, so a front-end can show the sentence as it is.
"""

from __future__ import annotations

from i18n import N_, _
from protocol.text import printable

#: gesture -> sentence (``{name}`` = the peer's display name).
GESTURE_SENTENCES = {
    "thumbs_up": N_("{name} gave a thumbs-up 👍"),
    "wave": N_("{name} waved 👋"),
    "peace": N_("{name} made a peace sign ✌️"),
}
#: One emoji per gesture, for compact places (a status bar, the window's burst).
GESTURE_EMOJI = {"thumbs_up": "👍", "wave": "👋", "peace": "✌️"}


def gesture_sentence(gesture: str, name: str) -> str:
    """``"Mina waved 👋"`` in the user's language; the peer's name made printable and cut."""
    who = printable(name, 40) if name else _("the other person")
    template = GESTURE_SENTENCES.get(gesture)
    if template is None:  # not reachable through the networking process; never a crash
        return _("{name} made a gesture").format(name=who)
    return _(template).format(name=who)
