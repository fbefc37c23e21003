"""Home: who you are, which relay, which camera, which avatar; create or join a room."""

from __future__ import annotations

import os

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, Select, Static

from call import CallConfig, CallConfigError
from i18n import N_, _
from protocol.text import printable
from tui.devices import Source, has_camera
from tui.joinparse import parse_join_text
from tui.lang import translate_bindings
from tui.settings import MAX_NAME_CHARS, Settings
from tui.widgets.avatar_picker import AvatarPicker


class HomeScreen(Screen[None]):
    """Posts :class:`StartCall` (to the app) when the user creates or joins a room."""

    #: Below 100 columns the two boxes stack instead of sitting side by side.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        Binding("ctrl+n", "create", N_("Create room")),
        Binding("ctrl+o", "join", N_("Join room")),
        Binding("ctrl+s", "settings", N_("Settings")),
        Binding("ctrl+c", "app.quit", N_("Quit"), priority=True),
    ]

    class StartCall(Message):
        def __init__(self, request: CallConfig) -> None:
            super().__init__()
            self.request = request

    class OpenSettings(Message):
        """The user wants the settings screen."""

    def __init__(
        self,
        settings: Settings,
        sources: list[Source],
        *,
        window: bool = True,
        source: str = "",
        avatar: str = "",
        name: str = "",
        relay: str = "",
        lan: bool = False,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.sources = list(sources)
        wanted = source or (
            settings.default_source if os.path.exists(settings.default_source) else ""
        )
        if wanted and wanted not in {s.spec for s in self.sources}:
            # A camera or clip named on the command line (or last used) that the scan did not
            # list: honour it rather than silently switching to another source.
            self.sources.insert(0, Source(wanted, wanted, "custom"))
        self._source = wanted or settings.default_source
        self.window = window
        self._avatar = avatar or settings.default_avatar
        self._name = name or settings.display_name
        self._relay = relay or settings.relay
        self._lan = lan
        self._join = ""
        self.avatar_variant = ""
        translate_bindings(self)

    def compose(self) -> ComposeResult:
        yield Static(
            "avatarchat  ·  " + _("1:1 avatar chat: only your expressions travel, never video"),
            id="title",
        )
        with VerticalScroll(id="home-body"):
            with _titled(Horizontal(id="room-row", classes="box"), _("Room")):
                yield Button(_("Create room"), variant="primary", id="create")
                yield Input(
                    self._join, placeholder=_("Paste a room code or join command"), id="join-code"
                )
                yield Button(_("Join"), id="join")
            yield Label("", id="home-error")
            with Horizontal(id="home-top"):
                with _titled(Vertical(id="you", classes="box"), _("You")):
                    yield Label(_("Display name"))
                    yield Input(
                        self._name,
                        placeholder=_("Your name (any language)"),
                        max_length=MAX_NAME_CHARS,
                        id="name",
                    )
                    yield Label(_("Relay"))
                    yield Input(
                        self._relay, placeholder=_("blank = start one on this machine"), id="relay"
                    )
                    yield Label(_("Camera or clip"))
                    options = [(source_label(s), s.spec) for s in self.sources]
                    specs = [s.spec for s in self.sources]
                    initial = self._source if self._source in specs else specs[0]
                    yield Select(options, value=initial, allow_blank=False, id="source")
                    if not has_camera(self.sources):
                        yield Label(_("No camera found: using the sample clip."), id="source-hint")
                    yield Button(_("Choose a video file..."), id="choose-clip")
                with _titled(Vertical(id="avatar-box", classes="box"), _("Avatar")):
                    yield AvatarPicker(self._avatar, id="avatar-picker")
        yield Footer()

    def on_mount(self) -> None:
        self._focus_first()

    def _focus_first(self) -> None:
        name = self.query_one("#name", Input)
        # A first-time user starts by typing their name; a returning one just creates a room.
        (name if not name.value else self.query_one("#create", Button)).focus()

    @on(Button.Pressed, "#choose-clip")
    def _choose_clip(self) -> None:
        from tui.screens.clip import ClipScreen

        self.app.push_screen(ClipScreen(), self._clip_chosen)

    def _clip_chosen(self, path: str | None) -> None:
        """A checked clip path becomes a source (listed once) and the chosen one."""
        if not path:
            return
        if path not in {s.spec for s in self.sources}:
            self.sources.append(Source(path, path, "clip"))
        select: Select[str] = self.query_one("#source", Select)
        select.set_options([(source_label(s), s.spec) for s in self.sources])
        select.value = path
        self._source = path

    @on(AvatarPicker.Changed)
    def _avatar_changed(self, event: AvatarPicker.Changed) -> None:
        event.stop()
        self._avatar = event.ref
        self.avatar_variant = event.variant

    def _request(self, room: str, relay: str, created: bool) -> CallConfig:
        source = self.query_one("#source", Select).value
        return CallConfig(
            room=room,
            relay=relay,
            lan=self._lan or self.settings.share_on_lan,
            # "Also send my tracking to VMC at ..." (Settings): a fourth child, peer.vmc_send.
            vmc_to=self.settings.vmc_to,
            # Hands and upper body: on = the tracker's own choice (on when the CPU allows it).
            body=None if self.settings.body else False,
            name=self.query_one("#name", Input).value.strip(),
            source=source if isinstance(source, str) else "sample",
            avatar=self._avatar,
            variant=self.avatar_variant,
            window=self.window,
            created=created,
            # A typed code must lead to someone: a wrong one is said at once (no_room).
            join_existing=not created,
        )

    def _error(self, text: str) -> None:
        self.query_one("#home-error", Label).update(Text(printable(text)))

    def show_error(self, text: str) -> None:
        """Why the last call ended ("" clears it): one sentence, shown until the next try."""
        self._error(text)

    def _start(self, request: CallConfig) -> None:
        """Start the call unless what can be checked here is wrong (relay URL, clip, camera):
        then say it here, before any process or room exists."""
        try:
            request.check()
        except CallConfigError as e:
            self._error(_("Cannot start the call: {reason}").format(reason=e))
            return
        self._error("")
        self.post_message(self.StartCall(request))

    @on(Button.Pressed, "#create")
    def action_create(self) -> None:
        from protocol.signaling import new_room_code

        room = getattr(self.app, "room_code_factory", new_room_code)()
        relay = self.query_one("#relay", Input).value.strip()
        self._start(self._request(room, relay, created=True))

    @on(Button.Pressed, "#join")
    @on(Input.Submitted, "#join-code")
    def action_join(self) -> None:
        target = parse_join_text(self.query_one("#join-code", Input).value)
        if target is None:
            self._error(_("That is not a room code: paste the code or the whole join command."))
            self.query_one("#join-code", Input).focus()
            return
        relay = target.relay or self.query_one("#relay", Input).value.strip()
        if not relay:
            self._error(
                _(
                    "Joining needs the relay address: paste the whole join command, "
                    "or fill in Relay."
                )
            )
            self.query_one("#relay", Input).focus()
            return
        self._start(self._request(target.room, relay, created=False))

    def action_settings(self) -> None:
        self.post_message(self.OpenSettings())

    def apply_settings(self, settings: Settings) -> None:
        """Settings were saved: refresh the fields the user has not typed into."""
        self.settings = settings
        name = self.query_one("#name", Input)
        if not name.value:
            name.value = settings.display_name
        relay = self.query_one("#relay", Input)
        if not relay.value:
            relay.value = settings.relay

    async def relabel(self) -> None:
        """The language changed: compose again in it, keeping what the user typed and chose."""
        self._name = self.query_one("#name", Input).value
        self._relay = self.query_one("#relay", Input).value
        self._join = self.query_one("#join-code", Input).value
        source = self.query_one("#source", Select).value
        self._source = source if isinstance(source, str) else self._source
        translate_bindings(self)
        await self.recompose()
        self._focus_first()  # the focused widget was replaced: the footer follows the focus
        self.refresh_bindings()


def _titled(widget: Widget, title: str) -> Widget:
    """``widget`` with a border title (set before mounting: it survives a recompose)."""
    widget.border_title = title
    return widget


def source_label(source: Source) -> str:
    """How a source is listed: cameras by their own name, the rest in the current language."""
    if source.kind == "sample":
        return _("Sample clip (bundled)")
    if source.kind == "clip":
        return _("Clip {name}").format(name=os.path.basename(source.spec))
    return source.label
