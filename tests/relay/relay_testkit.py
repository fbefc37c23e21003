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


@asynccontextmanager
async def running_relay(**overrides: Any) -> AsyncIterator[RelayServer]:
    """A relay on 127.0.0.1 port 0 for the duration of the block."""
    config = RelayConfig(port=0, **overrides)
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
