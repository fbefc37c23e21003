"""Mid-call avatar switch: the picker in a modal; dismisses with (ref, variant) or None."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button

from i18n import N_, _
from tui.lang import translate_bindings
from tui.widgets.avatar_picker import AvatarPicker


class AvatarSwitchScreen(ModalScreen[tuple[str, str] | None]):
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current
        self.choice: tuple[str, str] = (current, "")
        translate_bindings(self)

    def compose(self) -> ComposeResult:
        with Vertical(id="switch-box", classes="box"):
            yield AvatarPicker(self.current, id="switch-picker")
            with Horizontal(classes="buttons"):
                yield Button(_("Use this avatar"), variant="primary", id="use")
                yield Button(_("Cancel"), id="cancel")

    def on_mount(self) -> None:
        self.query_one("#switch-box").border_title = _("Switch avatar")

    @on(AvatarPicker.Changed)
    def _changed(self, event: AvatarPicker.Changed) -> None:
        event.stop()
        self.choice = (event.ref, event.variant)

    @on(AvatarPicker.Chosen)
    def _chosen(self, event: AvatarPicker.Chosen) -> None:
        event.stop()
        self.dismiss((event.ref, event.variant))

    @on(Button.Pressed, "#use")
    def action_use(self) -> None:
        self.dismiss(self.choice)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
