"""Settings: edits a copy of :class:`Settings`; dismisses with the new one (or None).

A value that cannot work is refused with its reason (the field gets the focus) and the screen
stays open: nothing is saved until every field is valid. The default avatar is chosen from the
installed packs, never typed. Opened during a call it says which changes apply at once.

Voice (issue 14): on/off, echo cancellation, and the microphone and speaker chosen by name from
the devices sounddevice lists (in a worker: PortAudio can take a while to probe). A host with
no sound device says so here, plainly: calls then run silent, which is not an error.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Select, Static, Switch

from call import AudioDevices, list_audio_devices
from i18n import N_, _
from protocol.text import printable
from tui.avatar_catalog import AvatarChoice, builtin_choices
from tui.lang import language_options, translate_bindings
from tui.settings import MAX_NAME_CHARS, Settings
from tui.settings_form import check_avatar, check_relay, check_smoothing, check_turn, check_vmc


class SettingsScreen(ModalScreen[Settings | None]):
    """The caller saves (in a worker) what this screen returns."""

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel")),
        Binding("ctrl+s", "save", N_("Save"), priority=True),
    ]

    def __init__(self, settings: Settings, *, in_call: bool = False) -> None:
        super().__init__()
        self.settings = settings
        self.in_call = in_call
        #: The installed packs (loaded in a worker: packs are validated on load).
        self.avatars: list[AvatarChoice] = []
        #: The sound devices (None until the worker has listed them).
        self.audio: AudioDevices | None = None
        translate_bindings(self)

    def compose(self) -> ComposeResult:
        s = self.settings
        box = Vertical(id="settings-box", classes="box")
        box.border_title = _("Settings")
        with box:
            if self.in_call:
                yield Label(
                    _("In a call: smoothing, mirror and language apply now, the rest next call."),
                    id="settings-note",
                )
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
                yield Label(_("Also send my tracking to VMC at (HOST:PORT; blank = off)"))
                yield Input(s.vmc_to, placeholder="127.0.0.1:39539", id="set-vmc")
                yield Label(
                    _(
                        "VMC leaves the call's privacy: plain UDP, not encrypted, readable on "
                        "the way. Only to this address; keep it on this machine or your network."
                    ),
                    classes="dim",
                )
                yield Label(_("Default avatar"))
                yield Select(
                    self._avatar_options(),
                    value=s.default_avatar or Select.NULL,
                    prompt=_("First in the list"),
                    id="set-avatar",
                )
                yield Label(_("Smoothing (0 = raw, 1 = very smooth)"))
                yield Input(f"{s.smoothing:g}", type="number", id="set-smoothing")
                with Horizontal(classes="switch-row"):
                    yield Switch(s.mirror, id="set-mirror")
                    yield Label(_("Camera image is mirrored (selfie camera): swap left and right"))
                with Horizontal(classes="switch-row"):
                    yield Switch(s.body, id="set-body")
                    yield Label(_("Track hands and upper body (if this computer is fast enough)"))
                with Horizontal(classes="switch-row"):
                    yield Switch(s.voice, id="set-voice")
                    yield Label(_("Voice: send my voice and play the peer's (off = text only)"))
                with Horizontal(classes="switch-row"):
                    yield Switch(s.echo_cancel, id="set-echo")
                    yield Label(_("Echo cancellation (needed with speakers, not headphones)"))
                yield Label(_("Microphone"))
                yield Select(
                    self._device_options(s.mic, inputs=True),
                    value=s.mic,
                    allow_blank=False,
                    id="set-mic",
                )
                yield Label(_("Speaker"))
                yield Select(
                    self._device_options(s.speaker, inputs=False),
                    value=s.speaker,
                    allow_blank=False,
                    id="set-speaker",
                )
                # A Static wraps: the reason there is no sound can be a long line.
                yield Static(_("Looking for sound devices..."), id="set-audio-note")
            yield Label("", id="settings-error")
            with Horizontal(classes="buttons"):
                yield Button(_("Save"), variant="primary", id="save")
                yield Button(_("Cancel"), id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#set-name", Input).focus()
        self._load_avatars()
        self._load_audio()

    def _avatar_options(self) -> list[tuple[str, str]]:
        """Installed packs by name; a saved id that is not installed is listed as such."""
        options = [(c.name if c.name == c.id else f"{c.name} ({c.id})", c.id) for c in self.avatars]
        current = self.settings.default_avatar
        if current and current not in {c.id for c in self.avatars}:
            label = _("{ref} (not installed)") if self.avatars else _("{ref} (loading...)")
            options.insert(0, (label.format(ref=current), current))
        return options

    @work(thread=True, exclusive=True, group="settings-avatars")
    def _load_avatars(self) -> None:
        choices = builtin_choices()
        self.app.call_from_thread(self._set_avatars, choices)

    def _set_avatars(self, choices: list[AvatarChoice]) -> None:
        if not self.is_attached:
            return
        select: Select[str] = self.query_one("#set-avatar", Select)
        chosen = select.value
        self.avatars = choices
        select.set_options(self._avatar_options())
        if isinstance(chosen, str) and chosen in {v for _label, v in self._avatar_options()}:
            select.value = chosen

    def _device_options(self, current: str, *, inputs: bool) -> list[tuple[RenderableType, str]]:
        """ "Default" first, then the devices by name; a saved one this host does not have is
        kept and said (a headset that is unplugged now may be back for the call)."""
        # Device names are the drivers' text: shown as Text, never read as markup.
        options: list[tuple[RenderableType, str]] = [(_("Default device"), "default")]
        if inputs:
            options.append((_("None (send silence)"), "silence"))
        else:
            options.append((_("None (do not play)"), "none"))
        names = (self.audio.inputs if inputs else self.audio.outputs) if self.audio else []
        options += [(Text(printable(name, 80)), name) for name in names]
        if current not in {value for _label, value in options}:
            if self.audio is None:
                label = _("{ref} (loading...)")
            elif current.startswith("file:"):
                label = "{ref}"
            else:
                label = _("{ref} (not found)")
            options.append((Text(label.format(ref=printable(current, 80))), current))
        return options

    @work(thread=True, exclusive=True, group="settings-audio")
    def _load_audio(self) -> None:
        devices = list_audio_devices()
        self.app.call_from_thread(self._set_audio, devices)

    def _set_audio(self, devices: AudioDevices) -> None:
        if not self.is_attached:
            return
        self.audio = devices
        for field, inputs in (("#set-mic", True), ("#set-speaker", False)):
            select: Select[str] = self.query_one(field, Select)
            chosen = select.value
            current = chosen if isinstance(chosen, str) else "default"
            select.set_options(self._device_options(current, inputs=inputs))
            select.value = current
        if devices.any:
            note = _("{inputs} microphone(s), {outputs} speaker(s) found").format(
                inputs=len(devices.inputs), outputs=len(devices.outputs)
            )
        else:
            note = _("No sound device here ({why}): calls run without sound.").format(
                why=devices.error
            )
        self.query_one("#set-audio-note", Static).update(Text(note, style="dim"))

    def _refuse(self, field: str, reason: str) -> None:
        self.query_one("#settings-error", Label).update(reason)
        widget = self.query_one(field)
        widget.scroll_visible(animate=False)
        widget.focus()

    def collect(self) -> Settings | None:
        """The edited settings, or None (the reason shown, the field focused) if one is bad."""
        smoothing, reason = check_smoothing(self.query_one("#set-smoothing", Input).value)
        if reason:
            self._refuse("#set-smoothing", reason)
            return None
        relay = self.query_one("#set-relay", Input).value.strip()
        if reason := check_relay(relay):
            self._refuse("#set-relay", reason)
            return None
        turn_url = self.query_one("#set-turn-url", Input).value.strip()
        if reason := check_turn(turn_url):
            self._refuse("#set-turn-url", reason)
            return None
        vmc_to = self.query_one("#set-vmc", Input).value.strip()
        if reason := check_vmc(vmc_to):
            self._refuse("#set-vmc", reason)
            return None
        avatar = self.query_one("#set-avatar", Select).value
        avatar = avatar if isinstance(avatar, str) else ""
        # While the packs load, the saved (unchanged) choice stands.
        loading = not self.avatars and avatar == self.settings.default_avatar
        if not loading and (reason := check_avatar(avatar, self.avatars)):
            self._refuse("#set-avatar", reason)
            return None
        self.query_one("#settings-error", Label).update("")
        return Settings(
            display_name=self.query_one("#set-name", Input).value.strip(),
            relay=relay,
            vmc_to=vmc_to,
            share_on_lan=self.query_one("#set-lan", Switch).value,
            turn_url=turn_url,
            turn_username=self.query_one("#set-turn-user", Input).value.strip(),
            turn_credential=self.query_one("#set-turn-pass", Input).value,
            smoothing=smoothing,
            mirror=self.query_one("#set-mirror", Switch).value,
            body=self.query_one("#set-body", Switch).value,
            default_avatar=avatar,
            default_source=self.settings.default_source,
            language=self._language(),
            voice=self.query_one("#set-voice", Switch).value,
            echo_cancel=self.query_one("#set-echo", Switch).value,
            mic=self._choice("#set-mic"),
            speaker=self._choice("#set-speaker"),
        ).validated()

    def _choice(self, field: str) -> str:
        value = self.query_one(field, Select).value
        return value if isinstance(value, str) else "default"

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
