"""call/: config checks before anything starts, the embedded relay (a real one), what is replayed
to a restarted child, and a parent that survives a child writing garbage on its stdout."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import psutil
import pytest

from call import (
    Call,
    CallConfig,
    CallConfigError,
    ChildProcess,
    LocalRelay,
    RelayStarted,
)
from call.replay import CallMemory
from protocol.commands import (
    Mirror,
    OpenRoom,
    Pause,
    SelfView,
    SetAvatar,
    SetEmotion,
    ShowOverlay,
    ShowPeerAvatar,
    ShowSelfAvatar,
    Smoothing,
)
from protocol.events import Ready, Status

ROOM = "r" * 22


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"relay": "http://example.org"}, "must look like ws://HOST:PORT"),
        ({"relay": "ws://"}, "must look like ws://HOST:PORT"),
        ({"relay": "ws://host:99999"}, "out of range"),
        ({"source": "/nonexistent/clip.mp4"}, "no such clip: /nonexistent/clip.mp4"),
        ({"source": "missing.mp4"}, "no such clip"),
        ({"room": ""}, "no room code"),
        ({"smoothing": 1.5}, "smoothing 1.5 is not in 0..1"),
    ],
)
def test_config_refuses_what_cannot_work(changes: dict[str, Any], expected: str) -> None:
    config = CallConfig(room=ROOM, relay="ws://127.0.0.1:8765", source="synthetic")
    for key, value in changes.items():
        setattr(config, key, value)
    with pytest.raises(CallConfigError, match=expected):
        config.check()


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_a_bad_config_starts_nothing() -> None:
    before = {n for n in os.listdir("/dev/shm") if n.startswith("avatarchat-")}
    call = Call(CallConfig(room=ROOM, relay="", source="/nope/clip.mp4"))
    with pytest.raises(CallConfigError):
        await call.start()
    assert call.relay is None and not call.children
    assert {n for n in os.listdir("/dev/shm") if n.startswith("avatarchat-")} == before


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_local_relay_listens_on_the_port_it_reports_and_ends_with_stdin() -> None:
    events: list[Any] = []
    relay = LocalRelay(lambda _s, e: events.append(e), host="127.0.0.1")
    await relay.start()
    try:
        assert relay.port > 0 and relay.local_url == f"ws://127.0.0.1:{relay.port}"
        assert any(isinstance(e, Ready) and e.info["port"] == relay.port for e in events)
        # A web page cannot use it (Origin allowlist); a native client (no Origin) can.
        for origin, status in (("https://evil.example", b"403"), (None, b"101")):
            reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
            headers = (
                f"GET /ws?room={ROOM} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n"
                + (f"Origin: {origin}\r\n" if origin else "")
                + "\r\n"
            )
            writer.write(headers.encode())
            status_line = await asyncio.wait_for(reader.readline(), 10)
            assert status in status_line, (origin, status_line)
            writer.close()
    finally:
        await relay.stop()
    assert relay.child.returncode == 0  # stdin EOF -> graceful SIGTERM path, not a kill
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", relay.port)


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_call_without_a_relay_starts_one_and_shares_its_address() -> None:
    events: list[tuple[str, Any]] = []
    config = CallConfig(room=ROOM, source="synthetic")
    async with Call(config, lambda s, e: events.append((s, e))) as call:
        assert call.relay is not None
        started = [e for s, e in events if isinstance(e, RelayStarted)]
        assert started and started[0].port == call.relay.port
        assert call.share_url == started[0].share_url
        # Reachable from this machine only unless the user chose --lan.
        assert started[0].lan is False and call.share_url.startswith("ws://127.0.0.1:")
        assert listening_hosts(call.relay.child.pid) == {"127.0.0.1"}
        await call.wait_ready(60)
        relay_pid = call.relay.child.pid
        # The room code is a secret: no child carries it where other users can read it.
        for child in call.children.values():
            assert child.pid is not None
            with open(f"/proc/{child.pid}/cmdline", "rb") as f:
                assert ROOM.encode() not in f.read(), child.name
    assert relay_pid is not None and not call.relay.child.running


def listening_hosts(pid: int | None) -> set[str]:
    assert pid is not None
    return {
        c.laddr.ip
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    }


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_local_relay_shared_on_the_lan_listens_on_every_address() -> None:
    from call.netinfo import ALL_ADDRESSES, lan_ipv4

    relay = LocalRelay(lambda _s, _e: None, host=ALL_ADDRESSES)
    await relay.start()
    try:
        assert listening_hosts(relay.child.pid) == {"0.0.0.0"}
        assert relay.share_url == f"ws://{lan_ipv4()}:{relay.port}"
    finally:
        await relay.stop()


def test_lan_address_is_an_ipv4_address() -> None:
    from call.netinfo import lan_ipv4

    assert lan_ipv4().count(".") == 3


def test_memory_replays_what_the_user_changed_to_each_child() -> None:
    memory = CallMemory(mirror=True, smoothing=0.8)
    assert memory.replay("tracking") == [Mirror(on=True), Smoothing(enabled=True, amount=0.8)]
    memory.paused = True
    memory.set_emotion(1, 0.5)
    memory.self_view = False
    memory.avatar, memory.variant = "fox", "night"
    memory.peer_avatar = "/cache/ab.zip"
    memory.overlay = "peer_lost"
    assert memory.replay("tracking")[2:] == [Pause(on=True), SetEmotion(preset=1, weight=0.5)]
    assert memory.replay("peer") == [
        SetAvatar(ref="fox", variant="night"),
        SetEmotion(preset=1, weight=0.5),
    ]
    assert memory.replay("render") == [
        SelfView(on=False),
        ShowPeerAvatar(ref="/cache/ab.zip"),
        ShowSelfAvatar(ref="fox", variant="night"),
        ShowOverlay(state="peer_lost"),
        ShowOverlay(state="self_paused"),  # our pause, in the window's banner too
    ]
    memory.set_emotion(0, 1.0)  # neutral: nothing to replay
    assert SetEmotion(preset=0, weight=1.0) not in memory.replay("peer")
    assert memory.replay("relay") == []
    # Once the room was joined (or opened by choice), a restarted networking process rejoins
    # it without the "someone must be there" check.
    memory.room_opened = True
    assert memory.replay("peer")[0] == OpenRoom()


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_parent_counts_garbage_from_a_child_and_keeps_going() -> None:
    script = (
        "import sys\n"
        'print(\'{"event":"ready","info":{}}\')\n'
        "print('\\x1b]0;owned\\x07 not json')\n"
        'print(\'{"event":"status","state":7}\')\n'
        'print(\'{"event":"teleported","where":"mars"}\')\n'
        "print('[' * 100000)\n"
        'print(\'{"event":"status","state":"fine","message":"still here"}\')\n'
        "sys.stdout.flush()\n"
        "sys.stdin.read()\n"
    )
    events: list[Any] = []
    child = ChildProcess("noisy", [sys.executable, "-c", script], lambda _s, e: events.append(e))
    await child.start()
    try:
        await child.wait_ready(20)
        for _ in range(200):
            if Status(state="fine", message="still here") in events:
                break
            await asyncio.sleep(0.05)
        assert Status(state="fine", message="still here") in events
        assert child.bad_lines == 3  # not JSON; a state that is not a string; over-long
        assert child.running
    finally:
        await child.stop()


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_every_call_sweeps_rings_a_killed_call_left_behind() -> None:
    """``kill -9`` of a front-end leaves its rings in /dev/shm; the next call (TUI or CLI: both
    start here) removes segments whose owner is gone, and only those."""
    script = (
        "import os, signal\n"
        "from protocol.ring import ShmRing\n"
        "ring = ShmRing.create('local')\n"
        "print(ring.name, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    stale = out.decode().strip()
    assert stale and os.path.exists(f"/dev/shm/{stale}")
    async with Call(CallConfig(room=ROOM, relay="ws://127.0.0.1:9", source="synthetic")) as call:
        assert call.local is not None and os.path.exists(f"/dev/shm/{call.local.name}")
        assert not os.path.exists(f"/dev/shm/{stale}")


class StateWatch:
    """The networking process's states, as events: ``await watch.reach("connected")``."""

    def __init__(self) -> None:
        self.states: list[str] = []
        self._changed = asyncio.Event()

    def __call__(self, source: str, event: Any) -> None:
        if source == "peer" and isinstance(event, Status):
            self.states.append(event.state)
            self._changed.set()

    async def reach(self, state: str, timeout: float = 60) -> None:
        async with asyncio.timeout(timeout):
            while state not in self.states:
                self._changed.clear()
                await self._changed.wait()


@pytest.mark.asyncio
@pytest.mark.timeout(180)
async def test_joining_a_code_nobody_is_behind_says_so_and_can_wait_there(relay_url: str) -> None:
    """Issue 16: a wrong or expired code used to open an empty room and wait forever without a
    word. Joining (``join_existing``) now says ``no_room`` at once; the user may then open the
    room and wait, and the other person joining later connects."""
    from protocol.signaling import new_room_code

    room = new_room_code()
    alice_states = StateWatch()
    alice_cfg = CallConfig(room=room, relay=relay_url, source="synthetic", join_existing=True)
    async with Call(alice_cfg, alice_states) as alice:
        await alice_states.reach("no_room")
        assert "waiting" not in alice_states.states  # nothing was opened behind her back
        assert alice.open_room()
        await alice_states.reach("waiting", 30)
        bob_states = StateWatch()
        bob_cfg = CallConfig(room=room, relay=relay_url, source="synthetic", join_existing=True)
        async with Call(bob_cfg, bob_states):
            await bob_states.reach("connected")
            await alice_states.reach("connected")
        assert "no_room" not in bob_states.states
