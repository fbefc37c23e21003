"""Settings: edits a copy of :class:`Settings`; dismisses with the new one (or None)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Select, Switch

from i18n import N_, _
from tui.lang import language_options, translate_bindings
from tui.settings import MAX_NAME_CHARS, Settings


class SettingsScreen(ModalScreen[Settings | None]):
    """The caller saves (in a worker) what this screen returns."""

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel")),
        Binding("ctrl+s", "save", N_("Save"), priority=True),
    ]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        translate_bindings(self)

    def compose(self) -> ComposeResult:
        s = self.settings
        box = Vertical(id="settings-box", classes="box")
        box.border_title = _("Settings")
        with box:
            with VerticalScroll():
                yield Label(_("Language"))
                yield Select(
                    language_options(), value=s.language, allow_blank=False, id="set-language"
                )
                yield Label(_("Display name"))
                yield Input(s.display_name, max_length=MAX_NAME_CHARS, id="set-name")
                yield Label(_("Relay (blank = start one on this machine)"))
                yield Input(s.relay, placeholder="ws://host:port", id="set-relay")
                with Horizontal(classes="switch-row"):
                    yield Switch(s.share_on_lan, id="set-lan")
                    yield Label(
                        _("No relay set: people on my network can join (else this machine)")
                    )
                yield Label(_("TURN server"))
                yield Input(
                    s.turn_url, placeholder="turn:host:3478?transport=udp", id="set-turn-url"
                )
                with Horizontal(classes="pair"):
                    yield Input(s.turn_username, placeholder=_("TURN username"), id="set-turn-user")
                    yield Input(
                        s.turn_credential,
                        placeholder=_("TURN password"),
                        password=True,
                        id="set-turn-pass",
                    )
                yield Label(_("Default avatar"))
                yield Input(s.default_avatar, placeholder=_("e.g. fox"), id="set-avatar")
                yield Label(_("Smoothing (0 = raw, 1 = very smooth)"))
                yield Input(f"{s.smoothing:g}", type="number", id="set-smoothing")
                with Horizontal(classes="switch-row"):
                    yield Switch(s.mirror, id="set-mirror")
                    yield Label(_("Camera image is mirrored (selfie camera): swap left and right"))
            yield Label("", id="settings-error")
            with Horizontal(classes="buttons"):
                yield Button(_("Save"), variant="primary", id="save")
                yield Button(_("Cancel"), id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#set-name", Input).focus()

    def collect(self) -> Settings | None:
        """The edited settings, or None (with a message) if a field is invalid."""
        try:
            smoothing = float(self.query_one("#set-smoothing", Input).value or "0")
        except ValueError:
            smoothing = -1.0
        if not 0.0 <= smoothing <= 1.0:
            self.query_one("#settings-error", Label).update(_("Smoothing must be between 0 and 1."))
            return None
        relay = self.query_one("#set-relay", Input).value.strip()
        if relay and not relay.startswith(("ws://", "wss://")):
            self.query_one("#settings-error", Label).update(
                _("The relay must be a ws:// or wss:// URL.")
            )
            return None
        return Settings(
            display_name=self.query_one("#set-name", Input).value.strip(),
            relay=relay,
            share_on_lan=self.query_one("#set-lan", Switch).value,
            turn_url=self.query_one("#set-turn-url", Input).value.strip(),
            turn_username=self.query_one("#set-turn-user", Input).value.strip(),
            turn_credential=self.query_one("#set-turn-pass", Input).value,
            smoothing=smoothing,
            mirror=self.query_one("#set-mirror", Switch).value,
            default_avatar=self.query_one("#set-avatar", Input).value.strip(),
            default_source=self.settings.default_source,
            language=self._language(),
        ).validated()

    def _language(self) -> str:
        value = self.query_one("#set-language", Select).value
        return value if isinstance(value, str) else "auto"

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        result = self.collect()
        if result is not None:
            self.dismiss(result)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
