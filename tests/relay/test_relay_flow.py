"""The happy path and the room rules: real trio-websocket clients, a relay bound to port 0."""

from __future__ import annotations

import json
from typing import Any

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
from trio_websocket import ConnectionRejected, open_websocket_url

from relay import RelayServer

pytestmark = pytest.mark.trio


async def test_full_flow_relays_to_the_other_only() -> None:
    async with running_relay() as server:
        room = new_room_code()
        async with client(server, room) as a, client(server, room) as b:
            first = await join(a, room)
            assert first == {"v": 1, "type": "joined", "room": room, "position": 1,
                             "peer_present": False, "turn": None}
            second = await join(b, room)
            assert second["position"] == 2 and second["peer_present"] is True
            assert (await recv(a))["type"] == "peer_joined"
            assert server.hub.room_count == 1 and server.hub.peers_in(room) == 2

            # Re-encoded from the parsed message: compact, in the protocol's field order,
            # unicode kept as is; the unknown field "x" is not forwarded (golden vector).
            offer = ('{"type":"offer", "v":1,  "sdp":"v=0\\r\\no=- 1 2 IN IP4 0.0.0.0\\r\\né",'
                     ' "gen":1,"x":"é"}')
            await a.send_message(offer)
            with trio.fail_after(5):
                assert await b.get_message() == (
                    '{"v":1,"type":"offer","sdp":"v=0\\r\\no=- 1 2 IN IP4 0.0.0.0\\r\\né",'
                    '"gen":1}')
            await send(b, type="answer", sdp="v=0\r\nanswer", gen=1)
            with trio.fail_after(5):
                assert await a.get_message() == (
                    '{"v":1,"type":"answer","sdp":"v=0\\r\\nanswer","gen":1}')
            for who, other in ((a, b), (b, a)):
                await send(who, sdp_mid="0", sdp_mline_index=0, type="ice",
                           candidate="candidate:0 1 UDP 1 1.2.3.4 5 typ host")
                with trio.fail_after(5):
                    assert await other.get_message() == (
                        '{"v":1,"type":"ice","candidate":"candidate:0 1 UDP 1 1.2.3.4 5 typ '
                        'host","sdp_mid":"0","sdp_mline_index":0,"gen":0}')
            await assert_alive(a, b)
            # Never echoed: the next thing each sender gets is the pong to its own ping.
            for who in (a, b):
                await send(who, type="ping", t=7)
                assert await recv(who) == {"v": 1, "type": "pong", "t": 7}
            assert server.metrics.messages_relayed_total == 6


async def test_third_is_refused_and_the_room_carries_on() -> None:
    async with running_relay() as server, pair(server) as (a, b, room):
        async with client(server, room) as c:
            await send(c, type="join", room=room)
            error = await recv(c)
            assert error["type"] == "error" and error["code"] == "room_full"
            assert await closed_code(c) == 1008
        await assert_alive(a, b)
        assert server.hub.peers_in(room) == 2
        assert server.metrics.rejections["room_full"] == 1


async def test_joining_an_empty_room_that_must_exist_is_refused_and_opens_nothing() -> None:
    """A typed invitation code (``create: false``) with nobody behind it is said at once, the
    connection stays open, and the same client may then choose to open the room and wait."""
    async with running_relay() as server:
        room = new_room_code()
        async with client(server, room) as a:
            await send(a, type="join", room=room, create=False)
            error = await recv(a)
            assert error["type"] == "error" and error["code"] == "no_such_room"
            assert "check the code" in error["message"]
            assert server.hub.room_count == 0
            assert server.metrics.rooms_created_total == 0
            # Still connected: the user chose to wait for the other person after all.
            joined = await join(a, room)
            assert joined["position"] == 1 and server.hub.room_count == 1
            # Someone is there now: a join that must find them does.
            async with client(server, room) as b:
                await send(b, type="join", room=room, create=False)
                assert (await recv(b))["type"] == "joined"
                assert (await recv(a))["type"] == "peer_joined"
                await assert_alive(a, b)


