"""Hostile and broken clients: each gets its clear error or disconnect, and a second room on the
same relay keeps working throughout (``assert_alive`` after every case)."""

from __future__ import annotations

import json
import random

import pytest
import trio
from relay_testkit import (
    assert_alive,
    client,
    closed_code,
    http_get,
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
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

pytestmark = pytest.mark.trio

RECOVERABLE = [
    ("{not json", "bad_json"),
    ("", "bad_json"),
    ("[1, 2]", "bad_message"),
    ('{"v":1}', "bad_message"),
    ('{"v":1,"type":"teleport"}', "unknown_type"),
    ('{"v":1,"type":"join"}', "bad_message"),
    ('{"v":1,"type":"offer"}', "bad_message"),  # sdp is required
    ('{"v":1,"type":"answer","sdp":"x"}', "not_joined"),
    ('{"v":1,"type":"ice","candidate":7}', "bad_message"),
    ('{"v":1,"type":"join","room":"too-short"}', "bad_room"),
    ('{"v":1,"type":"ping","t":-1}', "bad_message"),
    ("[" * 10_000 + "]" * 10_000, "bad_json"),
]


@pytest.mark.parametrize(("frame", "code"), RECOVERABLE)
async def test_recoverable_errors_keep_the_connection(frame: str, code: str) -> None:
    async with running_relay() as server, pair(server) as (a, b, _room):
        async with client(server) as c:
            await c.send_message(frame)
            error = await recv(c)
            assert error["type"] == "error" and error["code"] == code, error
            assert error["message"]
            await send(c, type="ping", t=1)
            assert (await recv(c))["type"] == "pong"  # still connected
            await assert_alive(a, b)
        assert server.metrics.rejections[code] == 1


async def _expect_error_then_close(ws: WebSocketConnection, code: str, close: int) -> None:
    while True:
        message = json.loads(await ws.get_message())
        if message["type"] != "pong":
            break
    assert message["type"] == "error" and message["code"] == code, message
    assert await closed_code(ws) == close


async def test_oversize_frame_closes_1009() -> None:
    async with running_relay() as server, pair(server) as (a, b, _room):
        async with client(server) as c:
            await c.send_message("x" * (64 * 1024 + 1))
            assert await closed_code(c) == 1009
        # Under the character cap but over the byte cap once UTF-8 encoded.
        async with client(server) as c:
            await c.send_message(json.dumps({"v": 1, "type": "ping", "x": "é" * 40_000},
                                            ensure_ascii=False))
            await _expect_error_then_close(c, "too_large", 1009)
        # A field over its own cap inside a frame under the frame cap.
        async with client(server) as c:
            await send(c, type="offer", sdp="v" * 40_000)
            await _expect_error_then_close(c, "too_large", 1009)
        await assert_alive(a, b)
        await wait_until(lambda: server.metrics.rejections["too_large"] == 3)


async def test_binary_frame_is_refused_1003() -> None:
    async with running_relay() as server, pair(server) as (a, b, _room):
        async with client(server) as c:
            await c.send_message(b"\x00\x01binary")
            await _expect_error_then_close(c, "binary_not_allowed", 1003)
        await assert_alive(a, b)


async def test_flood_is_rate_limited_then_closed_1008() -> None:
    async with running_relay(rate=10, burst=60) as server, pair(server) as (a, b, _room):
        async with client(server) as c:
            try:
                for i in range(300):
                    await send(c, type="ping", t=i)
            except ConnectionClosed:
                pass
            await _expect_error_then_close(c, "rate_limited", 1008)
        await assert_alive(a, b)
        assert server.metrics.rejections["rate_limited"] == 1


async def test_unsupported_version_closes() -> None:
    async with running_relay() as server, pair(server) as (a, b, _room):
        async with client(server) as c:
            await c.send_message('{"v":2,"type":"ping"}')
            await _expect_error_then_close(c, "unsupported_version", 1008)
        await assert_alive(a, b)


async def test_client_that_never_reads_is_dropped_not_waited_for() -> None:
    async with running_relay(rate=10_000, burst=10_000) as server, \
            pair(server) as (a, b, _room):
        room = new_room_code()
        sink = await raw_websocket(server.port, f"/ws?room={room}", rcvbuf=4096)
        async with sink, client(server, room) as sender:
            await sink.send_all(ws_frame(json.dumps(
                {"v": 1, "type": "join", "room": room}).encode()))
            await join(sender, room)
            offer = json.dumps({"v": 1, "type": "offer", "sdp": "s" * 30_000})
            left = trio.Event()

            async def watch() -> None:
                while True:
                    message = json.loads(await sender.get_message())
                    if message["type"] == "peer_left":
                        assert message["reason"] == "slow_consumer"
                        left.set()
                        return

            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch)
                with trio.fail_after(20):
                    while not left.is_set():
                        await sender.send_message(offer)
                        await trio.sleep(0)
            # Meanwhile the other room never stalled.
            await assert_alive(a, b)
            assert server.metrics.rejections["slow_consumer"] >= 1
        await wait_until(lambda: server.hub.connection_count == 2)
        await assert_alive(a, b)


