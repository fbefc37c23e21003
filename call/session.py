"""One running call: the single owner of its rings, children, routing and embedded relay.

A call on one machine is three processes that talk through two shared-memory rings::

    tracking --(local ring)--> peer (networking) --(remote ring)--> render_window
                          \\----------------------------------------> (self view)

:class:`Call` starts them (and a local relay when none is configured), routes every event
between them (the peer's avatar and connection state to the window; settings replayed to a
child that was restarted after a crash, :mod:`call.replay`), passes every event on to the
front-end, and tears everything down -- rings included -- however the call ends (hang-up,
error, Ctrl+C). The TUI and ``avatarchat call``/``demo`` are front-ends over this one class,
so they behave the same.

Commands (``chat``, ``set_emotion``, ``pause``, ...) only write a line to a pipe: they never
block, and are safe to call from the front-end's event loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import signal
import statistics
import time
from pathlib import Path
from types import TracebackType

import psutil

from i18n import _
from protocol.commands import (
    MAX_PEER_DELAY_MS,
    Command,
    Hangup,
    Mirror,
    OpenRoom,
    Pause,
    Recalibrate,
    SelfView,
    SendChat,
    SendGesture,
    SetAvatar,
    SetDeafen,
    SetEmotion,
    SetMute,
    SetPeerDelay,
    SetSyncHold,
    ShowGesture,
    ShowOverlay,
    ShowPeerAvatar,
    ShowPeerName,
    ShowSelfAvatar,
    Smoothing,
)
from protocol.events import (
    Error,
    Event,
    GestureMade,
    PeerAvatar,
    PeerBye,
    PeerGesture,
    PeerHello,
    Ready,
    Stats,
    Status,
    VideoPathDelay,
)
from protocol.ring import ShmRing, sweep_stale_segments

from .child import ChildProcess
from .config import CallConfig
from .events import CALL, CallClosed, CallEvent, ChildExited, EventCallback, RelayStarted
from .lipsync import SyncController, heard_audio_delay_ms
from .local_relay import LocalRelay, SharedRelay
from .netinfo import ALL_ADDRESSES, LOOPBACK
from .replay import (
    OVERLAY_FOR_PEER_STATE,
    REFUSED_EXIT_CODE,
    REFUSED_JOIN,
    ROOM_JOINED_STATES,
    CallMemory,
    peer_name,
    refusal_reason,
)

log = logging.getLogger(__name__)

CHILDREN = ("tracking", "peer", "render")
#: The peer's audio delay is passed on to the window when it moves by this much (ms): its
#: estimate wobbles by a few ms from second to second and the window ignores that anyway.
PEER_DELAY_STEP_MS = 2.0
#: ... and as the median of this many reports: one report far off (a stall in the networking
#: process inflates its buffer-wait average for a second) must not pull the avatar along.
PEER_DELAY_MEDIAN_OF = 5


def _alive(pid: int) -> bool:
    """Running and not a zombie (asyncio's child watcher reaps exited children in a thread)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


class Call:
    """The rings, the children and the relay of one call. See the module docstring."""

    def __init__(self, config: CallConfig, on_event: EventCallback | None = None) -> None:
        self.config = config
        self._on_event = on_event or (lambda _source, _event: None)
        self.memory = CallMemory(
            mirror=config.mirror,
            smoothing=config.smoothing,
            voice=config.voice,
            muted=config.muted,
            deafened=config.deafened,
        )
        self.local: ShmRing | None = None
        self.remote: ShmRing | None = None
        #: This call's own relay (stopped with it), when none is configured or shared.
        self.relay: LocalRelay | None = None
        #: A front-end's relay for all its calls (the TUI sets it before :meth:`start`).
        self.shared_relay: SharedRelay | None = None
        self.children: dict[str, ChildProcess] = {}
        #: The networking process's last ``status`` state ("starting" before it says one).
        self.state = "starting"
        #: Each child's last ``stats`` event.
        self.stats: dict[str, Stats] = {}
        #: The last lip-sync delay sent to the window (ms); None = not yet / window restarted.
        self._peer_delay_sent: float | None = None
        self._peer_delays: collections.deque[float] = collections.deque(maxlen=PEER_DELAY_MEDIAN_OF)
        #: The other half of lip sync: the voice held back for a slower avatar (call.lipsync).
        self.sync = SyncController()
        #: The relay URL to give the other person (the LAN address of an embedded relay).
        self.share_url = config.relay
        #: The peer said bye and has not come back yet.
        self.peer_left = False
        #: The networking process's last fatal error: why the call was refused, if it was.
        self._peer_fatal = ""
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Check the config, start the relay (if none is configured), create the rings and
        spawn the children. On failure everything started so far is cleaned up."""
        cfg = self.config
        cfg.check()
        log_dir = Path(cfg.log_dir) if cfg.log_dir else None
        try:
            relay_url = cfg.relay
            if not relay_url:
                shared = self.shared_relay
                if shared is None or not shared.running:
                    self._emit(Status(state="relay", message=_("starting a local relay")))
                if shared is not None:  # the front-end's relay, kept when this call ends
                    relay = await shared.acquire(self._on_event, lan=cfg.lan, log_dir=log_dir)
                else:
                    host = ALL_ADDRESSES if cfg.lan else LOOPBACK
                    relay = self.relay = LocalRelay(self._on_event, host=host, log_dir=log_dir)
                    await relay.start()
                relay_url = relay.local_url
                self.share_url = relay.share_url
                self._emit(RelayStarted(share_url=self.share_url, port=relay.port, lan=cfg.lan))
            # Rings a SIGKILLed earlier call could not unlink: every front-end starts here.
            removed = sweep_stale_segments()
            if removed:
                log.info("removed %d stale ring segment(s): %s", len(removed), ", ".join(removed))
            self.local = ShmRing.create("local")
            self.remote = ShmRing.create("remote")
            local, remote = self.local.name, self.remote.name
            argvs = {
                "tracking": (cfg.tracking_argv(local), cfg.env),
                "peer": (cfg.peer_argv(relay_url, local, remote), cfg.peer_env()),
            }
            if cfg.window:
                argvs["render"] = (cfg.render_argv(local, remote), cfg.env)
            if cfg.vmc_to:  # the user's "also send my tracking to VMC" (peer.vmc_send)
                argvs["vmc"] = (cfg.vmc_argv(local), cfg.env)
            for name, (argv, env) in argvs.items():
                self.children[name] = ChildProcess(
                    name,
                    argv,
                    self._route,
                    restart=True,
                    env=env,
                    log_path=log_dir / f"{name}.log" if log_dir is not None else None,
                )
            for child in self.children.values():
                await child.start()
        except BaseException:
            await self.close(hangup=False)
            raise

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until every child has said ``ready`` (SupervisorError otherwise)."""
        limit = timeout if timeout is not None else self.config.ready_timeout_s
        await asyncio.gather(*(c.wait_ready(limit) for c in self.children.values()))

    async def close(self, *, hangup: bool = True) -> None:
        """Say bye (if asked), stop every child, unlink both rings, stop the relay. Safe to
        call more than once, and from ``finally`` after Ctrl+C: the rings are unlinked even if
        stopping a child fails."""
        if self._closed:
            return
        self._closed = True
        peer = self.children.get("peer")
        try:
            if hangup and peer is not None:
                # ``hangup`` makes the peer say bye and exit; stopping it right away marks
                # the exit as wanted, so the supervisor does not restart it.
                peer.send(Hangup())
            # Render and tracking first (they only use rings), the peer last so its ``bye``
            # reaches the other side. Each stop is shielded from a second Ctrl+C.
            cancelled: asyncio.CancelledError | None = None
            for name in ("render", "vmc", "tracking", "peer"):
                child = self.children.get(name)
                if child is None:
                    continue
                try:
                    await asyncio.shield(child.stop())
                except asyncio.CancelledError as e:
                    cancelled = e  # finish stopping the others first, then honour it
                    with contextlib.suppress(Exception):
                        child.kill()
                except Exception:
                    log.exception("stopping %s failed", name)
            if cancelled is not None:
                raise cancelled
        finally:
            for ring in (self.local, self.remote):
                if ring is not None:
                    ring.close()
            if self.relay is not None:
                await self.relay.stop()
            if self.shared_relay is not None:
                self.shared_relay.release(self._on_event)
            self.state = "closed"
            self._emit(CallClosed())

    @property
    def closed(self) -> bool:
        return self._closed

    async def __aenter__(self) -> Call:
        await self.start()
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close(hangup=False)

    @property
    def tracking(self) -> ChildProcess | None:
        return self.children.get("tracking")

    @property
    def peer(self) -> ChildProcess | None:
        return self.children.get("peer")

    @property
    def render(self) -> ChildProcess | None:
        return self.children.get("render")

    @property
    def ended(self) -> bool:
        """The networking process is gone for good (hung up, refused, or gave up)."""
        peer = self.children.get("peer")
        return self._closed or (peer is not None and peer.finished)

    # -- routing -----------------------------------------------------------------------------
    def _route(self, source: str, event: CallEvent | Event) -> None:
        """Every child event passes here once: the call acts on what concerns another child,
        then hands the event to the front-end."""
        if isinstance(event, Ready):
            for command in self.memory.replay(source):
                self.send(source, command)
            if source == "render":
                self._peer_delay_sent = None  # a (re)started window starts at 0: say it again
            elif source == "peer":
                self.sync.sent = None  # a (re)started networking process holds nothing
        elif isinstance(event, Stats):
            self.stats[source] = event
            if source == "peer":
                self._route_peer_delay(event)
                self._route_sync_hold(event)
        elif isinstance(event, VideoPathDelay) and source == "render":
            self.sync.video(event.delay_ms, time.monotonic())
        elif isinstance(event, Status) and source == "peer":
            self._route_peer_state(event)
        elif isinstance(event, Status) and source == "tracking":
            if event.state == "calibrated":  # done before the window's countdown: clear it
                self.send("render", ShowOverlay(state="calibrated"))
        elif isinstance(event, Error) and source == "peer" and event.fatal:
            self._peer_fatal = event.message
            if REFUSED_JOIN in event.message:  # say it now: a front-end may end the call soon
                self._refused(event.message)
        elif isinstance(event, ChildExited) and source == "peer":
            if event.returncode == REFUSED_EXIT_CODE and not event.restarting:
                self._refused(self._peer_fatal)
        elif isinstance(event, PeerHello):
            self.memory.peer_name = peer_name(event.name)
            self.send("render", ShowPeerName(name=self.memory.peer_name))
        elif isinstance(event, PeerAvatar):
            self.memory.peer_avatar = event.ref
            self.send("render", ShowPeerAvatar(ref=event.ref))
        elif isinstance(event, PeerBye):
            self.peer_left = True
            self._show_overlay("peer_left")
        elif isinstance(event, GestureMade) and source == "tracking":
            # Ours: to the peer (the tracker's classifier already fires once per gesture).
            self.send("peer", SendGesture(name=event.name, side=event.side))
        elif isinstance(event, PeerGesture) and source == "peer":
            # Theirs (name checked and rate-limited by the networking process): to the window.
            self.send("render", ShowGesture(name=event.name, side=event.side))
        self._on_event(source, event)

    def _route_peer_delay(self, event: Stats) -> None:
        """Lip sync: the window shows the peer's avatar as late as the peer's voice plays
        (``voice.audio_delay_ms`` of the networking process's stats, about once a second).
        No voice, no audio flowing (0) or deafened (nobody hears it): 0 at once, the window's
        low-latency path. Otherwise the median of the last :data:`PEER_DELAY_MEDIAN_OF`
        reports, sent when it moves by :data:`PEER_DELAY_STEP_MS` or more."""
        heard = heard_audio_delay_ms(event.values.get("voice"))
        delay = 0.0 if heard is None else min(MAX_PEER_DELAY_MS, max(0.0, heard))
        if delay > 0.0:
            self._peer_delays.append(delay)
            delay = statistics.median_low(self._peer_delays)
        else:
            self._peer_delays.clear()
        last = self._peer_delay_sent
        moved = last is None or abs(delay - last) >= PEER_DELAY_STEP_MS or (delay == 0.0 < last)
        if moved and self.send("render", SetPeerDelay(delay_ms=round(delay, 1))):
            self._peer_delay_sent = delay

    def _route_sync_hold(self, event: Stats) -> None:
        """Lip sync when the avatar is the slower stream: hold the voice back (call.lipsync)."""
        hold = self.sync.decide(event.values.get("voice"), time.monotonic())
        if hold is not None and self.send("peer", SetSyncHold(hold_ms=hold)):
            self.sync.sent = hold

    def _route_peer_state(self, event: Status) -> None:
        """The networking process's state, as the window's banner."""
        self.state = event.state
        if event.state in ROOM_JOINED_STATES:
            self.memory.room_opened = True
        overlay = OVERLAY_FOR_PEER_STATE.get(event.state)
        if overlay == "connected":
            self.peer_left = False
        elif overlay == "refused":
            self._refused(event.message)
            return
        elif overlay and self.peer_left:
            # After a bye the networking process waits in the room for them to come back;
            # what the user needs to read is still that the other person left.
            overlay = "peer_left"
        if overlay:
            # "connected" shows briefly and then the window decides from the rings again.
            self.memory.overlay = "" if overlay == "connected" else overlay
            self.memory.overlay_detail = ""
            self.send("render", ShowOverlay(state=overlay))

    def _refused(self, message: str) -> None:
        """The relay refused us (room full, ...): without this the window would say
        "Connecting..." for ever. Said once (a status, the fatal error and the exit each tell);
        it stays: nothing will change it now."""
        if self.memory.overlay != "refused":
            self._show_overlay("refused", refusal_reason(message))

    def _show_overlay(self, state: str, detail: str = "") -> None:
        """A connection state that stays until the next (replayed to a restarted window)."""
        self.memory.overlay, self.memory.overlay_detail = state, detail
        self.send("render", ShowOverlay(state=state, detail=detail))

    def _emit(self, event: CallEvent) -> None:
        try:
            self._on_event(CALL, event)
        except Exception:
            log.exception("call event callback failed")

    # -- commands (each writes one line to a pipe; never blocks) -----------------------------
    def send(self, child: str, command: Command) -> bool:
        """One command to one child; False if that child is not running."""
        proc = self.children.get(child)
        return proc.send(command) if proc is not None else False

    def chat(self, text: str) -> bool:
        return self.send("peer", SendChat(text=text))

    def hangup(self) -> bool:
        return self.send("peer", Hangup())

    def open_room(self) -> bool:
        """After a ``no_room`` status: open the (empty) room and wait for the other person."""
        self.memory.room_opened = True
        return self.send("peer", OpenRoom())

    def set_emotion(self, preset: int, weight: float = 1.0) -> None:
        self.memory.set_emotion(preset, weight)
        self.send("tracking", SetEmotion(preset=preset, weight=weight))
        self.send("peer", SetEmotion(preset=preset, weight=weight))

    def pause(self, on: bool) -> None:
        """Pause our tracking; the window says so (the peer's pause it reads from the ring)."""
        self.memory.paused = on
        self.send("tracking", Pause(on=on))
        self.send("render", ShowOverlay(state="self_paused" if on else "self_resumed"))

    def recalibrate(self, seconds: float = 3.0) -> None:
        """Record the resting face again; the window shows what to do and counts down."""
        self.send("tracking", Recalibrate(seconds=seconds))
        self.send("render", ShowOverlay(state="recalibrating", seconds=seconds))

    def mirror(self, on: bool) -> None:
        self.memory.mirror = on
        self.send("tracking", Mirror(on=on))

    def smoothing(self, amount: float) -> None:
        self.memory.smoothing = amount
        self.send("tracking", Smoothing(enabled=amount > 0.0, amount=amount))

    def self_view(self, on: bool) -> None:
        self.memory.self_view = on
        self.send("render", SelfView(on=on))

    def switch_avatar(self, ref: str, variant: str = "") -> None:
        """Our own avatar changes: the peer tells the other side, the window redraws us."""
        self.memory.avatar, self.memory.variant = ref, variant
        self.send("peer", SetAvatar(ref=ref, variant=variant or None))
        self.send("render", ShowSelfAvatar(ref=ref, variant=variant or None))

    def set_mute(self, muted: bool) -> bool:
        """Stop (or resume) sending our voice; remembered for a restarted networking process.
        False if the call has no voice or the networking process is not running."""
        self.memory.muted = muted
        return self.memory.voice and self.send("peer", SetMute(muted=muted))

    def set_deafen(self, deafened: bool) -> bool:
        """Stop (or resume) playing the peer's voice; remembered like :meth:`set_mute`."""
        self.memory.deafened = deafened
        return self.memory.voice and self.send("peer", SetDeafen(deafened=deafened))

    # -- last resort -------------------------------------------------------------------------
    def pids(self) -> list[int]:
        procs = list(self.children.values())
        if self.relay is not None:
            procs.append(self.relay.child)
        elif self.shared_relay is not None and self.shared_relay.relay is not None:
            procs.append(self.shared_relay.relay.child)  # in use: counted, and a last resort
        return [c.pid for c in procs if c.pid is not None and c.running]

    def emergency_cleanup(self, grace_s: float = 0.0) -> None:
        """Synchronous last resort when the event loop cannot be trusted (a closed terminal,
        a crash): SIGTERM every child (each handles it like ``quit``: the peer says bye), wait
        up to ``grace_s``, SIGKILL what is left, and unlink the rings."""
        pids = self.pids()
        if grace_s > 0:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
                time.sleep(0.05)  # no event loop to wait on here
        for pid in pids:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        for ring in (self.local, self.remote):
            if ring is not None:
                with contextlib.suppress(Exception):
                    ring.close()
