"""Runs one call for the TUI: the optional local relay plus :class:`peer.supervisor.CallSession`.

The Textual side never touches processes directly: a screen starts a :class:`CallController`
in a worker, receives every child event through ``on_event`` (called on the event loop, so it
may post Textual messages) and calls its command methods, which only write a line to a pipe and
never block. Process management itself (spawn, restart with backoff, ordered shutdown, ring
unlinking) is the supervisor's; this class adds what only the TUI needs: a relay started on
demand, the address to give the other person, and a synchronous last-resort cleanup for when
the event loop is already gone (a closed terminal, an exception in the app).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from peer.errors import SupervisorError
from peer.supervisor import CallConfig, CallSession, ChildProcess, module_argv
from protocol.frame import Emotion

from .netinfo import LOOPBACK, free_port, lan_ipv4
from .settings import Settings, state_dir

log = logging.getLogger(__name__)

EventCallback = Callable[[dict[str, Any]], None]
#: The relay binds in well under a second; allow a slow CI box plenty.
RELAY_START_TIMEOUT_S = 15.0
#: When set, the app writes {room, relay, join_command} here once a room exists, so scripts
#: and the end-to-end test can hand the code to the other side without scraping the screen.
ROOM_FILE_ENV = "AVATARCHAT_ROOM_FILE"


@dataclass(slots=True)
class CallRequest:
    """What the home screen (or the command line) asks for."""

    room: str
    #: Relay URL the peer process connects to; "" = start a local relay for this call.
    relay: str = ""
    name: str = ""
    source: str = "sample"
    avatar: str = ""
    variant: str = ""
    window: bool = True
    created: bool = False  # we made the room (show the invite), rather than joined it


def join_command(relay_url: str, room: str) -> str:
    """The one line the other person pastes into their terminal."""
    return f"avatarchat-tui --relay {relay_url} --join {room}"


def write_room_file(room: str, relay_url: str) -> None:
    path = os.environ.get(ROOM_FILE_ENV)
    if not path:
        return
    data = {"room": room, "relay": relay_url, "join_command": join_command(relay_url, room)}
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    """Running and not a zombie (asyncio's child watcher reaps exited children in a thread)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def smoothing_command(amount: float) -> dict[str, Any]:
    """Map the one-knob setting (0 raw .. 0.5 default .. 1 very smooth) onto the tracker's
    One Euro groups: min_cutoff scales by 4x either way (lower cutoff = smoother, laggier)."""
    if amount <= 0.0:
        return {"enabled": False}
    try:
        from tracking.smoothing import DEFAULT_GROUPS
    except ImportError:  # tracking not installed: leave its defaults alone
        return {"enabled": True}
    factor = 4.0 ** ((0.5 - min(1.0, amount)) * 2.0)
    groups = {
        name: {"min_cutoff": round(p.min_cutoff * factor, 4)} for name, p in DEFAULT_GROUPS.items()
    }
    return {"enabled": True, **groups}


class LocalRelay:
    """``python -m relay`` on a free port for the length of one call (through
    :mod:`tui.relay_guard`, so it also ends if this process dies without cleaning up)."""

    def __init__(self, on_event: EventCallback, log_dir: Path) -> None:
        self.port = free_port()
        self.lan_host = lan_ipv4()
        self.child = ChildProcess(
            "relay",
            module_argv("tui.relay_guard", "--host", "0.0.0.0", "--port", str(self.port)),
            on_event,
            restart=True,
            log_path=log_dir / "relay.log",
        )

    @property
    def local_url(self) -> str:
        return f"ws://{LOOPBACK}:{self.port}"

    @property
    def share_url(self) -> str:
        return f"ws://{self.lan_host}:{self.port}"

    async def start(self) -> None:
        await self.child.start()
        deadline = asyncio.get_running_loop().time() + RELAY_START_TIMEOUT_S
        while True:
            try:
                _, writer = await asyncio.open_connection(LOOPBACK, self.port)
            except OSError:
                if not self.child.running and not self.child.restart:
                    raise SupervisorError("the local relay exited at start") from None
                if asyncio.get_running_loop().time() > deadline:
                    raise SupervisorError(
                        f"the local relay did not listen on port {self.port} "
                        f"within {RELAY_START_TIMEOUT_S:.0f} s"
                    ) from None
                await asyncio.sleep(0.1)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return

    async def stop(self) -> None:
        await self.child.stop()


class CallController:
    """One call: start, commands, hang up. All methods run on the event loop."""

    def __init__(self, request: CallRequest, settings: Settings, on_event: EventCallback) -> None:
        self.request = request
        self.settings = settings
        self._on_event = on_event
        self.log_dir = state_dir() / "logs"
        self.relay: LocalRelay | None = None
        self.session: CallSession | None = None
        #: The relay URL to give the other person (LAN address of a local relay).
        self.share_url = request.relay
        self._closed = False
        # Remembered so a restarted tracker gets them again.
        self._paused = False
        self._self_view = True
        self._emotion: tuple[Emotion, float] | None = None
        self._peer_avatar = ""
        self._switched = False

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the relay (if needed) and the call's processes. Raises SupervisorError."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        req = self.request
        relay_url = req.relay
        if not relay_url:
            self.relay = LocalRelay(self._emit, self.log_dir)
            self._emit(
                {
                    "event": "status",
                    "child": "session",
                    "state": "relay",
                    "message": "starting a local relay",
                }
            )
            await self.relay.start()
            relay_url = self.relay.local_url
            self.share_url = self.relay.share_url
            self._emit(
                {
                    "event": "relay_started",
                    "child": "session",
                    "share_url": self.share_url,
                    "port": self.relay.port,
                }
            )
        if req.created:
            write_room_file(req.room, self.share_url)
        s = self.settings
        render_args: list[str] = ["--self-variant", req.variant] if req.variant else []
        config = CallConfig(
            relay=relay_url,
            room=req.room,
            source=req.source,
            name=req.name,
            avatar=req.avatar or "aria",
            window=req.window,
            ice_servers=[s.turn_url] if s.turn_url else [],
            turn_user=s.turn_username or None,
            turn_pass=s.turn_credential or None,
            log_dir=str(self.log_dir),
            render_args=render_args,
        )
        self.session = CallSession(config, self._dispatch)
        await self.session.start()

    def _dispatch(self, event: dict[str, Any]) -> None:
        # Settings the children take as commands once they are up (also after a restart).
        if event.get("event") == "ready" and self.session is not None:
            child = event.get("child")
            if child == "tracking":
                self.session.send_tracking("mirror", on=self.settings.mirror)
                self.session.send_tracking(
                    "smoothing", **smoothing_command(self.settings.smoothing)
                )
                if self._paused:
                    self.session.send_tracking("pause", on=True)
                if self._emotion is not None:
                    self.session.send_tracking(
                        "emotion", preset=int(self._emotion[0]), weight=self._emotion[1]
                    )
            elif child == "render":
                # A restarted window starts from its command line: tell it what changed since.
                if not self._self_view:
                    self.session.send_render("self_view", on=False)
                if self._peer_avatar:
                    self.session.send_render("avatar", ref=self._peer_avatar)
                if self._switched:
                    self.session.send_render("self_avatar", **self._self_avatar_fields())
        elif event.get("event") == "peer_avatar" and event.get("ref"):
            self._peer_avatar = str(event["ref"])
        elif (
            event.get("event") == "status"
            and event.get("child") == "peer"
            and self.session is not None
        ):
            # The window shows a connection overlay; it learns the state from us.
            state = str(event.get("state", ""))
            overlay = {
                "connected": "connected",
                "connecting": "connecting",
                "peer_lost": "peer_lost",
            }.get(state)
            if overlay:
                self.session.send_render("overlay", state=overlay)
        self._emit(event)

    def _emit(self, event: dict[str, Any]) -> None:
        try:
            self._on_event(event)
        except Exception:
            log.exception("call event handler failed for %s", event.get("event"))

    async def close(self, *, hangup: bool = True) -> None:
        """Say bye (if asked), stop every process and unlink the rings. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.session is not None:
                if hangup and self.session.peer is not None:
                    # ``hangup`` makes the peer say bye and exit; stopping it right away marks
                    # the exit as wanted, so the supervisor does not restart it.
                    self.session.hangup()
                    await self.session.peer.stop()
                await self.session.close()
        finally:
            if self.relay is not None:
                await self.relay.stop()

    @property
    def closed(self) -> bool:
        return self._closed

    def pids(self) -> list[int]:
        children: list[ChildProcess] = list(self.session.children) if self.session else []
        if self.relay is not None:
            children.append(self.relay.child)
        return [c.pid for c in children if c.pid is not None and c.running]

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
        if self.session is not None:
            for ring in (self.session.local, self.session.remote):
                if ring is not None:
                    with contextlib.suppress(Exception):
                        ring.close()

    # -- commands (each writes one line to a pipe; never blocks) -----------------------------
    def chat(self, text: str) -> bool:
        return self.session.chat(text) if self.session else False

    def emotion(self, preset: Emotion, weight: float = 1.0) -> None:
        if self.session is None:
            return
        self._emotion = (preset, weight) if preset != Emotion.NEUTRAL else None
        self.session.send_tracking("emotion", preset=int(preset), weight=weight)
        self.session.send_peer("emotion", preset=int(preset), weight=weight)

    def pause_tracking(self, on: bool) -> None:
        self._paused = on
        if self.session is not None:
            self.session.send_tracking("pause", on=on)

    def recalibrate(self) -> None:
        if self.session is not None:
            self.session.send_tracking("recalibrate")

    def self_view(self, on: bool) -> None:
        self._self_view = on
        if self.session is not None:
            self.session.send_render("self_view", on=on)

    def switch_avatar(self, ref: str, variant: str = "") -> None:
        """Our own avatar changes: the peer tells the other side, the render redraws self-view."""
        self.request.avatar, self.request.variant = ref, variant
        self._switched = True
        if self.session is None:
            return
        self.session.send_peer("avatar", ref=ref)
        self.session.send_render("self_avatar", **self._self_avatar_fields())

    def _self_avatar_fields(self) -> dict[str, str]:
        req = self.request
        return {"ref": req.avatar, **({"variant": req.variant} if req.variant else {})}