async def test_garbage_and_plain_http_do_not_hurt() -> None:
    async with running_relay() as server, pair(server) as (a, b, _room):
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        async with stream:
            await stream.send_all(b"\x16\x03\x01 not http at all\r\n\r\n")
            with trio.fail_after(5):
                reply = await stream.receive_some(4096)
            assert reply.startswith(b"HTTP/1.1 400")
        for target in ("/ws?" + "&".join(f"k{i}=v" for i in range(50)), "//[bad/ws"):
            status, _ = await http_get(server.port, target)
            assert status == 400, target
        status, _ = await http_get(server.port, "/ws")  # a GET without the upgrade
        assert status == 404
        status, _ = await http_get(server.port, "/ws", "Upgrade: websocket\r\n")
        assert status == 400  # no Connection: Upgrade / key
        await assert_alive(a, b)
        assert server.metrics.rejections["internal"] == 0


def _random_frame(rng: random.Random, room: str) -> str | bytes:
    """One frame from a mix of near-valid messages with damage and plain noise."""
    roll = rng.random()
    if roll < 0.01:
        return rng.randbytes(rng.randint(0, 64))  # binary: closes this connection
    if roll < 0.25:
        return rng.randbytes(rng.randint(0, 200)).decode("latin-1")
    if roll < 0.35:
        return "[" * rng.randint(1, 5000)
    base: dict[str, object] = rng.choice([
        {"v": 1, "type": "join", "room": room, "client": "fuzz"},
        {"v": 1, "type": "offer", "sdp": "v=0", "gen": 1},
        {"v": 1, "type": "answer", "sdp": "v=0"},
        {"v": 1, "type": "ice", "candidate": "c", "sdp_mid": "0", "sdp_mline_index": 0},
        {"v": 1, "type": "avatar", "id": "a", "version": "1", "hash": "h"},
        {"v": 1, "type": "ping", "t": 1},
        {"v": 1, "type": "turn_request"},
        {"v": 1, "type": "joined", "room": room, "position": 1},
        {"v": 1, "type": "error", "code": "x", "message": "y"},
    ])
    noise: list[object] = [None, True, -1, 2**60, 1.5, "", "x" * rng.randint(0, 300), [], {},
                           [1, [2, [3]]], {"a": {"b": None}}, "\u0000\ud7ff\U0001f600"]
    for _ in range(rng.randint(0, 3)):
        # Rarely the version: a wrong one closes the connection (like binary), which would
        # spend the run on reconnects rather than on frames.
        key = rng.choice([*(k for k in base if k != "v"), "extra"]) if rng.random() > 0.005 else "v"
        if rng.random() < 0.3:
            base.pop(key, None)
        else:
            base[key] = rng.choice(noise)
    return json.dumps(base, ensure_ascii=rng.random() < 0.5)


async def test_fuzz_ten_thousand_frames_leave_it_serving() -> None:
    target, clients = 10_000, 4
    async with running_relay(rate=1e6, burst=1_000_000) as server, \
            pair(server) as (a, b, _room):
        metrics = server.metrics
        sent = 0

        def more() -> bool:  # until the relay itself has taken 10,000 fuzz frames
            return metrics.frames_received_total < target

        async def fuzzer(seed: int) -> None:
            nonlocal sent
            rng = random.Random(seed)
            room = new_room_code()
            while more():
                async with open_websocket_url(f"ws://127.0.0.1:{server.port}/ws") as ws:

                    async def drain(ws: WebSocketConnection = ws) -> None:
                        try:
                            while True:
                                await ws.get_message()
                        except ConnectionClosed:
                            pass

                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(drain)
                        try:
                            while more():
                                frame = _random_frame(rng, room)
                                sent += 1
                                await ws.send_message(frame)
                                if isinstance(frame, bytes):
                                    break
                        except ConnectionClosed:
                            pass
                        nursery.cancel_scope.cancel()

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                for seed in range(clients):
                    nursery.start_soon(fuzzer, seed)
        assert sent >= target and metrics.frames_received_total >= target
        assert sum(metrics.rejections.values()) > target // 2, dict(metrics.rejections)
        await assert_alive(a, b)
        status, _body = await http_get(server.port, "/healthz")
        assert status == 200
        async with pair(server) as (c, d, _r):
            await assert_alive(c, d)
        await wait_until(lambda: server.hub.connection_count == 2)


