"""Choosing a video file as the camera: a path, checked before it is accepted.

Without a camera (a server, a laptop over SSH, a test) a clip is the source, and until now the
only way to pick one outside ``../shared`` was ``--source`` on the command line. The path is
checked here (exists, a file, a video suffix, readable), so a typo is answered with the reason
at once, not with a tracker that exits after the call started. Dismisses with the absolute
path, or None.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from i18n import N_, _
from tui.devices import CLIP_SUFFIXES, check_clip
from tui.lang import translate_bindings


class ClipScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"))]

    def __init__(self, initial: str = "") -> None:
        super().__init__()
        self.initial = initial
        translate_bindings(self)

    def compose(self) -> ComposeResult:
        box = Vertical(id="clip-box", classes="box")
        box.border_title = _("Video clip as camera")
        with box:
            yield Label(
                _("Path of a video file ({suffixes}); ~ is your home folder.").format(
                    suffixes=" ".join(CLIP_SUFFIXES)
                )
            )
            yield Input(self.initial, placeholder="~/Videos/me.mp4", id="clip-path")
            yield Label("", id="clip-error")
            with Horizontal(classes="buttons"):
                yield Button(_("Use this clip"), variant="primary", id="clip-ok")
                yield Button(_("Cancel"), id="clip-cancel")

    def on_mount(self) -> None:
        self.query_one("#clip-path", Input).focus()

    @on(Input.Submitted, "#clip-path")
    @on(Button.Pressed, "#clip-ok")
    def action_ok(self) -> None:
        path, reason = check_clip(self.query_one("#clip-path", Input).value)
        if reason:
            self.query_one("#clip-error", Label).update(reason)
            self.query_one("#clip-path", Input).focus()
            return
        self.dismiss(path)

    @on(Button.Pressed, "#clip-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