async def test_leave_is_announced_and_empty_room_is_freed() -> None:
    async with running_relay() as server:
        async with pair(server) as (a, b, room):
            await send(b, type="bye", reason="hung up")
            assert await closed_code(b) == 1000
            left = await recv(a)
            assert left == {"v": 1, "type": "peer_left", "reason": "hung up"}
            assert server.hub.room_count == 1
            # A new second peer can take the free place.
            async with client(server, room) as c:
                assert (await join(c, room))["position"] == 2
                assert (await recv(a))["type"] == "peer_joined"
                await assert_alive(a, c)
            # c vanished without a bye: a is told it disconnected.
            assert (await recv(a))["type"] == "peer_left"
        await wait_until(lambda: server.hub.room_count == 0)
        await wait_until(lambda: server.hub.connection_count == 0)
        assert server.hub.ip_connections("127.0.0.1") == 0


async def test_many_rooms_come_and_go() -> None:
    async with running_relay() as server:
        for _ in range(3):
            async with trio.open_nursery() as nursery:
                for _ in range(20):
                    nursery.start_soon(_one_call, server)
            await wait_until(lambda: server.hub.room_count == 0)
        assert server.metrics.rooms_created_total == 60


async def _one_call(server: object) -> None:
    async with pair(server) as (a, b, _room):  # type: ignore[arg-type]
        await assert_alive(a, b)


async def test_room_in_url_is_optional_but_must_match() -> None:
    async with running_relay() as server:
        room = new_room_code()
        async with client(server, room, query=False) as a, client(server, room) as b:
            await join(a, room)
            await join(b, room)
            assert (await recv(a))["type"] == "peer_joined"
        async with client(server, new_room_code()) as c:
            await send(c, type="join", room=room)
            assert (await recv(c))["code"] == "bad_room"
            assert await closed_code(c) == 1008
        with pytest.raises(ConnectionRejected) as info:
            async with open_websocket_url(f"ws://127.0.0.1:{server.port}/ws?room=short"):
                pass
        assert info.value.status_code == 400
        assert json.loads(info.value.body or b"")["code"] == "bad_room"
        with pytest.raises(ConnectionRejected) as info:
            async with open_websocket_url(f"ws://127.0.0.1:{server.port}/elsewhere"):
                pass
        assert info.value.status_code == 404


async def test_protocol_order_errors_are_recoverable() -> None:
    async with running_relay() as server:
        room = new_room_code()
        async with client(server, room) as a:
            await send(a, type="offer", sdp="x")
            assert (await recv(a))["code"] == "not_joined"
            await join(a, room)
            await send(a, type="offer", sdp="x")
            assert (await recv(a))["code"] == "no_peer"
            await send(a, type="join", room=room)
            assert (await recv(a))["code"] == "already_joined"
            await send(a, type="joined", room=room, position=1)
            assert (await recv(a))["code"] == "bad_message"
            await send(a, type="turn_request")
            assert (await recv(a))["code"] == "turn_unavailable"
            await send(a, type="ping")
            assert (await recv(a))["type"] == "pong"


async def test_turn_credentials_in_joined_and_on_request() -> None:
    uris = ("turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349")
    async with running_relay(turn_secret="s3cret", turn_uris=uris, turn_ttl=600) as server:
        room = new_room_code()
        async with client(server, room) as a:
            turn = (await join(a, room))["turn"]
            assert turn["urls"] == list(uris) and turn["ttl"] == 600
            expiry, _, ident = turn["username"].partition(":")
            assert int(expiry) > 0 and len(ident) == 16
            await send(a, type="turn_request")
            fresh = await recv(a)
            assert fresh["type"] == "turn" and fresh["username"] != turn["username"]
            from relay.turn import turn_password

            assert fresh["credential"] == turn_password("s3cret", fresh["username"])


async def test_health_and_metrics_on_the_same_port() -> None:
    async with running_relay() as server, pair(server) as (a, b, _room):
        await assert_alive(a, b)
        status, body = await http_get(server.port, "/healthz")
        assert (status, body.strip()) == (200, "ok")
        status, body = await http_get(server.port, "/metrics")
        assert status == 200
        lines = body.splitlines()
        assert "avatarchat_relay_connections 2" in lines
        assert "avatarchat_relay_rooms 1" in lines
        assert 'avatarchat_relay_messages_relayed_total{type="ice"} 1' in lines
        assert "# TYPE avatarchat_relay_rejections_total counter" in lines
        status, _ = await http_get(server.port, "/nope")
        assert status == 404


