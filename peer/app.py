"""The networking process: relay signaling, negotiation, liveness, recovery, commands, stats.

Negotiation (who offers, deterministically):

- A client that joins a room where the peer is already present offers (``gen`` = its last + 1).
  The one that was waiting answers. An offer always replaces the current RTCPeerConnection
  (aiortc has no ICE restart), so a restarted peer's offer is accepted whatever our ``gen``.
- Answers are applied only if their ``gen`` is that of our outstanding offer; stale ones are
  ignored. Glare (both offered): the side in relay position 1 keeps its offer, position 2 answers.
- Liveness: no params frame and no ctl message for :data:`LOST_AFTER_S` -> ``peer_lost``; the
  dead connection is closed and a new one negotiated through the relay: position 1 offers at
  once, position 2 after :data:`SECOND_OFFER_DELAY_S` (only if no offer came), retrying every
  :data:`OFFER_RETRY_S` while the peer is in the room. We never wait for aiortc's 30 s consent
  timeout.
- The relay going away does not touch a working link; the signaling client re-joins in the
  background, and a client that re-joins with a healthy link does not renegotiate.

Events (stdout, :mod:`protocol.control`): ``ready``, ``status`` {state, message}, ``stats``,
``chat``, ``peer_hello``, ``peer_avatar``, ``peer_emotion``, ``peer_bye``, ``error``, ``bye``.
Commands (stdin): ``quit``, ``hangup``, ``chat`` {text}, ``emotion`` {preset, weight},
``avatar`` {ref}, ``present`` {seq, capture_us, present_ns}.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from aiortc import RTCIceServer

from protocol import signaling as sig
from protocol.control import event_line
from protocol.errors import RingError
from protocol.ring import ShmRing

from .clock import ClockSync
from .commands import apply_command, read_commands
from .connection import PeerLink, build_configuration, candidate_types
from .ctl_handler import CtlHandler, load_local_avatar, warm_builtin_hashes
from .errors import NegotiationError, PeerError, SignalingError
from .frames import FramePump
from .report import STATS_INTERVAL_S, StatsReport
from .signaling import SignalingClient
from .stats import CallStats

log = logging.getLogger(__name__)

#: No frame and no ctl message for this long = the peer is gone (pings are 1 Hz).
LOST_AFTER_S = 2.5
#: Position 2 gives position 1 this long to re-offer before offering itself.
SECOND_OFFER_DELAY_S = 3.0
#: An offer unanswered (or an answered link not open) this long is retried.
OFFER_RETRY_S = 6.0
#: A link whose offer was answered gets this long to open before it is replaced.
NEGOTIATION_TIMEOUT_S = 15.0
#: After an answer, no open channel in this long with TURN configured and no relay candidate:
#: say why.
TURN_HINT_AFTER_S = 5.0
WATCH_INTERVAL_S = 0.1


@dataclass(slots=True)
class PeerOptions:
    relay: str
    room: str
    local_ring: str
    remote_ring: str
    name: str = ""
    avatar: str = "aria"
    ice_servers: list[str] = field(default_factory=list)
    turn_user: str | None = None
    turn_pass: str | None = None
    turn_only: bool = False
    stats_json: str | None = None


class PeerApp:
    """One networking process. ``await run()`` returns the exit code."""

    def __init__(self, opts: PeerOptions, out: TextIO | None = None) -> None:
        self.opts = opts
        self.out = out or sys.stdout
        self.stats = CallStats()
        self.clock = ClockSync()
        self.state = ""
        self.link: PeerLink | None = None
        self.gen = 0
        self.position = 0
        self.peer_present = False
        self._pending_offer: tuple[int, float] | None = None  # (gen, sent at)
        self._link_started = 0.0
        self._offer_not_before: float | None = None
        self._turn_servers: list[RTCIceServer] = []
        self._quit = asyncio.Event()
        self._exit_code = 0
        self._errors_said: set[str] = set()
        self._negotiation = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ever_connected = False
        self._local_ring: ShmRing | None = None
        self._remote_ring: ShmRing | None = None
        self.pump: FramePump | None = None
        self.report = StatsReport(self.stats, self.clock, opts.stats_json, opts.room)
        self.ctl = CtlHandler(
            name=opts.name or os.environ.get("USER", "peer"),
            avatar=load_local_avatar(opts.avatar),
            emit=self._on_ctl_event,
            stats=self.stats,
            clock=self.clock,
        )
        self.signaling = SignalingClient(
            opts.relay,
            opts.room,
            self._on_signal,
            on_connected=self._on_relay_up,
            on_disconnected=self._on_relay_down,
            on_retry=self._on_relay_retry,
        )

    # -- output ----------------------------------------------------------------------------
    def emit(self, event: str, **fields: Any) -> None:
        try:
            self.out.write(event_line(event, **fields))
            self.out.flush()
        except (BrokenPipeError, ValueError):
            self._quit.set()  # the parent is gone

    def set_state(self, state: str, message: str) -> None:
        if state != self.state:
            log.info("%s: %s", state, message)
        self.state = state
        self.emit("status", state=state, message=message)

    def error(self, message: str, *, fatal: bool = False, once: bool = False) -> None:
        if once and message in self._errors_said:
            return
        self._errors_said.add(message)
        log.warning("%s", message)
        self.emit("error", message=message, fatal=fatal)

    def quit(self) -> None:
        self._quit.set()

    @property
    def healthy(self) -> bool:
        return self.link is not None and self.link.opened and not self.link.closed

    # -- main ------------------------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        try:
            self._local_ring = ShmRing.attach(self.opts.local_ring)
            self._remote_ring = ShmRing.attach(self.opts.remote_ring)
            reader = self._local_ring.reader(wake=True)
            writer = self._remote_ring.writer()
        except RingError as e:
            self.error(f"cannot open the shared-memory rings: {e}", fatal=True)
            return 2
        self.pump = FramePump(reader, writer, self.stats, self.clock)
        loop.add_reader(reader.fileno(), self.pump.on_local_wake)
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self._quit.set)
        self._spawn(asyncio.to_thread(warm_builtin_hashes))
        self._spawn(self._stdin_loop())
        self._spawn(self._watch_loop())
        self._spawn(self._stats_loop())
        signaling = asyncio.create_task(self.signaling.run())
        self.emit(
            "ready",
            local_ring=self.opts.local_ring,
            remote_ring=self.opts.remote_ring,
            avatar=self.ctl.avatar.id,
            avatar_hash=self.ctl.avatar.hash,
        )
        self.set_state("signaling", f"connecting to the relay at {self.opts.relay}")
        quit_wait = asyncio.create_task(self._quit.wait())
        try:
            done, _ = await asyncio.wait(
                {signaling, quit_wait}, return_when=asyncio.FIRST_COMPLETED
            )
            if signaling in done and (exc := signaling.exception()) is not None:
                if isinstance(exc, SignalingError):
                    self.error(str(exc), fatal=True)
                    self._exit_code = 3
                else:
                    raise exc
        finally:
            quit_wait.cancel()
            await self._shutdown(signaling, reader, writer)
        return self._exit_code

    async def _shutdown(self, signaling: asyncio.Task[None], reader: Any, writer: Any) -> None:
        if self.link is not None and self.link.opened:
            self.ctl.bye("quit")
            await asyncio.sleep(0.05)  # let the bye leave before the association closes
        with contextlib.suppress(Exception):
            await self.signaling.send(sig.Bye(reason="quit"))
        await self.signaling.close()
        signaling.cancel()
        for task in list(self._tasks):
            task.cancel()
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
        self.emit("bye")

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("internal task failed", exc_info=exc)
            self.error(f"internal error: {exc}", fatal=True)
            self._exit_code = 1
            self._quit.set()

    def _on_ctl_event(self, event: str, **fields: Any) -> None:
        self.emit(event, **fields)
        if event == "peer_bye":
            self._pending_offer = None
            self._spawn(self._replace_link(None))
            self.set_state("waiting", f"peer hung up ({fields.get('reason') or 'bye'})")

    # -- signaling -------------------------------------------------------------------------
    def _on_relay_up(self) -> None:
        if not self.healthy:
            self.set_state("signaling", "connected to the relay; joining")

    def _on_relay_retry(self, reason: str, delay: float) -> None:
        if not self.healthy:
            self.set_state("signaling", f"{reason}; retrying in {delay:.1f} s")

    def _on_relay_down(self, reason: str) -> None:
        if self.healthy:
            self.emit("status", state=self.state, message=f"{reason}; call continues peer-to-peer")
        else:
            self.set_state("signaling", f"{reason}; reconnecting to the relay")

    def _on_signal(self, message: sig.SignalMessage) -> None:
        if isinstance(message, sig.Joined):
            self._on_joined(message)
        elif isinstance(message, sig.PeerJoined):
            self.peer_present = True
            if not self.healthy:
                self.set_state("connecting", "peer joined; negotiating")
                self._offer_not_before = time.monotonic() + SECOND_OFFER_DELAY_S
        elif isinstance(message, sig.PeerLeft):
            self.peer_present = False
            self._offer_not_before = None
            if self.healthy:
                self.emit(
                    "status",
                    state=self.state,
                    message="peer lost its relay connection; call continues peer-to-peer",
                )
            elif self.ctl.peer_said_bye:
                self.set_state("waiting", "peer hung up; waiting for them to come back")
            elif self._ever_connected:
                self.set_state("peer_lost", f"peer left ({message.reason or 'disconnected'})")
            else:
                self.set_state("waiting", "waiting for the peer to join")
        elif isinstance(message, sig.Offer):
            self._spawn(self._handle_offer(message))
        elif isinstance(message, sig.Answer):
            self._spawn(self._handle_answer(message))
        elif isinstance(message, sig.Error):
            self.error(f"relay: {message.message} ({message.code})", once=True)

    def _on_joined(self, joined: sig.Joined) -> None:
        self.position = joined.position
        self.peer_present = joined.peer_present
        if joined.turn is not None and not self.opts.ice_servers:
            self._turn_servers = [
                RTCIceServer(
                    urls=list(joined.turn.urls),
                    username=joined.turn.username,
                    credential=joined.turn.credential,
                )
            ]
        if self.healthy:
            self.emit("status", state=self.state, message="re-registered with the relay")
            return
        if joined.peer_present:
            self.set_state("connecting", "peer is here; sending an offer")
            self._offer_not_before = time.monotonic()
        else:
            self.set_state("waiting", f"in the room (position {joined.position}); waiting")

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

    def _new_link(self, gen: int) -> PeerLink:
        return PeerLink(
            gen,
            build_configuration(self._ice_servers(), turn_only=self.opts.turn_only),
            on_params=self._on_params,
            on_ctl=self.ctl.handle,
            on_open=self._on_link_open,
            on_failed=self._on_link_failed,
        )

    async def _replace_link(self, link: PeerLink | None) -> None:
        old, self.link = self.link, link
        if self.pump is not None:
            self.pump.attach(None, lambda: 0)
        self._link_started = time.monotonic()
        if old is not None:
            self._spawn(old.close())

    def _check_turn(self, sdp: str) -> None:
        uses_turn = any(u.startswith("turn") for s in self._ice_servers() for u in _urls(s))
        if self.opts.turn_only and not uses_turn:
            self.error(
                "--turn-only, but there is no TURN server: the relay issued no credentials and "
                "no --ice-server was given",
                once=True,
            )
        elif uses_turn and "relay" not in candidate_types(sdp):
            self.error(
                "TURN server refused the credentials or is unreachable: no relay candidate"
                + (" (--turn-only: the call cannot connect)" if self.opts.turn_only else ""),
                once=True,
            )

    async def _offer(self) -> None:
        async with self._negotiation:
            self.gen += 1
            gen = self.gen
            link = self._new_link(gen)
            await self._replace_link(link)
            self.set_state(
                "reconnecting" if self._ever_connected else "connecting", f"sending offer {gen}"
            )
            try:
                sdp = await link.create_offer()
            except NegotiationError as e:
                self.error(str(e))
                return
            self._check_turn(sdp)
            self._pending_offer = (gen, time.monotonic())
            if not await self.signaling.send(sig.Offer(sdp=sdp, gen=gen)):
                log.info("offer %d not sent: relay not connected", gen)

    async def _handle_offer(self, offer: sig.Offer) -> None:
        async with self._negotiation:
            if self._pending_offer is not None and self.position == 1 and offer.gen <= self.gen:
                log.info("glare: keeping our offer %d over the peer's %d", self.gen, offer.gen)
                return
            self._pending_offer = None
            if self.healthy:
                # A new offer while our link looks fine: the peer lost it (e.g. restarted).
                self.set_state("peer_lost", "the peer restarted its connection")
            self.gen = max(self.gen, offer.gen)
            link = self._new_link(offer.gen)
            await self._replace_link(link)
            self.set_state(
                "reconnecting" if self._ever_connected else "connecting",
                f"answering offer {offer.gen}",
            )
            try:
                sdp = await link.accept_offer(offer.sdp)
            except NegotiationError as e:
                self.error(str(e))
                await self._replace_link(None)
                return
            self._check_turn(sdp)
            await self.signaling.send(sig.Answer(sdp=sdp, gen=offer.gen))

    async def _handle_answer(self, answer: sig.Answer) -> None:
        async with self._negotiation:
            link = self.link
            if (
                self._pending_offer is None
                or answer.gen != self._pending_offer[0]
                or link is None
                or link.gen != answer.gen
            ):
                log.info("ignoring stale answer %d", answer.gen)
                return
            self._pending_offer = None
            try:
                await link.accept_answer(answer.sdp)
            except NegotiationError as e:
                self.error(str(e))
                await self._replace_link(None)

    # -- link events -----------------------------------------------------------------------
    def _on_link_open(self, link: PeerLink) -> None:
        if link is not self.link:
            return
        if self._ever_connected:
            self.stats.reconnects += 1
        self._ever_connected = True
        self._offer_not_before = None
        self._pending_offer = None
        self.clock.reset()
        self.stats.reset_sequence()
        assert self.pump is not None
        params, ctl_channel = link.params, link.ctl
        self.pump.attach(params.send, lambda: int(params.bufferedAmount))
        self.pump.last_rx = time.monotonic()

        def send_ctl(data: bytes) -> bool:
            if ctl_channel.readyState != "open":
                return False
            ctl_channel.send(data)
            return True

        self.ctl.attach(send_ctl, lambda: int(ctl_channel.bufferedAmount))
        pair = link.candidate_pair()
        self.set_state(
            "connected",
            f"connected ({pair['type'] if pair else 'unknown'} path), SAS {link.sas() or '?'}",
        )

    def _on_link_failed(self, link: PeerLink, reason: str) -> None:
        if link is self.link and link.opened and not self._quit.is_set():
            self._lost(reason)

    def _on_params(self, data: bytes) -> None:
        if self.pump is not None:
            self.pump.on_params(data)

    def _lost(self, reason: str) -> None:
        if self.link is not None:
            self._spawn(self._replace_link(None))
        self._pending_offer = None
        self.set_state("peer_lost", reason)
        delay = 0.0 if self.position == 1 else SECOND_OFFER_DELAY_S
        self._offer_not_before = time.monotonic() + delay

    async def _watch_loop(self) -> None:
        """Liveness and negotiation retries, 10 times a second (cheap comparisons only)."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            now = time.monotonic()
            link = self.link
            if link is not None and link.opened and not link.closed:
                assert self.pump is not None
                last = max(self.pump.last_rx, self.ctl.last_rx)
                if now - last > LOST_AFTER_S and not self.ctl.peer_said_bye:
                    self._lost(f"no frames or messages from the peer for {now - last:.1f} s")
                continue
            if (
                link is not None
                and now - self._link_started > TURN_HINT_AFTER_S
                and link.local_sdp
                and link.ice_state == "checking"
            ):
                self._check_turn(link.local_sdp)
            if self.ctl.peer_said_bye or not self.signaling.connected or not self.peer_present:
                continue
            if self._negotiation.locked():
                continue
            if link is not None and not self._give_up_on(link, now - self._link_started):
                continue  # an offer/answer in progress; give it time
            if self._offer_not_before is None:
                self._offer_not_before = now + (0.0 if self.position == 1 else 1.0)
            if now >= self._offer_not_before:
                self._offer_not_before = now + OFFER_RETRY_S
                self._spawn(self._offer())

    @staticmethod
    def _give_up_on(link: PeerLink, age: float) -> bool:
        """Whether a link that is not open yet should be replaced by a new offer.

        An unanswered offer may have been lost (relay restart): retry after OFFER_RETRY_S. A link
        whose ICE checks are running (over TURN on a loaded machine they can take seconds) gets
        NEGOTIATION_TIMEOUT_S, and one whose ICE failed is replaced at once.
        """
        if link.closed or link.ice_state in ("failed", "closed"):
            return True
        if link.remote_sdp is None:
            return age >= OFFER_RETRY_S
        return age >= NEGOTIATION_TIMEOUT_S

    # -- commands and stats (peer/commands.py, peer/report.py) -------------------------------
    async def _stdin_loop(self) -> None:
        await read_commands(self._command, on_eof=self._quit.set, on_bad=self._bad_command)

    def _bad_command(self, message: str) -> None:
        self.error(f"bad command: {message}", once=True)

    async def _command(self, cmd: dict[str, Any]) -> None:
        await apply_command(self, cmd)

    def _stats_event(self) -> dict[str, Any]:
        return self.report.event(
            state=self.state,
            gen=self.gen,
            link=self.link if self.healthy else None,
            relay_connected=self.signaling.connected,
            peer=self.ctl.peer_name or None,
        )

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(STATS_INTERVAL_S)
            if self.healthy:
                self.ctl.tick()
            event = self._stats_event()
            self.emit("stats", **event)
            self._write_stats_json(event)

    def _write_stats_json(self, event: dict[str, Any]) -> None:
        problem = self.report.write_json(event)
        if problem:
            self.error(problem, once=True)


def _urls(server: RTCIceServer) -> list[str]:
    urls = server.urls
    return [urls] if isinstance(urls, str) else list(urls)


async def run_peer(opts: PeerOptions) -> int:
    try:
        return await PeerApp(opts).run()
    except PeerError as e:
        sys.stdout.write(event_line("error", message=str(e), fatal=True))
        sys.stdout.flush()
        return 2
