"""The networking process: relay signaling, negotiation, liveness, recovery, commands, stats.

Negotiation (who offers, when, which answer counts, liveness and recovery) is the state machine
in :mod:`peer.negotiation`; this module is its driver: it feeds it relay messages, link events
and a 10 Hz tick; the actions it returns (aiortc links, relay messages, status) are performed
by :class:`peer.links.LinkActions`, mixed in here.
The relay going away does not touch a working link; the signaling client re-joins in the
background.

Every task of the process is owned by one :class:`asyncio.TaskGroup` (loops, offer/answer
creation, closing replaced links, avatar transfers), so none outlives the call: quitting
cancels what is left, and a task that fails ends the process with an error instead of
vanishing.

Events (:mod:`protocol.events`, through :class:`protocol.channel.ChildChannel`): ``ready``,
``status``, ``stats``, ``chat``, ``chat_sent``, ``peer_hello``, ``peer_avatar``,
``peer_emotion``, ``peer_bye``, ``voice_level``, ``error``, ``bye``. Commands:
:mod:`peer.commands`. Voice (issue 14) lives in :mod:`peer.voice`; this module only starts its
loops, hands each new link its voice parts and adds its ``voice`` stats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Coroutine
from typing import Any

from aiortc import RTCIceServer

from protocol import signaling as sig
from protocol.channel import ChildChannel
from protocol.commands import Command
from protocol.errors import RingError
from protocol.events import Bye, Event, PeerBye, Ready, Stats
from protocol.events import Error as ErrorEvent
from protocol.events import Status as StatusEvent
from protocol.ring import ShmRing
from protocol.text import printable

from .clock import ClockSync
from .commands import apply_command
from .connection import PeerLink
from .ctl_handler import CtlHandler, load_local_avatar
from .errors import PeerError, SignalingError
from .frames import FramePump
from .links import LinkActions
from .negotiation import Negotiation
from .options import PeerOptions
from .report import STATS_INTERVAL_S, StatsReport
from .signaling import RELAY_UNREACHABLE, SignalingClient
from .stats import CallStats
from .voice import Voice
from .voice.engine import voice_off_stats
from .voice.mouth_frames import VoiceDsp, install
from .voice.sinks import VoiceSinkError
from .voice.sources import VoiceSourceError

log = logging.getLogger(__name__)

#: The negotiation tick: liveness and retries need only cheap comparisons, 10 times a second.
WATCH_INTERVAL_S = 0.1


class _Finished(Exception):
    """Raised in the task group's body once the call is over: cancels the tasks still running."""