async def test_metrics_port_keeps_counters_off_the_public_port() -> None:
    async with running_relay(metrics_port=0) as server:
        assert server.metrics_port
        assert (await http_get(server.port, "/metrics"))[0] == 404
        assert (await http_get(server.port, "/healthz"))[0] == 200
        status, body = await http_get(server.metrics_port, "/metrics")
        assert status == 200 and "avatarchat_relay_up 1" in body


async def test_per_ip_cap_and_origin_are_refused_with_a_status() -> None:
    async with running_relay(max_conns_per_ip=2, allowed_origins=("https://ok.example",)) as server:
        async with client(server) as _a, client(server) as _b:
            with pytest.raises(ConnectionRejected) as info:
                async with client(server):
                    pass
            assert info.value.status_code == 429
            assert json.loads(info.value.body or b"")["code"] == "too_many_connections"
        await wait_until(lambda: server.hub.connection_count == 0)
        with pytest.raises(ConnectionRejected) as info:
            async with open_websocket_url(f"ws://127.0.0.1:{server.port}/ws",
                                          extra_headers=[(b"Origin", b"https://evil.example")]):
                pass
        assert info.value.status_code == 403
        async with open_websocket_url(f"ws://127.0.0.1:{server.port}/ws",
                                      extra_headers=[(b"Origin", b"https://ok.example")]) as ws:
            await join(ws, new_room_code())


async def test_graceful_shutdown_tells_peers() -> None:
    async with running_relay() as server, pair(server) as (a, b, _room):
        server.shutdown()
        for ws in (a, b):
            error = await recv(ws)
            assert error["type"] == "error" and error["code"] == "shutting_down"
            assert await closed_code(ws) == 1001
        with trio.fail_after(5):
            await server.stopped.wait()
        assert server.hub.connection_count == 0 and server.hub.room_count == 0


def _via_proxy(server: RelayServer, real_ip: str) -> Any:
    return open_websocket_url(f"ws://127.0.0.1:{server.port}/ws",
                              extra_headers=[(b"X-Real-IP", real_ip.encode())])


async def test_per_ip_cap_believes_only_trusted_proxies() -> None:
    async with running_relay(max_conns_per_ip=1, trusted_proxies=("127.0.0.1",)) as server, \
            _via_proxy(server, "203.0.113.1"), _via_proxy(server, "203.0.113.2"):
        assert server.hub.ip_connections("203.0.113.1") == 1
        with pytest.raises(ConnectionRejected) as info:
            async with _via_proxy(server, "203.0.113.1"):
                pass
        assert info.value.status_code == 429
    # Not a trusted proxy: the header is ignored and the socket's address counts.
    async with running_relay(max_conns_per_ip=1) as server, _via_proxy(server, "203.0.113.1"):
        assert server.hub.ip_connections("127.0.0.1") == 1
        with pytest.raises(ConnectionRejected):
            async with _via_proxy(server, "203.0.113.9"):
                pass


async def test_racing_joins_admit_exactly_two() -> None:
    async with running_relay() as server:
        room = new_room_code()
        outcomes: list[str] = []

        async def racer() -> None:
            async with client(server, room) as ws:
                await send(ws, type="join", room=room)
                reply = await recv(ws)
                outcomes.append(reply.get("code") or reply["type"])
                if reply["type"] == "joined":
                    await trio.sleep_forever()  # hold the place until the test is done

        async with trio.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(racer)
            await wait_until(lambda: len(outcomes) == 10)
            assert sorted(outcomes) == ["joined"] * 2 + ["room_full"] * 8
            assert server.hub.peers_in(room) == 2
            nursery.cancel_scope.cancel()


async def test_abrupt_tcp_close_is_announced_as_disconnected() -> None:
    async with running_relay() as server:
        room = new_room_code()
        async with client(server, room) as a:
            await join(a, room)
            raw = await raw_websocket(server.port, f"/ws?room={room}")
            join_frame = json.dumps({"v": 1, "type": "join", "room": room}).encode()
            await raw.send_all(ws_frame(join_frame))
            assert (await recv(a))["type"] == "peer_joined"
            await raw.aclose()  # no close frame, just gone
            assert await recv(a) == {"v": 1, "type": "peer_left", "reason": "disconnected"}
            assert server.hub.peers_in(room) == 1
