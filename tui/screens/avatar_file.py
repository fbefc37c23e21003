"""Bring your own avatar: the path of a .vrm/.glb model, a pack folder or a pack .zip.

Like the clip chooser, the path is checked before it is accepted -- here in full: a model is
parsed by the same loader the window and the P2P transfer use (:func:`avatars.gltf.load_model`),
a pack validated against FORMAT.md -- so a broken file is answered with its reason in the
dialog, not with a window that falls back after the call started. The check reads the whole
file, so it runs in a thread worker. Dismisses with the :class:`AvatarChoice`, or None.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from i18n import N_, _
from tui.avatar_catalog import AvatarChoice, check_avatar_file
from tui.lang import translate_bindings


class AvatarFileScreen(ModalScreen[AvatarChoice | None]):
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"))]

    DEFAULT_CSS = """
    AvatarFileScreen { align: center middle; }
    AvatarFileScreen #avatar-file-box { width: 80%; max-width: 90; height: auto; }
    AvatarFileScreen Label { width: 1fr; height: auto; }
    AvatarFileScreen #avatar-file-error { color: $error; }
    """

    def __init__(self, initial: str = "") -> None:
        super().__init__()
        self.initial = initial
        translate_bindings(self)

    def compose(self) -> ComposeResult:
        box = Vertical(id="avatar-file-box", classes="box")
        box.border_title = _("Your own avatar")
        with box:
            yield Label(
                _(
                    "Path of a 3D model (.vrm, .glb) or a 2D avatar pack (folder or .zip); "
                    "~ is your home folder."
                )
            )
            yield Input(self.initial, placeholder="~/Avatars/me.vrm", id="avatar-file-path")
            yield Label("", id="avatar-file-error")
            with Horizontal(classes="buttons"):
                yield Button(_("Use this avatar"), variant="primary", id="avatar-file-ok")
                yield Button(_("Cancel"), id="avatar-file-cancel")

    def on_mount(self) -> None:
        self.query_one("#avatar-file-path", Input).focus()

    @on(Input.Submitted, "#avatar-file-path")
    @on(Button.Pressed, "#avatar-file-ok")
    def action_ok(self) -> None:
        self.query_one("#avatar-file-error", Label).update(_("checking..."))
        self._check(self.query_one("#avatar-file-path", Input).value)

    @work(thread=True, exclusive=True, group="avatar-file")
    def _check(self, text: str) -> None:
        choice, reason = check_avatar_file(text)
        self.app.call_from_thread(self._checked, choice, reason)

    def _checked(self, choice: AvatarChoice | None, reason: str) -> None:
        if not self.is_attached:
            return
        if choice is None:
            # The reason quotes the file (a hostile name or JSON): plain text, never markup.
            self.query_one("#avatar-file-error", Label).update(Text(reason))
            self.query_one("#avatar-file-path", Input).focus()
            return
        self.dismiss(choice)

    @on(Button.Pressed, "#avatar-file-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
