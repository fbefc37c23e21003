"""Frame-level floods (issue 15, defect 3): empty continuation frames of a message that never
ends, and PING floods, are charged to the connection's budget and cut off, while another room
on the same relay keeps working."""

from __future__ import annotations

import json
import struct

import pytest
import trio
from relay_testkit import (
    assert_alive,
    new_room_code,
    pair,
    raw_websocket,
    running_relay,
    wait_until,
)

from netlab.attacks.wsraw import client_frame, server_frames

pytestmark = pytest.mark.trio


def frame(payload: bytes, opcode: int, *, fin: bool) -> bytes:
    """One masked client frame, FIN as asked (the attack suite's encoder)."""
    return client_frame(payload, opcode, fin=fin)


async def _joined_raw_client(port: int) -> trio.SocketStream:
    """A hand-made client in a room of its own (so the join deadline no longer applies)."""
    room = new_room_code()
    stream = await raw_websocket(port, f"/ws?room={room}")
    join = json.dumps({"v": 1, "type": "join", "room": room, "client": "test/0"}).encode()
    await stream.send_all(frame(join, 0x1, fin=True))
    return stream


async def _flood_until_closed(
    stream: trio.SocketStream, chunk: bytes, limit: int
) -> tuple[int, bytes]:
    """Send ``chunk`` up to ``limit`` times while reading everything back; returns how many
    were sent and all bytes received, once the relay has closed the TCP connection."""
    received = bytearray()
    closed = trio.Event()

    async def reader() -> None:
        try:
            while data := await stream.receive_some(65536):
                received.extend(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        closed.set()

    sent = 0
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            try:
                while sent < limit and not closed.is_set():
                    await stream.send_all(chunk)
                    sent += 1
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            await closed.wait()
    return sent, bytes(received)


def _close_frame(received: bytes) -> tuple[int, str]:
    frames = server_frames(received)
    closes = [p for op, p in frames if op == 0x8]
    assert closes, frames[-5:]
    code = struct.unpack("!H", closes[0][:2])[0]
    return code, closes[0][2:].decode()


async def test_endless_empty_continuation_frames_are_cut_off() -> None:
    async with running_relay(rate=10_000, burst=10_000) as server, pair(server) as (a, b, _room):
        stream = await _joined_raw_client(server.port)
        await stream.send_all(frame(b'{"v":1,', 0x1, fin=False))  # a message that never ends
        empty = frame(b"", 0x0, fin=False)
        sent, received = await _flood_until_closed(stream, empty * 100, 2_000)
        assert sent * 100 < 200_000  # cut long before the client gave up
        assert _close_frame(received) == (
            1008,
            "too_many_fragments: message in more than 128 frames",
        )
        await assert_alive(a, b)
        # The handler counts the refusal after the close frame went out: wait for it.
        await wait_until(lambda: server.metrics.rejections["too_many_fragments"] == 1)


async def test_continuation_frames_count_against_the_rate_budget() -> None:
    async with running_relay(rate=10, burst=60) as server, pair(server) as (a, b, _room):
        stream = await _joined_raw_client(server.port)
        # 50 messages (under the burst of 60) of 20 frames each (under the fragment cap): only
        # counting every frame, not every message, sees the 1,000 frames.
        message = (
            frame(b'{"v":1,', 0x1, fin=False)
            + frame(b"", 0x0, fin=False) * 18
            + frame(b'"type":"pong"}', 0x0, fin=True)
        )
        _sent, received = await _flood_until_closed(stream, message, 50)
        code, reason = _close_frame(received)
        assert code == 1008 and "rate_limited" in reason
        await assert_alive(a, b)
        # The handler counts the refusal after the close frame went out: wait for it.
        await wait_until(lambda: server.metrics.rejections["rate_limited"] == 1)


async def test_ping_flood_is_cut_off() -> None:
    async with running_relay(rate=10, burst=60) as server, pair(server) as (a, b, _room):
        stream = await _joined_raw_client(server.port)
        ping = frame(b"x", 0x9, fin=True)
        sent, received = await _flood_until_closed(stream, ping * 50, 20_000)
        assert sent < 20_000
        pongs = [p for op, p in server_frames(received) if op == 0xA]
        assert len(pongs) <= 60  # never more than the burst answered
        assert _close_frame(received) == (1008, "rate_limited: too many frames")
        await assert_alive(a, b)
        # The handler counts the refusal after the close frame went out: wait for it.
        await wait_until(lambda: server.metrics.rejections["rate_limited"] == 1)
