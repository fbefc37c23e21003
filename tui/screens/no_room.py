"""Asked when the room we were invited to has nobody in it.

A wrong or expired code used to open a new empty room and wait there forever without a word.
The networking process now says ``no_room`` at once; this asks the user what to do: wait for
the other person anyway (they may not have joined yet), or go back and check the code.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from i18n import N_, _
from protocol.text import printable
from tui.lang import translate_bindings


class NoRoomScreen(ModalScreen[bool]):
    """Dismisses with True (wait in the room) or False (go back)."""

    BINDINGS = [
        Binding("escape", "back", N_("Back")),
        Binding("w", "wait", N_("Wait")),
    ]

    def __init__(self, room: str) -> None:
        super().__init__()
        self.room = room
        translate_bindings(self)

    def compose(self) -> ComposeResult:
        with Vertical(id="no-room-box", classes="box"):
            yield Label(
                _("No one is in room {room}.").format(room=printable(self.room, 64)),
                id="no-room-title",
            )
            yield Label(
                _(
                    "The code may be mistyped or expired: check it with the person who sent "
                    "it, or ask them for a new one. If they have not joined yet, wait for them."
                ),
                id="no-room-help",
            )
            with Horizontal(classes="buttons"):
                yield Button(_("Wait for them"), variant="primary", id="no-room-wait")
                yield Button(_("Back"), id="no-room-back")

    def on_mount(self) -> None:
        self.query_one("#no-room-box").border_title = _("Nobody here")
        self.query_one("#no-room-back", Button).focus()

    @on(Button.Pressed, "#no-room-wait")
    def action_wait(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no-room-back")
    def action_back(self) -> None:
        self.dismiss(False)
