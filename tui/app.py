"""The Textual application: screen flow, settings, and shutting calls down on every exit path.

Exit paths all go through :meth:`AvatarChatApp.action_quit` (Ctrl+C, Ctrl+Q, SIGHUP when the
terminal closes, SIGTERM), which ends any running call -- children stopped, rings unlinked --
before the app exits. ``tui.__main__`` adds a synchronous last resort for anything left after
the loop is gone.

The app owns one local relay (:class:`call.SharedRelay`) for every call made without a
configured relay: started by the first, kept after a hang-up on the same port (an invitation
already sent stays valid, and the next room is on the same address), stopped when the app exits.
A call that fails (room full, relay unreachable, a child that could not start) ends by itself
and the home screen says why in one sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding

from call import Call, CallConfig, EventCallback, SharedRelay
from i18n import N_, _
from protocol.signaling import new_room_code
from tui.devices import Source, list_sources
from tui.invite import start_call
from tui.lang import apply_language, translate_bindings
from tui.screens.call import STATS_INTERVAL_S, CallScreen, ControllerFactory
from tui.screens.home import HomeScreen
from tui.screens.settings import SettingsScreen
from tui.settings import Settings, save_settings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AppOptions:
    """Command-line choices (``None``/empty = ask on the home screen / use settings)."""

    relay: str = ""
    #: Share the embedded relay on the LAN (on top of the setting of the same name).
    lan: bool = False
    join: str = ""
    create: bool = False
    name: str = ""
    source: str = ""
    avatar: str = ""
    window: bool = True


class AvatarChatApp(App[int]):
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "avatarchat"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("ctrl+c", "quit", N_("Quit"), priority=True, show=False),
        Binding("ctrl+q", "quit", N_("Quit"), priority=True, show=False),
    ]

    def __init__(
        self,
        options: AppOptions | None = None,
        settings: Settings | None = None,
        *,
        sources: list[Source] | None = None,
        room_code_factory: Callable[[], str] = new_room_code,
        controller_factory: ControllerFactory | None = start_call,
        stats_interval: float | None = STATS_INTERVAL_S,
        persist_settings: bool = True,
    ) -> None:
        super().__init__()
        self.options = options or AppOptions()
        self.settings = settings or Settings()
        # Before any screen is built: every label is looked up in this language.
        apply_language(self.settings.language)
        translate_bindings(self)
        self.sources = sources if sources is not None else list_sources()
        self.room_code_factory = room_code_factory
        self.controller_factory = controller_factory
        self.stats_interval = stats_interval
        self.persist_settings = persist_settings
        self._quitting = False
        self._controllers: list[Call] = []
        #: The local relay of every call without a configured one (started on first need).
        self.relay = SharedRelay()

    # -- start-up -----------------------------------------------------------------------------
    def on_mount(self) -> None:
        if not self.is_headless:
            loop = asyncio.get_running_loop()
            # SIGTERM: the terminal is fine, end the call the normal way. SIGHUP (the terminal
            # closed) is handled synchronously in tui.__main__: with no terminal, Textual's
            # writes block and the event loop cannot be relied on.
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(signal.SIGTERM, self._on_signal, signal.SIGTERM)
        opts = self.options
        home = HomeScreen(
            self.settings,
            self.sources,
            window=opts.window,
            source=opts.source,
            avatar=opts.avatar,
            name=opts.name,
            relay=opts.relay,
            lan=opts.lan,
        )
        self.push_screen(home)
        if opts.create or opts.join:
            self.call_after_refresh(self._start_from_options, home)

    def _start_from_options(self, home: HomeScreen, name: str | None = "") -> None:
        opts = self.options
        if name is None:  # the name prompt was cancelled: stay home, the code filled in
            home.query_one("#join-code").value = opts.join  # type: ignore[attr-defined]
            return
        if name:
            home.query_one("#name").value = name  # type: ignore[attr-defined]
            self.settings.display_name = name
            self._save(self.settings)
        elif not (opts.name or self.settings.display_name):
            # No home screen to type it on: ask once (saved, so later runs do not ask).
            from tui.screens.name_prompt import NamePromptScreen

            self.push_screen(NamePromptScreen(), lambda n: self._start_from_options(home, n))
            return
        if opts.join:
            home.query_one("#join-code").value = opts.join  # type: ignore[attr-defined]
            home.action_join()
        else:
            home.action_create()

    def _on_signal(self, sig: int) -> None:
        log.info("got %s: ending the call and exiting", signal.Signals(sig).name)
        self.run_worker(self.action_quit(), group="quit")

    # -- screen flow --------------------------------------------------------------------------
    def on_home_screen_start_call(self, message: HomeScreen.StartCall) -> None:
        request = message.request
        self._remember(request)
        self.push_screen(
            CallScreen(
                request,
                self.settings,
                controller_factory=self._make_controller if self.controller_factory else None,
                stats_interval=self.stats_interval,
            )
        )

    def on_call_screen_ended(self, message: CallScreen.Ended) -> None:
        if self._quitting:
            return
        calls = self.call_screens()
        if not calls:
            return
        # A failure can end the call under a question or a picker: those go with it.
        while self.screen is not calls[-1]:
            self.pop_screen()
        self.pop_screen()
        home = next((s for s in self.screen_stack if isinstance(s, HomeScreen)), None)
        if home is not None:
            home.show_error(message.reason)

    def on_home_screen_open_settings(self, message: HomeScreen.OpenSettings) -> None:
        self.push_screen(SettingsScreen(self.settings), self._settings_done)

    def on_call_screen_open_settings(self, message: CallScreen.OpenSettings) -> None:
        self.push_screen(SettingsScreen(self.settings, in_call=True), self._settings_done)

    async def _settings_done(self, result: Settings | None) -> None:
        if result is None:
            return
        relabel = result.language != self.settings.language
        self.settings = result
        self._save(result)
        if relabel:
            apply_language(result.language, startup=False)
            translate_bindings(self)
        for screen in self.screen_stack:
            if isinstance(screen, HomeScreen):
                screen.apply_settings(result)
                if relabel:
                    await screen.relabel()
            elif isinstance(screen, CallScreen):
                screen.apply_settings(result)
        if self.call_screens():
            self.notify(
                _(
                    "Settings saved: smoothing, mirror and language apply now, the rest "
                    "from the next call"
                )
            )
        else:
            self.notify(_("Settings saved"))

    def _remember(self, request: CallConfig) -> None:
        """The name, camera and avatar of the last call become the defaults."""
        s = self.settings
        changed = (s.display_name, s.default_source, s.default_avatar) != (
            request.name,
            request.source,
            request.avatar,
        )
        if changed:
            s.display_name = request.name or s.display_name
            s.default_source = request.source
            s.default_avatar = request.avatar
            self._save(s)

    def _save(self, settings: Settings) -> None:
        if self.persist_settings:
            self._save_worker(settings)

    @work(thread=True, group="settings", exclusive=True)
    def _save_worker(self, settings: Settings) -> None:
        try:
            save_settings(settings)
        except OSError as e:
            log.warning("cannot save settings: %s", e)
            # Not markup: a path in the message may hold "[...]".
            self.call_from_thread(
                self.notify,
                _("Cannot save settings: {error}").format(error=e),
                severity="error",
                markup=False,
            )

    # -- shutdown -----------------------------------------------------------------------------
    def call_screens(self) -> list[CallScreen]:
        return [s for s in self.screen_stack if isinstance(s, CallScreen)]

    def controllers(self) -> list[Call]:
        """Every call controller this app created and has not closed -- tracked apart from
        the screen stack, which a crash may already have torn down when cleanup runs."""
        return [c for c in self._controllers if not c.closed]

    def _make_controller(
        self, request: CallConfig, settings: Settings, on_event: EventCallback
    ) -> Call:
        assert self.controller_factory is not None
        controller = self.controller_factory(request, settings, on_event)
        if isinstance(controller, Call):
            controller.shared_relay = self.relay
        self._controllers.append(controller)
        return controller

    async def action_quit(self) -> None:
        """End every call (children stopped, rings unlinked), then exit."""
        if self._quitting:
            return
        self._quitting = True
        for screen in self.call_screens():
            try:
                await screen.end_call()
            except Exception:
                log.exception("ending the call failed")
        await self._stop_relay()
        self.exit(0)

    async def on_unmount(self) -> None:
        """However the app ends (an exception, a test's ``run_test`` too): every call still open
        stops its children and unlinks its rings, then the local relay goes. Without this an app
        that ends without ``quit`` left its tracker, peer and relay processes running for as
        long as the Python that hosted it (a failed test: the rest of the suite)."""
        for controller in self.controllers():
            try:
                await controller.close(hangup=True)
            except Exception:
                log.exception("ending the call failed")
        await self._stop_relay()

    async def _stop_relay(self) -> None:
        try:
            await self.relay.stop()
        except Exception:
            log.exception("stopping the local relay failed")
