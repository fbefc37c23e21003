"""What an idle connection costs the relay (issue 15: 20,000 in one process at 20 KB or less
each; figures in docs/bench/relay-memory.md), and the edge its lazily started sender has."""

from __future__ import annotations

import json

import pytest
import trio
from relay_testkit import new_room_code, raw_websocket, running_relay, wait_until, ws_frame

pytestmark = pytest.mark.trio

#: Tasks an idle, joined connection keeps: its handler (which is also its reader and runs the
#: heartbeat) and trio-websocket's reader. An idle task costs about 3 KB; four used to stay.
TASKS_PER_IDLE_CONNECTION = 2


def _tasks() -> int:
    """Every task in this trio run (the relay's, and the test's own)."""
    count = 0
    todo = [trio.lowlevel.current_root_task()]
    while todo:
        task = todo.pop()
        count += 1
        for nursery in task.child_nurseries:
            todo.extend(nursery.child_tasks)
    return count


async def _joined_pairs(port: int, pairs: int) -> list[trio.SocketStream]:
    """Hand-made clients (no tasks of their own), joined two to a room."""
    streams = []
    for _ in range(pairs):
        room = new_room_code()
        for _ in range(2):
            s = await raw_websocket(port, f"/ws?room={room}")
            await s.send_all(ws_frame(json.dumps({"v": 1, "type": "join",
                                                  "room": room}).encode()))
            streams.append(s)
    return streams


async def test_an_idle_connection_keeps_two_tasks() -> None:
    async with running_relay() as server:
        await trio.sleep(0.1)
        before = _tasks()
        streams = await _joined_pairs(server.port, 10)
        await wait_until(lambda: server.hub.connection_count == 20)
        # The replies (joined, peer_joined) go out, then their senders end.
        await wait_until(lambda: _tasks() - before == 20 * TASKS_PER_IDLE_CONNECTION)
        for s in streams:
            await s.aclose()
        await wait_until(lambda: server.hub.connection_count == 0)


async def test_both_peers_of_many_rooms_leaving_at_once_is_no_error() -> None:
    """One peer's leaving queues ``peer_left`` for the other, whose own connection may be
    ending at that moment (its nursery closed, its handler not yet resumed): the frame is
    dropped, not a failed handler (seen as 'internal' rejections at 10,000 connections)."""
    async with running_relay(max_conns_per_ip=1000) as server:
        streams = await _joined_pairs(server.port, 100)
        await wait_until(lambda: server.hub.connection_count == 200)
        for s in streams:
            s.socket.close()  # all at once, no checkpoint between
        await wait_until(lambda: server.hub.connection_count == 0, timeout=20)
        assert server.metrics.rejections["internal"] == 0


async def test_input_pending_sees_bytes_on_descriptors_past_1024() -> None:
    """The heartbeat keeps a peer whose pong waits unread behind a busy relay; a relay holding
    thousands of connections has every descriptor past select()'s 1024, where the check used
    to answer "no" and such peers were dropped (18,009 pong timeouts at 19,900 held)."""
    import os
    import resource

    from relay.http import PrefixedStream

    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 1200:
        pytest.skip("needs an open-files limit above 1200")
    fillers = [os.open(os.devnull, os.O_RDONLY) for _ in range(1030)]
    try:
        a, b = trio.socket.socketpair()
        with a, b:
            assert a.fileno() >= 1024
            stream = PrefixedStream(trio.SocketStream(a), b"")
            assert not stream.input_pending()
            await b.send(b"x")
            await wait_until(stream.input_pending)
    finally:
        for fd in fillers:
            os.close(fd)
