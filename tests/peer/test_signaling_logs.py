"""A hostile relay cannot write our log: what it says (an error's text, a frame we cannot
parse) is logged escaped and cut, never as raw lines that could forge entries or drive the
terminal the log is read in. The relay here is a real WebSocket server that says such things."""

from __future__ import annotations

import asyncio
import logging

import pytest
from websockets.asyncio.server import ServerConnection, serve

from peer.signaling import SignalingClient
from protocol.signaling import Error, ErrorCode, SignalMessage, new_room_code

pytestmark = pytest.mark.asyncio

#: Clears the screen, then starts a line that looks like one of ours.
HOSTILE = "\x1b[2J\n2026-01-01 00:00:00 peer.app INFO connected \u202eevil"


async def test_what_a_hostile_relay_says_is_logged_escaped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="peer.signaling")
    said: list[SignalMessage] = []
    dispatched = asyncio.Event()

    async def relay(ws: ServerConnection) -> None:
        await ws.recv()  # the join
        await ws.send('{"type": "' + HOSTILE.replace("\n", "\\n") + '"}')  # not a message
        error = Error(code=ErrorCode.RATE_LIMITED.value, message=HOSTILE)
        await ws.send(error.to_json())
        await ws.wait_closed()

    def on_message(message: SignalMessage) -> None:
        said.append(message)
        dispatched.set()

    async with serve(relay, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = SignalingClient(f"ws://127.0.0.1:{port}", new_room_code(), on_message)
        task = asyncio.create_task(client.run())
        try:
            await asyncio.wait_for(dispatched.wait(), 10)
        finally:
            await client.close()
            await asyncio.wait_for(task, 10)
    assert isinstance(said[0], Error) and said[0].message == HOSTILE  # passed on as it is
    lines = [r.getMessage() for r in caplog.records if r.name == "peer.signaling"]
    error_lines = [line for line in lines if line.startswith("relay error")]
    bad_frames = [line for line in lines if line.startswith("ignoring a bad frame")]
    assert len(error_lines) == 1 and len(bad_frames) == 1, lines
    for line in lines:
        assert "\n" not in line and "\x1b" not in line and "\u202e" not in line, line
    assert "\\x1b[2J\\n2026-01-01" in error_lines[0]  # said, escaped
