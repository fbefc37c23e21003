"""Join deadline, idle timeout, heartbeat and pong deadline, on trio's autojump clock: the relay's
timers run in virtual time while the sockets are real, so minutes pass in milliseconds."""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing
from relay_testkit import (
    client,
    closed_code,
    join,
    new_room_code,
    pair,
    raw_websocket,
    recv,
    running_relay,
    send,
    wait_until,
    ws_frame,
)

pytestmark = pytest.mark.trio


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    """pytest-trio's fixture of this name, but jumping only after 20 ms of real idleness.

    With threshold 0 the clock jumps the moment no task is runnable, and on a loaded machine
    a loopback segment can still be in the kernel's softirq backlog at that moment: virtual
    time would overtake a pong already sent. 20 ms of real quiet costs little per jump."""
    return trio.testing.MockClock(autojump_threshold=0.02)

TIMERS = {"handshake_timeout": 10.0, "idle_timeout": 600.0, "ping_interval": 20.0,
          "pong_timeout": 10.0}


async def test_no_join_within_the_handshake_timeout(autojump_clock: trio.testing.MockClock
                                                    ) -> None:
    async with running_relay(**TIMERS) as server, client(server) as ws:
        start = trio.current_time()
        error = await recv(ws, timeout=60)
        assert error["code"] == "idle_timeout" and "join" in error["message"]
        assert await closed_code(ws) == 1008
        assert 9.0 <= trio.current_time() - start <= 11.0


async def test_silent_tcp_connection_is_cut_at_the_handshake_timeout(
        autojump_clock: trio.testing.MockClock) -> None:
    async with running_relay(**TIMERS) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        async with stream:
            start = trio.current_time()
            with trio.fail_after(60):
                assert await stream.receive_some(100) == b""
            assert 9.0 <= trio.current_time() - start <= 11.0
        assert server.metrics.rejections["handshake_timeout"] == 1


async def test_idle_timeout_after_join_and_ping_keeps_alive(
        autojump_clock: trio.testing.MockClock) -> None:
    async with running_relay(**TIMERS) as server:
        async with client(server) as ws:
            await join(ws, new_room_code())
            for _ in range(3):  # a JSON ping every 5 minutes keeps a waiting client
                await trio.sleep(300)
                await send(ws, type="ping", t=1)
                assert (await recv(ws))["type"] == "pong"
            start = trio.current_time()
            error = await recv(ws, timeout=1000)
            assert error["code"] == "idle_timeout"
            assert 599 <= trio.current_time() - start <= 601
            assert await closed_code(ws) == 1008
        await wait_until(lambda: server.hub.room_count == 0)


async def test_heartbeat_keeps_a_live_quiet_client(autojump_clock: trio.testing.MockClock
                                                   ) -> None:
    async with running_relay(**{**TIMERS, "idle_timeout": 1e6}) as server, \
            pair(server) as (a, b, _room):
        await trio.sleep(20 * 10 + 1)  # ten pings, each answered by trio-websocket's reader
        await send(a, type="offer", sdp="still here", gen=0)
        assert await recv(b) == {"v": 1, "type": "offer", "sdp": "still here", "gen": 0}
        assert server.metrics.rejections["pong_timeout"] == 0


async def test_peer_that_stops_answering_pings_is_dropped(
        autojump_clock: trio.testing.MockClock) -> None:
    async with running_relay(**TIMERS) as server:
        room = new_room_code()
        async with client(server, room) as a:
            await join(a, room)
            mute = await raw_websocket(server.port, f"/ws?room={room}")
            async with mute:
                await mute.send_all(ws_frame(json.dumps(
                    {"v": 1, "type": "join", "room": room}).encode()))
                assert (await recv(a))["type"] == "peer_joined"
                start = trio.current_time()
                left = await recv(a, timeout=120)
                assert left == {"v": 1, "type": "peer_left", "reason": "pong_timeout"}
                # First ping after 10-20 s (spread), deadline 10 s later.
                assert 19 <= trio.current_time() - start <= 31
            assert server.metrics.rejections["pong_timeout"] == 1
            # a itself answered every ping and is still connected.
            await send(a, type="ping", t=2)
            assert (await recv(a))["type"] == "pong"


async def test_closing_client_that_does_not_read_is_cut_after_the_flush_timeout(
        autojump_clock: trio.testing.MockClock) -> None:
    from relay.connection import CLOSE_FLUSH_TIMEOUT

    # A long send queue, so the slow-consumer rule does not fire first.
    async with running_relay(**TIMERS, send_queue=10_000, rate=1e6, burst=1_000_000) as server:
        room = new_room_code()
        async with client(server, room) as a:
            await join(a, room)
            sink = await raw_websocket(server.port, f"/ws?room={room}", rcvbuf=4096)
            async with sink:
                await sink.send_all(ws_frame(json.dumps(
                    {"v": 1, "type": "join", "room": room}).encode()))
                assert (await recv(a))["type"] == "peer_joined"
                offer = json.dumps({"v": 1, "type": "offer", "sdp": "s" * 30_000})
                for _ in range(300):  # 9 MB: far beyond what the kernel buffers for the sink
                    await a.send_message(offer)
                start = trio.current_time()
                await sink.send_all(ws_frame(b"binary", opcode=0x2))  # -> error + close
                assert (await recv(a))["type"] == "peer_left"
                await wait_until(lambda: server.hub.connection_count == 1, timeout=60, poll=0.25)
                assert trio.current_time() - start <= CLOSE_FLUSH_TIMEOUT + 1


async def test_peer_that_sends_but_pongs_late_is_kept(autojump_clock: trio.testing.MockClock
                                                      ) -> None:
    async with running_relay(**TIMERS) as server:
        room = new_room_code()
        talker = await raw_websocket(server.port, f"/ws?room={room}")
        async with talker:
            await talker.send_all(ws_frame(json.dumps(
                {"v": 1, "type": "join", "room": room}).encode()))
            for _ in range(20):  # 100 s: five heartbeats, none answered, frames all along
                await trio.sleep(5)
                await talker.send_all(ws_frame(b'{"v":1,"type":"ping"}'))
            await wait_until(lambda: server.metrics.frames_received_total == 21, poll=0.25)
            assert server.hub.connection_count == 1
            assert server.metrics.rejections["pong_timeout"] == 0
            assert server.metrics.pongs_late_total >= 3
            await trio.sleep(40)  # silent now: the next missed pong drops it
            await wait_until(lambda: server.hub.connection_count == 0, poll=0.25)
            assert server.metrics.rejections["pong_timeout"] == 1
