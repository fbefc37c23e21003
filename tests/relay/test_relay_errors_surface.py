"""Errors that used to vanish (issue 15, defects 7 and 8): client input that broke a handler now
gets its protocol error, a real bug is logged and counted as ``internal`` (not replaced by
``Cancelled``), and expected client behaviour (a ping while the relay closes) is no error."""

from __future__ import annotations

import json
import logging

import pytest
import trio
from relay_testkit import (
    assert_alive,
    client,
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

import relay.connection
from protocol.signaling import ErrorCode, SignalError, parse_signal

pytestmark = pytest.mark.trio

HUGE_INT = '{"v":1,"type":"ping","t":' + "9" * 5000 + "}"
SURROGATE_BYE = '{"v":1,"type":"bye","reason":"\\ud800"}'


def _relay_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.name.startswith("relay") and r.levelno >= logging.ERROR]


async def test_parse_signal_turns_unrepresentable_values_into_signal_errors() -> None:
    for frame in (HUGE_INT, SURROGATE_BYE):
        with pytest.raises(SignalError) as info:
            parse_signal(frame)
        assert info.value.code is ErrorCode.BAD_MESSAGE


async def test_five_thousand_digit_integer_is_a_bad_message(
        caplog: pytest.LogCaptureFixture) -> None:
    async with running_relay() as server, pair(server) as (a, b, _room):
        async with client(server) as c:
            await c.send_message(HUGE_INT)
            error = await recv(c)
            assert error["type"] == "error" and error["code"] == "bad_message", error
            await send(c, type="ping", t=1)
            assert (await recv(c))["type"] == "pong"  # still connected
        await assert_alive(a, b)
        assert server.metrics.rejections["bad_message"] == 1
        assert server.metrics.rejections["internal"] == 0
    assert not _relay_errors(caplog)


async def test_bye_with_a_lone_surrogate_does_not_drop_the_other_peer(
        caplog: pytest.LogCaptureFixture) -> None:
    async with running_relay() as server, pair(server) as (a, b, _room):
        await a.send_message(SURROGATE_BYE)
        error = await recv(a)
        assert error["type"] == "error" and error["code"] == "bad_message", error
        await assert_alive(a, b)  # both still connected, the room intact
        assert server.metrics.rejections["internal"] == 0
    assert not _relay_errors(caplog)


async def test_a_bug_in_a_handler_is_logged_and_counted(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(frame: str | bytes) -> object:
        raise RuntimeError("a bug in parsing")

    async with running_relay() as server, pair(server) as (a, b, _room):
        monkeypatch.setattr(relay.connection, "parse_signal", broken)
        async with client(server) as c:
            await c.send_message("{}")
            await wait_until(lambda: server.metrics.rejections["internal"] == 1)
        monkeypatch.undo()
        await assert_alive(a, b)
    errors = _relay_errors(caplog)
    assert errors and "connection handler failed" in errors[0].getMessage()
    assert errors[0].exc_info is not None
    assert "a bug in parsing" in repr(errors[0].exc_info[1])


async def test_ping_while_the_relay_closes_is_not_an_error(
        caplog: pytest.LogCaptureFixture) -> None:
    async with running_relay() as server, pair(server) as (a, b, _room):
        stream = await raw_websocket(server.port, f"/ws?room={new_room_code()}")
        await stream.send_all(ws_frame(b'{"v":2,"type":"ping"}'))  # closes 1008
        with trio.fail_after(5):
            received = b""
            while b"\x88" not in received:  # the relay's close frame: it is closing now
                received += await stream.receive_some(65536)
        for _ in range(5):
            await stream.send_all(ws_frame(b"are you there", 0x9))  # pings, then no close reply
        with trio.fail_after(10):
            try:
                while await stream.receive_some(65536):
                    pass
            except trio.BrokenResourceError:
                pass
        await assert_alive(a, b)
        assert server.metrics.rejections["internal"] == 0
        assert server.metrics.rejections["unsupported_version"] == 1
    assert not _relay_errors(caplog)


async def test_a_joined_client_pinging_after_its_bye_is_not_an_error(
        caplog: pytest.LogCaptureFixture) -> None:
    async with running_relay() as server, pair(server) as (a, b, _room):
        room = new_room_code()
        async with client(server, room) as c:
            await join(c, room)
        stream = await raw_websocket(server.port, f"/ws?room={room}")
        await stream.send_all(ws_frame(json.dumps(
            {"v": 1, "type": "join", "room": room, "client": "t"}).encode()))
        await stream.send_all(ws_frame(b'{"v":1,"type":"bye"}'))
        await stream.send_all(ws_frame(b"", 0x9) * 5)
        with trio.fail_after(10):
            try:
                while await stream.receive_some(65536):
                    pass
            except trio.BrokenResourceError:
                pass
        await assert_alive(a, b)
        assert server.metrics.rejections["internal"] == 0
    assert not _relay_errors(caplog)