class PeerApp(LinkActions):
    """One networking process. ``await run()`` returns the exit code."""

    def __init__(self, opts: PeerOptions, channel: ChildChannel | None = None) -> None:
        self.opts = opts
        #: The parent's control channel; commands reach the loop through ``_commands``.
        self.channel = channel or ChildChannel(on_command=self._command_arrived)
        self._commands: asyncio.Queue[Command] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stats = CallStats()
        self.clock = ClockSync()
        self.state = ""
        self.link: PeerLink | None = None
        self.neg = Negotiation()
        self._turn_servers: list[RTCIceServer] = []
        self._quit = asyncio.Event()
        self._exit_code = 0
        self._errors_said: set[str] = set()
        #: Owner of every task of the process; None before run() and once it has ended.
        self._tg: asyncio.TaskGroup | None = None
        self._local_ring: ShmRing | None = None
        self._remote_ring: ShmRing | None = None
        self.pump: FramePump | None = None
        self.voice = Voice(opts, emit=self.emit, say=self._note) if opts.voice else None
        #: Echo cancellation and the mouth from the voice (peer.voice.mouth_frames).
        self.dsp: VoiceDsp | None = None
        self.report = StatsReport(self.stats, self.clock, opts.stats_json, opts.room)
        self.ctl = CtlHandler(
            name=opts.name or os.environ.get("USER", "peer"),
            avatar=load_local_avatar(opts.avatar),
            emit=self._on_ctl_event,
            stats=self.stats,
            clock=self.clock,
            start=self._start,
        )
        self.signaling = SignalingClient(
            opts.relay,
            opts.room,
            self._on_signal,
            on_connected=self._on_relay_up,
            on_disconnected=self._on_relay_down,
            on_retry=self._on_relay_retry,
            create=not opts.join_existing,
            on_no_room=self._on_no_room,
            give_up_after_s=opts.relay_give_up_s,
            # With the peer-to-peer link up the call does not need the relay: keep trying.
            may_give_up=lambda: not self.healthy,
        )

    # -- output ----------------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        self.channel.emit(event)
        if self.channel.broken:
            self._quit.set()  # the parent is gone

    def set_state(self, state: str, message: str) -> None:
        if state != self.state:
            log.info("%s: %s", state, printable(message))
        self.state = state
        self.emit(StatusEvent(state=state, message=message))

    def error(self, message: str, *, fatal: bool = False, once: bool = False) -> None:
        if once and message in self._errors_said:
            return
        self._errors_said.add(message)
        log.warning("%s", printable(message))  # may quote the peer or the relay
        self.emit(ErrorEvent(message=message, fatal=fatal))

    def quit(self) -> None:
        self._quit.set()

    def _note(self, message: str) -> None:
        """A line for the user that does not change the state (said once by its caller)."""
        log.info("%s", printable(message))
        self.emit(StatusEvent(state=self.state or "starting", message=message))

    @property
    def healthy(self) -> bool:
        return self.link is not None and self.link.opened and not self.link.closed

    # -- main ------------------------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self._loop = loop
        try:
            self._local_ring = ShmRing.attach(self.opts.local_ring)
            self._remote_ring = ShmRing.attach(self.opts.remote_ring)
            reader = self._local_ring.reader(wake=True)
            writer = self._remote_ring.writer()
        except RingError as e:
            self.error(f"cannot open the shared-memory rings: {e}", fatal=True)
            return 2
        self.pump = FramePump(reader, writer, self.stats, self.clock)
        if self.voice is not None:
            try:
                await self.voice.start()
            except (VoiceSourceError, VoiceSinkError) as e:
                self.error(str(e), fatal=True)
                return 2
            self.dsp = install(self.voice, self.pump, echo_cancel=self.opts.echo_cancel)
        loop.add_reader(reader.fileno(), self.pump.on_local_wake)
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self._quit.set)
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                self._start(asyncio.to_thread(self.ctl.prepare))
                self._start(self._stdin_loop())
                self._start(self._watch_loop())
                self._start(self._stats_loop())
                self._start(self._relay_loop())
                if self.voice is not None:
                    self._start(self.voice.capture_loop())
                    self._start(self.voice.playout_loop())
                if self.dsp is not None:
                    self._start(self.dsp.mouth.own_frames_loop(self.pump))
                info = {
                    "local_ring": self.opts.local_ring,
                    "remote_ring": self.opts.remote_ring,
                    "avatar": self.ctl.avatar.id,
                    "avatar_hash": self.ctl.avatar.hash,
                    "voice": self.voice is not None,
                }
                self.emit(Ready(info=info))
                self.channel.start()
                self.set_state("signaling", f"connecting to the relay at {self.opts.relay}")
                try:
                    await self._quit.wait()
                finally:
                    await self._say_goodbye()
                raise _Finished  # cancels the loops and whatever else is still running
        except* _Finished:
            pass
        finally:
            self._tg = None
            try:
                await self._shutdown(reader, writer)
            finally:
                if self.voice is not None:
                    self.voice.close()
                self.ctl.close()  # the packs received in this call die with it, whatever failed
        return self._exit_code

    async def _say_goodbye(self) -> None:
        """While the tasks still run: bye to the peer and the relay, stop re-joining."""
        if self.link is not None and self.link.opened:
            self.ctl.bye("quit")
            await asyncio.sleep(0.05)  # let the bye leave before the association closes
        with contextlib.suppress(Exception):
            await self.signaling.send(sig.Bye(reason="quit"))
        await self.signaling.close()

    async def _shutdown(self, reader: Any, writer: Any) -> None:
        """Once every task has ended: close the link (bounded) and the rings; final stats."""
        if self.link is not None:
            await self.link.close()
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(reader.fileno())
        reader.close()
        writer.close()
        for ring in (self._local_ring, self._remote_ring):
            if ring is not None:
                ring.close()
        self._write_stats_json(self._stats_event())
        self.set_state("closed", "call ended")
        self.emit(Bye())
        self.channel.close()

    def _start(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` as a task owned by the process's task group (nothing fire-and-forget).

        Once the call is over the group takes no more: the coroutine is closed unstarted.
        """
        tg = self._tg
        try:
            if tg is None:
                raise RuntimeError("no task group")
            tg.create_task(self._owned(coro))
        except RuntimeError as e:  # not running yet, or shutting down
            log.debug("not starting %s: %s", getattr(coro, "__qualname__", coro), e)
            coro.close()

    async def _owned(self, coro: Coroutine[Any, Any, Any]) -> None:
        """A failed task is a bug: say so and end the call (the group then cancels the rest)."""
        try:
            await coro
        except Exception as exc:
            log.error("internal task failed", exc_info=exc)
            self.error(f"internal error: {exc}", fatal=True)
            self._exit_code = 1
            self._quit.set()

    def _on_ctl_event(self, event: Event) -> None:
        self.emit(event)
        if isinstance(event, PeerBye):
            self._apply(self.neg.peer_bye(event.reason))

    # -- signaling -------------------------------------------------------------------------
    async def _relay_loop(self) -> None:
        """The relay connection for the whole call; a refusal retrying cannot fix ends it."""
        try:
            await self.signaling.run()
        except SignalingError as e:
            # The state first (front-ends and the window's banner tell these apart), then why.
            states = {RELAY_UNREACHABLE: "unreachable", sig.ErrorCode.ROOM_FULL: "refused"}
            self.set_state(states.get(e.code, "failed"), str(e))
            self.error(str(e), fatal=True)
            # 3: the relay refused us; 2: its address leads nowhere (a configuration error).
            # Neither is restarted by the supervisor; only 3 is shown as a refused join.
            self._exit_code = 2 if e.code == RELAY_UNREACHABLE else 3
        self._quit.set()

    def _on_no_room(self, message: str) -> None:
        """Nobody is in the room we were invited to: say so at once (the parent asks the user
        whether to wait there anyway, ``open_room``, or to check the code)."""
        self.set_state("no_room", message)

    def _on_relay_up(self) -> None:
        self._apply(self.neg.relay_up())

    def _on_relay_retry(self, reason: str, delay: float) -> None:
        self._apply(self.neg.relay_retry(reason, delay))

    def _on_relay_down(self, reason: str) -> None:
        self._apply(self.neg.relay_down(reason))

    def _on_signal(self, message: sig.SignalMessage) -> None:
        now = time.monotonic()
        if isinstance(message, sig.Joined):
            self._on_joined(message, now)
        elif isinstance(message, sig.PeerJoined):
            self._apply(self.neg.peer_joined(now))
        elif isinstance(message, sig.PeerLeft):
            self._apply(self.neg.peer_left(message.reason))
        elif isinstance(message, sig.Offer):
            self._apply(self.neg.offer_received(message.gen, message.sdp, now))
        elif isinstance(message, sig.Answer):
            self._apply(self.neg.answer_received(message.gen, message.sdp))
        elif isinstance(message, sig.Error):
            self.error(f"relay: {message.message} ({message.code})", once=True)

    def _on_joined(self, joined: sig.Joined, now: float) -> None:
        if joined.turn is not None and not self.opts.ice_servers:
            self._turn_servers = [
                RTCIceServer(
                    urls=list(joined.turn.urls),
                    username=joined.turn.username,
                    credential=joined.turn.credential,
                )
            ]
        self._apply(self.neg.joined(joined.position, joined.peer_present, now))

    def _ice_servers(self) -> list[RTCIceServer]:
        if self.opts.ice_servers:
            return [
                RTCIceServer(
                    urls=list(self.opts.ice_servers),
                    username=self.opts.turn_user,
                    credential=self.opts.turn_pass,
                )
            ]
        return list(self._turn_servers)

    async def _watch_loop(self) -> None:
        """The negotiation's tick: liveness of the open link, TURN hints, offers when due."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            probe = self.link.probe() if self.link is not None else None
            last_rx = max(self.pump.last_rx if self.pump is not None else 0.0, self.ctl.last_rx)
            relay = self.signaling.connected
            self._apply(
                self.neg.tick(time.monotonic(), relay_connected=relay, last_rx=last_rx, probe=probe)
            )

    # -- commands and stats (peer/commands.py, peer/report.py) -------------------------------
    def _command_arrived(self, cmd: Command) -> None:
        """On the channel's reader thread: hand the command to the event loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._commands.put_nowait, cmd)

    async def _stdin_loop(self) -> None:
        while True:
            await apply_command(self, await self._commands.get())

    def _stats_event(self) -> dict[str, Any]:
        event = self.report.event(
            state=self.state,
            gen=self.neg.gen,
            link=self.link if self.healthy else None,
            relay_connected=self.signaling.connected,
            peer=self.ctl.peer_name or None,
        )
        if self.voice is None:
            event["voice"] = voice_off_stats()
        else:
            rtt_us = self.clock.rtt_us
            event["voice"] = self.voice.stats(None if rtt_us is None else rtt_us / 1000)
            event["voice"]["agreed"] = self.link is not None and self.link.audio_agreed
            if self.dsp is not None:
                event["voice"].update(self.dsp.stats())
        if self.link is not None:  # the media sections negotiated (tests check m=audio rules)
            event["voice"]["sdp"] = self.link.sections()
        return event

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(STATS_INTERVAL_S)
            if self.healthy:
                self.ctl.tick()
            event = self._stats_event()
            self.emit(Stats(t=round(time.monotonic(), 6), values=event))
            self._write_stats_json(event)

    def _write_stats_json(self, event: dict[str, Any]) -> None:
        problem = self.report.write_json(event)
        if problem:
            self.error(problem, once=True)


async def run_peer(opts: PeerOptions) -> int:
    try:
        return await PeerApp(opts).run()
    except PeerError as e:
        sys.stdout.write(ErrorEvent(message=str(e), fatal=True).encode())
        sys.stdout.flush()
        return 2