async def test_half_open_handshakes_count_against_the_per_ip_cap() -> None:
    async with running_relay(max_conns_per_ip=2) as server, pair(server) as (a, b, _room):
        # pair() holds two upgraded connections already; silent sockets are capped separately.
        silent = [await trio.open_tcp_stream("127.0.0.1", server.port) for _ in range(3)]
        try:
            with trio.fail_after(5):
                assert await silent[2].receive_some(10) == b""  # the third is cut at once
            await assert_alive(a, b)
            assert server.hub.pending_per_ip["127.0.0.1"] == 2
        finally:
            for stream in silent:
                await stream.aclose()


async def test_fuzzed_http_heads_get_a_status_never_a_crash() -> None:
    rng = random.Random(7)
    valid = ("GET /ws?room={room} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\nOrigin: https://a\r\n")
    async with running_relay() as server, pair(server) as (a, b, _room):
        for i in range(300):
            head = valid.format(room=new_room_code()).encode()
            if i % 3 == 0:
                head = rng.randbytes(rng.randint(0, 300))
            else:
                data = bytearray(head)
                for _ in range(rng.randint(1, 6)):
                    pos = rng.randrange(len(data))
                    data[pos:pos + rng.randint(0, 4)] = rng.randbytes(rng.randint(0, 4))
                head = bytes(data)
            stream = await trio.open_tcp_stream("127.0.0.1", server.port)
            async with stream:
                try:
                    await stream.send_all(head + b"\r\n\r\n")
                    with trio.fail_after(5):
                        reply = await stream.receive_some(4096)
                except trio.BrokenResourceError:
                    continue  # the relay answered and closed before we finished sending
            assert reply == b"" or reply.startswith(b"HTTP/1.1 "), reply[:40]
        await assert_alive(a, b)
        assert server.metrics.rejections["internal"] == 0


@pytest.mark.parametrize("version", ["true", "1.0"])
async def test_version_that_only_equals_one_is_refused(version: str) -> None:
    """``"v": true`` and ``"v": 1.0`` passed as version 1 (issue 15, defect 12)."""
    async with running_relay() as server, pair(server) as (a, _b, _room):
        await a.send_message(f'{{"v":{version},"type":"ping","t":1}}')
        error = await recv(a)
        assert error["type"] == "error" and error["code"] == "bad_message"
        assert "'v' must be an integer" in error["message"]
        await send(a, type="ping", t=2)  # a recoverable mistake: the connection stays
        assert await recv(a) == {"v": 1, "type": "pong", "t": 2}


async def test_unknown_fields_are_not_forwarded() -> None:
    """60 KB of junk in an unknown field was relayed verbatim (issue 15, defect 12); the relay
    forwards only the fields the protocol defines for the type (golden vectors)."""
    junk = "j" * 60_000
    sent_and_forwarded = [
        ({"type": "offer", "sdp": "v=0", "gen": 2, "junk": junk},
         '{"v":1,"type":"offer","sdp":"v=0","gen":2}'),
        ({"type": "answer", "sdp": "v=0", "extra": {"nested": [1, 2]}},
         '{"v":1,"type":"answer","sdp":"v=0","gen":0}'),
        ({"type": "ice", "candidate": "candidate:1", "sdp_mid": "0", "junk": junk},
         '{"v":1,"type":"ice","candidate":"candidate:1","sdp_mid":"0","sdp_mline_index":null,'
         '"gen":0}'),
        ({"type": "avatar", "id": "fox", "version": "1", "hash": "ab", "url": "http://x"},
         '{"v":1,"type":"avatar","id":"fox","version":"1","hash":"ab"}'),
    ]
    async with running_relay() as server, pair(server) as (a, b, _room):
        for fields, golden in sent_and_forwarded:
            await send(a, **fields)
            with trio.fail_after(5):
                assert await b.get_message() == golden
        assert server.metrics.bytes_relayed_total == sum(len(g) for _, g in sent_and_forwarded)
