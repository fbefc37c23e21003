"""Asked once, before a call started from the command line, when there is no name to use.

``--join CODE`` (or ``--create``) skips the home screen, where the name field is. Without
``--name`` and without a saved name the other person saw an empty name in their header and
chat. This asks for it (any language: Hangul is typed through the terminal's input method), the
app saves it as the display name, and the call starts; later runs use the saved name and do
not ask again. Dismisses with the name, or None (Escape: back to the home screen, no call).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from i18n import N_, _
from tui.lang import translate_bindings
from tui.settings import MAX_NAME_CHARS


class NamePromptScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(self) -> None:
        super().__init__()
        translate_bindings(self)

    def compose(self) -> ComposeResult:
        box = Vertical(id="name-box", classes="box")
        box.border_title = _("Your name")
        with box:
            yield Label(_("The other person sees this name. It is saved for next time."))
            yield Input(
                placeholder=_("Your name (any language)"),
                max_length=MAX_NAME_CHARS,
                id="prompt-name",
            )
            yield Label("", id="name-error")
            with Horizontal(classes="buttons"):
                yield Button(_("Continue"), variant="primary", id="name-ok")
                yield Button(_("Cancel"), id="name-cancel")

    def on_mount(self) -> None:
        self.query_one("#prompt-name", Input).focus()

    @on(Input.Submitted, "#prompt-name")
    @on(Button.Pressed, "#name-ok")
    def action_ok(self) -> None:
        name = self.query_one("#prompt-name", Input).value.strip()
        if not name:
            self.query_one("#name-error", Label).update(_("Type a name first."))
            self.query_one("#prompt-name", Input).focus()
            return
        self.dismiss(name)

    @on(Button.Pressed, "#name-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
