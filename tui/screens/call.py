"""The call: connection state, path, SAS, live stats, chat, hotkeys, hang up.

State lives in reactives; every child event arrives as a :class:`CallScreen.ChildEvent` message
(posted by the controller's callback on the event loop), so event handling is ordinary message
handling and never races with rendering. Starting and stopping processes happens in workers.

Everything the peer or the relay says (names, avatar ids, chat, reasons, status and error
messages) is untrusted: it is shown as rich ``Text`` or with ``markup=False`` (never as markup),
and through :func:`protocol.text.printable` (control characters, escape sequences and bidi
overrides become U+FFFD, and a line stays one line).

The layout and the drawing of that state live in :mod:`tui.screens.call_view` (the base class);
this module is the call itself: lifecycle, child events, keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable

import psutil
from textual import on, work
from textual.binding import Binding
from textual.message import Message
from textual.worker import Worker

from call import (
    Call,
    CallConfig,
    CallError,
    CallEvent,
    ChildExited,
    ChildFailed,
    ChildStarted,
    EventCallback,
    RelayStarted,
)
from call.gestures import GESTURE_EMOJI, gesture_sentence
from call.progress import TransferNotice
from i18n import N_, _, current_language
from protocol.events import (
    AvatarProgress,
    ChatReceived,
    Error,
    GestureMade,
    PeerAvatar,
    PeerBye,
    PeerEmotion,
    PeerGesture,
    PeerHello,
    Ready,
    Stats,
    Status,
    VoiceLevel,
)
from protocol.frame import Emotion
from protocol.signaling import relay_address
from protocol.text import printable
from tui.lang import translate_bindings
from tui.readable import (
    CHILD_NAMES,
    EMOTION_LABELS,
    about_peer,
    child_name,
    readable_error,
    state_label,
)
from tui.screens.call_view import CONNECTED_STATES, PEER_LEFT_STATES, CallView
from tui.screens.no_room import NoRoomScreen
from tui.settings import Settings
from tui.widgets.chat import ChatPane
from tui.widgets.stats import StatsPanel
from tui.widgets.voice import VoiceBar

log = logging.getLogger(__name__)

ControllerFactory = Callable[[CallConfig, Settings, EventCallback], Call]
#: Stats refresh period: 5 Hz, so timer jitter on a loaded machine still keeps us above the
#: 4 Hz floor; children report once a second, so this only moves the sparklines along.
STATS_INTERVAL_S = 0.2


class CallScreen(CallView):
    #: Footer order = importance (a narrow terminal cuts the footer from the right). Every
    #: action has a Ctrl key, listed first so the footer shows it: terminals often take F1
    #: (help) and F10 (menu). The chat input has focus, so plain letters would be typed: these
    #: are the Ctrl keys the input does not use (^a ^e ^d ^w ^u ^k ^x ^c ^v) and terminals pass
    #: through (not ^s ^q ^z, ^b (tmux), ^h ^i ^j ^m = backspace, tab, newline, enter).
    BINDINGS = [
        Binding("ctrl+g,f10", "hangup", N_("Hang up")),
        Binding("ctrl+p,f6", "pause", N_("Pause")),
        Binding("ctrl+o", "settings", N_("Settings")),
        Binding("ctrl+t,f9", "switch_avatar", N_("Avatar")),
        Binding("ctrl+y", "emotions", N_("Emotion")),
        Binding("ctrl+f,f8", "self_view", N_("Self-view")),
        Binding("ctrl+r,f7", "recalibrate", N_("Recalib.")),
        # Not in the footer (80 columns hold the others): the invite box names its key.
        Binding("ctrl+n,f12", "invite", N_("Invite"), show=False),
        # Voice (issue 14): the voice line names both keys; ^l and ^\ are the Ctrl keys left.
        Binding("ctrl+l,f11", "mute", N_("Mute"), show=False),
        Binding("ctrl+backslash", "deafen", N_("Deafen"), show=False),
        Binding("f1", "emotion('happy')", N_("Happy"), show=False),
        Binding("f2", "emotion('sad')", N_("Sad"), show=False),
        Binding("f3", "emotion('angry')", N_("Angry"), show=False),
        Binding("f4", "emotion('surprised')", N_("Surprised"), show=False),
        Binding("f5", "emotion('neutral')", N_("Neutral"), show=False),
    ]

    class ChildEvent(Message):
        """One event from the call: ``source`` names the child (or "call"/"relay")."""

        def __init__(self, source: str, event: CallEvent) -> None:
            super().__init__()
            self.source = source
            self.event = event

    class Ended(Message):
        """The call is over and its processes are gone (the app goes home). ``reason``: why it
        failed, one sentence for the home screen ("" after a hang-up)."""

        def __init__(self, reason: str = "") -> None:
            super().__init__()
            self.reason = reason

    class OpenSettings(Message):
        """The user wants the settings screen (the app owns saving them)."""

    def __init__(
        self,
        request: CallConfig,
        settings: Settings,
        *,
        controller_factory: ControllerFactory | None = None,
        stats_interval: float | None = STATS_INTERVAL_S,
    ) -> None:
        # The voice setting can turn voice off for this call (start_call does the same).
        request.voice = request.voice and settings.voice
        super().__init__(request)
        self.settings = settings
        self.child_states: dict[str, str] = {}
        self.transfer = TransferNotice()
        self._left = False
        self._factory = controller_factory
        self._stats_interval = stats_interval
        self.controller: Call | None = None
        self._start_worker: Worker[None] | None = None
        self._ending: asyncio.Task[None] | None = None
        #: Why the call failed (the first fatal error): said on the home screen.
        self.failure = ""
        self._cpu: dict[int, psutil.Process] = {}
        translate_bindings(self)

    def on_mount(self) -> None:
        self._draw()
        if self._stats_interval:
            self.set_interval(self._stats_interval, self.tick)
        if self._factory is not None:
            self.controller = self._factory(self.request, self.settings, self._on_child_event)
            self._start_worker = self.run_worker(self._start(), group="call", exit_on_error=False)

    # -- call lifecycle ---------------------------------------------------------------------
    async def _start(self) -> None:
        assert self.controller is not None
        try:
            await self.controller.start()
        except Exception as e:  # CallError, OSError, RingError, anything: say it, clean up
            if not isinstance(e, CallError | OSError):
                log.exception("starting the call failed")
            await self.controller.close(hangup=False)
            self.state = "failed"
            self._fail(_("could not start the call: {error}").format(error=readable_error(e)))

    def _on_child_event(self, source: str, event: CallEvent) -> None:
        self.post_message(self.ChildEvent(source, event))

    async def end_call(self, *, hangup: bool = True) -> None:
        """Stop everything this call started; safe to call from several places at once."""
        if self._ending is None:
            self._ending = asyncio.ensure_future(self._end(hangup))
        await asyncio.shield(self._ending)

    async def _end(self, hangup: bool) -> None:
        worker = self._start_worker
        if worker is not None and worker.is_running:
            worker.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await worker.wait()
        if self.controller is not None:
            await self.controller.close(hangup=hangup)
        self.state = "ended"

    @property
    def ended(self) -> bool:
        return self._ending is not None and self._ending.done()

    # -- events -------------------------------------------------------------------------------
    @on(ChildEvent)
    def _child_event(self, message: ChildEvent) -> None:
        event, child = message.event, message.source
        if isinstance(event, VoiceLevel):
            self.query_one(VoiceBar).take_level(
                event.in_level, event.speaking, event.peer_speaking, time.monotonic()
            )
        elif isinstance(event, Stats):
            self.stats.ingest(child, event.values)
            if child == "peer" and self.request.voice:
                self.query_one(VoiceBar).take_stats(self.stats.voice)
            self.path = self.stats.extras.get("path", self.path)
            self.sas = self.stats.extras.get("sas", self.sas)
            peer = event.values.get("peer")
            if child == "peer" and isinstance(peer, str) and peer and not self.peer_name:
                self.peer_name = peer[:64]
        elif isinstance(event, Status) and child in ("peer", "call"):
            # The networking process words its details in English only; in another language
            # the translated state label stands alone (path and SAS have their own line).
            english = current_language() == "en"
            self._status(event.state, event.message if english or child == "call" else "")
        elif isinstance(event, Status):
            if self.child_states.get(child) != event.state:  # say changes, not repeats
                self.child_states[child] = event.state
                self._notice(f"{child_name(child)}: {event.message or state_label(event.state)}")
        elif isinstance(event, PeerHello):
            self.peer_name = event.name[:64]
            self.peer_avatar = event.avatar_id
            avatar = self.peer_avatar or "?"
            self._chat().add_notice(about_peer("here", self.peer_name, avatar=avatar))
        elif isinstance(event, PeerAvatar):
            self.peer_avatar = event.avatar_id or event.ref
        elif isinstance(event, AvatarProgress):
            if (line := self.transfer.line(event)) is not None:
                self._notice(line)
        elif isinstance(event, PeerEmotion):
            self._peer_emotion(event)
        elif isinstance(event, PeerGesture):  # checked and rate-limited by the peer process
            self._chat().add_notice(gesture_sentence(event.name, self.peer_name))
        elif isinstance(event, GestureMade):
            emoji = GESTURE_EMOJI.get(event.name, "?")
            self._notice(_("you: {emoji} sent").format(emoji=emoji))
        elif isinstance(event, PeerBye):
            if not self._left:
                self._chat().add_notice(about_peer("left", self.peer_name))
            self._left = True
            self._status("peer_left", event.reason)
        elif isinstance(event, ChatReceived):
            self._chat().add_theirs(event.sender or self.peer_name, event.text)
        elif isinstance(event, Error | ChildFailed):
            self._error(child, event.message, event.fatal)
        elif isinstance(event, RelayStarted):
            self.share_url = event.share_url
            where = "" if event.lan else _(" (this machine only; Settings lets your network join)")
            self._status("waiting", _("local relay on {url}").format(url=self.share_url) + where)
        elif child in CHILD_NAMES and isinstance(event, ChildStarted | Ready | ChildExited):
            self._process_event(child, event)

    def _process_event(self, child: str, event: ChildStarted | Ready | ChildExited) -> None:
        if isinstance(event, ChildStarted):
            self.procs[child] = "starting"
            if event.restarts > 0:
                self._notice(_("{name} restarted").format(name=child_name(child)))
        elif isinstance(event, Ready):
            self.procs[child] = "running"
        else:
            self.procs[child] = "restarting" if event.restarting else "stopped"
            self.stats.forget(child)
        self._update_procs()

    def _status(self, state: str, message: str) -> None:
        previous = self.state
        if state == "no_room" and previous != "no_room":
            self.app.push_screen(NoRoomScreen(self.request.room), self._no_room_answer)
        if self._left and state in ("waiting", "signaling", "peer_lost"):
            # After a bye the peer process goes back to waiting in the room; people want to
            # read that the other person left, and that we are waiting for them.
            state = "peer_left"
        if state:
            self.state = state
        self.status_message = message
        if state in CONNECTED_STATES and previous not in CONNECTED_STATES:
            self._left = False
            self.show_invite = False
            self._chat().add_notice(_("Connected"))
        elif (
            state in PEER_LEFT_STATES and previous not in PEER_LEFT_STATES and self.request.created
        ):
            self.show_invite = True

    def _no_room_answer(self, wait: bool | None) -> None:
        if wait and self.controller is not None:
            self.controller.open_room()
            self._chat().add_notice(_("Waiting in the room for the other person"))
        else:  # back home, the reason written there like any other call that could not start
            self._fail(
                _("No one was in room {room}: check the code").format(room=self.request.room)
            )

    def _peer_emotion(self, event: PeerEmotion) -> None:
        try:
            name = Emotion(event.preset).name.lower()
        except ValueError:
            return
        label = _(EMOTION_LABELS.get(name, name))
        self._notice(about_peer("shows", self.peer_name, emotion=label))

    def _error(self, child: str, message: object, fatal: bool) -> None:
        if child == "peer" and str(message).startswith("chat not sent"):
            self._chat().add_notice(_("Not delivered: not connected to the other person yet"))
        if fatal and child in ("peer", "call"):
            # Without its networking process there is no call: end it and say why at home.
            self._fail(self._failure_text(message, child))
            return
        text = readable_error(message, child)
        self._notice(text, error=True)
        if fatal:
            self.notify(printable(text), severity="error", timeout=8, markup=False)

    def _failure_text(self, message: object, child: str) -> str:
        """One sentence for why the call could not go on: the refusals people meet get their
        own (with what to do), anything else its readable last line."""
        if self.state == "refused":
            return _(
                "Room {room} is full: two people are already in it. Ask for a new code, "
                "or create a room."
            ).format(room=self.request.room)
        if self.state == "unreachable":
            address = relay_address(self.request.relay or self.share_url)
            return _(
                "The relay at {address} cannot be reached. Is it running? "
                "Check the relay address in Settings."
            ).format(address=address)
        return readable_error(message, child)

    def _fail(self, text: str) -> None:
        """End the call after its first fatal error (later ones -- the networking process's
        exit that follows its error -- add nothing) and go home with ``text``."""
        if self.failure:
            return
        self.failure = printable(text)
        self._notice(self.failure, error=True)
        self.run_worker(self._end_failed(), group="failure", exit_on_error=False)

    async def _end_failed(self) -> None:
        await self.end_call(hangup=False)
        self.post_message(self.Ended(self.failure))

    # -- rendering ----------------------------------------------------------------------------
    def tick(self) -> None:
        """Sample stats (and CPU) into the sparklines; the 5 Hz timer calls this."""
        if self.controller is not None:
            self.stats.set("cpu", self._cpu_percent())
        self.stats.sample()
        self.query_one(StatsPanel).refresh_from(self.stats)
        self.query_one(VoiceBar).tick(time.monotonic())

    def _cpu_percent(self) -> float:
        """This app plus its children, in percent of one core (psutil reads /proc: cheap)."""
        assert self.controller is not None
        pids = {os.getpid(), *self.controller.pids()}
        total = 0.0
        for pid in pids:
            proc = self._cpu.get(pid)
            try:
                if proc is None:
                    proc = self._cpu[pid] = psutil.Process(pid)
                total += proc.cpu_percent(None)
            except psutil.Error:
                self._cpu.pop(pid, None)
        for pid in set(self._cpu) - pids:
            del self._cpu[pid]
        return total

    # -- user actions -------------------------------------------------------------------------
    @on(ChatPane.Send)
    def _send_chat(self, message: ChatPane.Send) -> None:
        self._chat().add_mine(message.text)
        if self.controller is None or not self.controller.chat(message.text):
            self._notice(_("Not sent: the connection process is not running"), error=True)

    def action_emotion(self, name: str) -> None:
        preset = Emotion[name.upper()]
        self.emotion = name
        if self.controller is not None:
            self.controller.set_emotion(int(preset))

    def action_pause(self) -> None:
        self.paused = not self.paused
        if self.controller is not None:
            self.controller.pause(self.paused)

    def action_recalibrate(self) -> None:
        if self.controller is not None:
            self.controller.recalibrate()
        self._notice(_("Recalibrating: look at the camera, neutral face"))

    def action_self_view(self) -> None:
        self.self_view = not self.self_view
        if self.controller is not None:
            self.controller.self_view(self.self_view)

    def action_mute(self) -> None:
        if not self.request.voice:
            self.notify(_("This call has no voice (Settings: voice)"), timeout=4)
            return
        self.muted = not self.muted
        if self.controller is not None:
            self.controller.set_mute(self.muted)

    def action_deafen(self) -> None:
        if not self.request.voice:
            self.notify(_("This call has no voice (Settings: voice)"), timeout=4)
            return
        self.deafened = not self.deafened
        if self.controller is not None:
            self.controller.set_deafen(self.deafened)

    def action_invite(self) -> None:
        self.show_invite = not self.show_invite

    def action_emotions(self) -> None:
        """One Ctrl key for the five presets (F1-F5): a small menu chosen by digit or letter."""
        from tui.screens.emotion import EmotionScreen

        def chosen(name: str | None) -> None:
            if name:
                self.action_emotion(name)

        self.app.push_screen(EmotionScreen(self.emotion), chosen)

    def action_settings(self) -> None:
        self.post_message(self.OpenSettings())

    def apply_settings(self, settings: Settings) -> None:
        """Saved during the call: smoothing, mirror and language apply now; the rest (relay,
        TURN, name, defaults) is read when a call starts, so it applies to the next one."""
        old, self.settings = self.settings, settings
        if self.controller is not None:
            if settings.smoothing != old.smoothing:
                self.controller.smoothing(settings.smoothing)
            if settings.mirror != old.mirror:
                self.controller.mirror(settings.mirror)
        translate_bindings(self)
        self.refresh_bindings()
        self._update_header()

    def action_switch_avatar(self) -> None:
        from tui.screens.avatar_switch import AvatarSwitchScreen

        def chosen(result: tuple[str, str] | None) -> None:
            if result is None:
                return
            ref, variant = result
            if self.controller is not None:
                self.controller.switch_avatar(ref, variant)
            self.request.avatar, self.request.variant = ref, variant
            self._notice(_("Avatar: {ref}").format(ref=ref) + (f" ({variant})" if variant else ""))

        self.app.push_screen(AvatarSwitchScreen(self.request.avatar), chosen)

    def action_hangup(self) -> None:
        self._hangup()

    @work(group="hangup", exclusive=True)
    async def _hangup(self) -> None:
        self.status_message = _("hanging up...")
        await self.end_call()
        self.post_message(self.Ended())
