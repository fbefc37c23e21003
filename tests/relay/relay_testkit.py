"""Helpers for the relay tests: an in-process relay on port 0 and real WebSocket clients.

(Named ``relay_testkit`` rather than ``helpers`` because test directories have no
``__init__.py`` and share one module namespace.)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from protocol.signaling import new_room_code
from relay import RelayConfig, RelayServer, serve_relay

__all__ = ["new_room_code"]


#: Every test client comes from 127.0.0.1, and tests that churn rooms or reconnect (fuzzers,
#: many rooms) open hundreds a second: the per-address rates are off unless a test sets them
#: (the rate tests do, with small values; the relay_url fixture's process keeps the defaults).
UNLIMITED_RATES: dict[str, Any] = {"conn_rate": 1e6, "conn_burst": 1_000_000,
                                   "room_rate": 1e6, "room_burst": 1_000_000}


@asynccontextmanager
async def running_relay(**overrides: Any) -> AsyncIterator[RelayServer]:
    """A relay on 127.0.0.1 port 0 for the duration of the block."""
    config = RelayConfig(port=0, **{**UNLIMITED_RATES, **overrides})
    async with trio.open_nursery() as nursery:
        server: RelayServer = await nursery.start(serve_relay, config)
        yield server
        nursery.cancel_scope.cancel()


def url(server: RelayServer, room: str | None = None) -> str:
    base = f"ws://127.0.0.1:{server.port}/ws"
    return f"{base}?room={room}" if room else base


@asynccontextmanager
async def client(server: RelayServer, room: str | None = None,
                 *, query: bool = True) -> AsyncIterator[WebSocketConnection]:
    async with open_websocket_url(url(server, room if query else None)) as ws:
        yield ws


async def recv(ws: WebSocketConnection, timeout: float = 5) -> dict[str, Any]:
    with trio.fail_after(timeout):
        message = await ws.get_message()
    assert isinstance(message, str)
    data = json.loads(message)
    assert isinstance(data, dict)
    return data


async def send(ws: WebSocketConnection, **fields: Any) -> str:
    text = json.dumps({"v": 1, **fields})
    await ws.send_message(text)
    return text


async def join(ws: WebSocketConnection, room: str) -> dict[str, Any]:
    await send(ws, type="join", room=room, client="test/0")
    reply = await recv(ws)
    assert reply["type"] == "joined", reply
    return reply


@asynccontextmanager
async def pair(server: RelayServer, room: str | None = None
               ) -> AsyncIterator[tuple[WebSocketConnection, WebSocketConnection, str]]:
    """Two clients joined to one room; the first has already seen ``peer_joined``."""
    room = room or new_room_code()
    async with client(server, room) as a, client(server, room) as b:
        assert (await join(a, room))["position"] == 1
        assert (await join(b, room))["position"] == 2
        assert (await recv(a))["type"] == "peer_joined"
        yield a, b, room


async def closed_code(ws: WebSocketConnection, timeout: float = 5) -> int:
    """Read until the server closes; the close code."""
    from trio_websocket import ConnectionClosed

    with trio.fail_after(timeout):
        while True:
            try:
                await ws.get_message()
            except ConnectionClosed as e:
                assert e.reason is not None
                return e.reason.code


async def wait_until(predicate: Any, timeout: float = 5, poll: float = 0.005) -> None:
    """Wait for server-side state that has no event of its own (it follows a socket close the
    server has to notice first); short polls, bounded. Under a mock clock pass a coarser
    ``poll``: each poll is one clock jump."""
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(poll)


async def forwarded(ws: WebSocketConnection, timeout: float = 5) -> dict[str, Any]:
    """The next frame the relay forwards to ``ws``, decoded. The relay re-encodes what it
    forwards (known fields only), so tests compare decoded objects, not the sent text."""
    return await recv(ws, timeout)


async def assert_alive(a: WebSocketConnection, b: WebSocketConnection) -> None:
    """The pair still relays both ways (the 'second room unaffected' check)."""
    ice = {"type": "ice", "candidate": "candidate:1 1 udp 1 10.0.0.1 9 typ host",
           "sdp_mid": "0", "sdp_mline_index": 0, "gen": 3}
    await send(a, **ice)
    assert await forwarded(b) == {"v": 1, **ice}
    avatar = {"type": "avatar", "id": "fox", "version": "1", "hash": "ab" * 32}
    await send(b, **avatar)
    assert await forwarded(a) == {"v": 1, **avatar}


async def http_get(port: int, path: str, headers: str = "") -> tuple[int, str]:
    """A plain HTTP/1.1 GET over a real socket: (status, body)."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(
            f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n".encode())
        data = b""
        with trio.fail_after(5):
            while chunk := await stream.receive_some(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body.decode()


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One masked client frame (RFC 6455 5.2), FIN set; for clients that misbehave on purpose."""
    import os
    import struct

    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


async def raw_websocket(port: int, path: str = "/ws", *, rcvbuf: int | None = None
                        ) -> trio.SocketStream:
    """A hand-made WebSocket client socket past its handshake, which answers nothing (no pongs)
    and, with a small ``rcvbuf``, stops reading early: the bad client the relay must survive."""
    import base64
    import os
    import socket as pysocket

    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(pysocket.SOL_SOCKET, pysocket.SO_RCVBUF, rcvbuf)
    await sock.connect(("127.0.0.1", port))
    stream = trio.SocketStream(sock)
    key = base64.b64encode(os.urandom(16)).decode()
    await stream.send_all(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    with trio.fail_after(5):
        while b"\r\n\r\n" not in head:
            head += await stream.receive_some(1)  # byte by byte: leave frames in the kernel
    assert head.startswith(b"HTTP/1.1 101"), head
    return stream
