"""Per-address rates and the /64 key (issue 15, defect 6): one address could open 1,410 rooms a
second with three log lines each, and every IPv6 address of one /64 had a cap of its own."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from relay_testkit import (
    client,
    closed_code,
    http_get,
    join,
    new_room_code,
    recv,
    running_relay,
    send,
)
from trio_websocket import ConnectionRejected, open_websocket_url

from protocol.signaling import ErrorCode, SignalError
from relay import RelayConfig
from relay.hub import Hub
from relay.limits import RateTable, address_key

# -- the key ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("ip", "key"), [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
    ("::ffff:198.51.100.3", "198.51.100.3"),  # what a dual-stack socket reports for IPv4
    ("::1", "::/64"),
    ("fe80::1%eth0", "fe80::/64"),
    ("?", "?"),  # a socket without a peer name is its own key
])
def test_address_key(ip: str, key: str) -> None:
    assert address_key(ip) == key


def test_two_addresses_of_one_64_are_one_key_and_the_next_64_is_another() -> None:
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff:1234")
    assert address_key("2001:db8::1") != address_key("2001:db8:0:1::1")


# -- the bounded table ---------------------------------------------------------------------------


def test_rate_table_refills_and_forgets_idle_keys() -> None:
    table = RateTable(rate=2.0, burst=3, log_interval=1.0)
    assert [table.take("a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert table.take("a", 0.5)  # one token back after 0.5 s at 2/s
    assert not table.take("a", 0.5)
    # Idle for longer than a full refill (1.5 s) and the log interval: dropped, not kept.
    assert table.take("b", 10.0)
    assert len(table) == 1


def test_rate_table_is_bounded_when_addresses_cycle() -> None:
    table = RateTable(rate=1.0, burst=5, max_keys=100)
    for i in range(10_000):  # an attacker cycling source addresses within the refill time
        table.take(f"10.0.{i // 256}.{i % 256}", i * 1e-4)
    assert len(table) == 100


def test_rate_table_logs_once_per_interval_and_counts_the_rest() -> None:
    table = RateTable(rate=1.0, burst=1, log_interval=10.0)
    assert table.take("a", 0.0)
    outcomes = []
    for t in (0.0, 0.0, 0.0, 5.0, 10.1):
        table.take("a", t)  # refused or not, should_log is the throttle under test
        outcomes.append(table.should_log("a", t))
    assert outcomes == [0, None, None, None, 3]


# -- the hub's accounting (no sockets) ----------------------------------------------------------


class _Peer:
    def __init__(self, cid: int, ip: str) -> None:
        self.cid, self.ip, self.room = cid, ip, None
        self.delivered: list[str] = []

    def deliver(self, text: str) -> bool:
        self.delivered.append(text)
        return True

    def kick(self, reason: str) -> None:  # pragma: no cover - not reached here
        raise AssertionError(reason)


def _hub(**overrides: Any) -> tuple[Hub, list[float]]:
    now = [0.0]
    return Hub(RelayConfig(port=0, **overrides), clock=lambda: now[0]), now


def test_hub_counts_a_64_against_one_connection_cap() -> None:
    hub, _ = _hub(max_conns_per_ip=2)
    hub.register(_Peer(1, "2001:db8::1"))
    hub.register(_Peer(2, "2001:db8::2"))
    assert hub.ip_connections("2001:db8::99") == 2
    assert hub.admission_error("2001:db8::3") is ErrorCode.TOO_MANY_CONNECTIONS
    assert hub.admission_error("2001:db8:0:1::1") is None  # the next /64 is someone else
    assert hub.admission_error("::ffff:192.0.2.1") is None


def test_hub_connection_rate_is_per_64() -> None:
    hub, now = _hub(conn_rate=1.0, conn_burst=2)
    assert hub.admission_error("2001:db8::1") is None
    assert hub.admission_error("2001:db8::2") is None
    assert hub.admission_error("2001:db8::3") is ErrorCode.RATE_LIMITED
    assert hub.admission_error("2001:db8:1::1") is None
    now[0] = 1.0
    assert hub.admission_error("2001:db8::4") is None  # refilled
    assert hub.metrics.rate_limited["connections"] == 1


def test_hub_room_rate_counts_only_new_rooms() -> None:
    hub, _ = _hub(room_rate=1.0, room_burst=2)
    peers = [_Peer(i, f"2001:db8::{i}") for i in range(1, 6)]
    first, second = new_room_code(), new_room_code()
    hub.join(peers[0], first)
    hub.join(peers[1], first)  # joins an existing room: no token spent
    hub.join(peers[2], second)
    with pytest.raises(SignalError) as info:
        hub.join(peers[3], new_room_code())
    assert info.value.code is ErrorCode.RATE_LIMITED
    assert hub.room_count == 2 and hub.metrics.rooms_created_total == 2
    assert hub.metrics.rate_limited["rooms"] == 1
    hub.leave(peers[2], "bye")  # the room empties and is freed...
    with pytest.raises(SignalError):  # ...so joining it again creates it: refused too
        hub.join(peers[4], second)


# -- a real relay -------------------------------------------------------------------------------

@pytest.mark.trio
async def test_room_burst_from_one_address_is_refused_counted_and_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="relay")
    async with running_relay(room_rate=0.01, room_burst=3) as server:
        for _ in range(3):
            async with client(server) as ws:
                await join(ws, new_room_code())
        for _ in range(3):  # past the burst: the typed error, then a policy close
            async with client(server) as ws:
                await send(ws, type="join", room=new_room_code())
                error = await recv(ws)
                assert error["type"] == "error" and error["code"] == "rate_limited"
                assert await closed_code(ws) == 1008
        assert server.metrics.rooms_created_total == 3
        assert server.metrics.rate_limited["rooms"] == 3
        status, body = await http_get(server.port, "/metrics")
        assert status == 200 and 'avatarchat_relay_rate_limited_total{what="rooms"} 3' in body
    refusals = [r for r in caplog.records if "refusing" in r.getMessage()]
    assert len(refusals) == 1, [r.getMessage() for r in refusals]
    assert "127.0.0.1" in refusals[0].getMessage()
    # One line per room created and one per room left (it was three per room).
    per_room = [r for r in caplog.records if r.getMessage().startswith("room ")]
    assert len(per_room) == 6, [r.getMessage() for r in per_room]


@pytest.mark.trio
async def test_connections_past_the_rate_get_429_before_the_upgrade() -> None:
    async with running_relay(conn_rate=0.01, conn_burst=3) as server:
        for _ in range(3):
            async with client(server) as ws:
                await send(ws, type="ping", t=1)
                assert (await recv(ws))["type"] == "pong"
        with pytest.raises(ConnectionRejected) as info:
            async with client(server):
                pass  # pragma: no cover
        assert info.value.status_code == 429
        assert info.value.body is not None and b'"code":"rate_limited"' in info.value.body
        assert server.metrics.rate_limited["connections"] == 1
        assert server.metrics.connections_total == 3
        status, body = await http_get(server.port, "/metrics")  # plain HTTP is not counted
        assert status == 200
        assert 'avatarchat_relay_rate_limited_total{what="connections"} 1' in body


def _via_proxy(port: int, real_ip: str) -> Any:
    return open_websocket_url(f"ws://127.0.0.1:{port}/ws",
                              extra_headers=[(b"X-Real-IP", real_ip.encode())])


@pytest.mark.trio
async def test_two_addresses_of_one_64_share_the_relays_cap() -> None:
    async with running_relay(max_conns_per_ip=1, trusted_proxies=("127.0.0.1",)) as server, \
            _via_proxy(server.port, "2001:db8:5:6::1"):
        with pytest.raises(ConnectionRejected) as info:
            async with _via_proxy(server.port, "2001:db8:5:6:ffff::2"):
                pass  # pragma: no cover
        assert info.value.status_code == 429
        async with _via_proxy(server.port, "2001:db8:5:7::1") as other:  # another /64
            await send(other, type="ping", t=2)
            assert (await recv(other))["type"] == "pong"


@pytest.mark.trio
async def test_real_ipv6_loopback_is_counted_by_its_64() -> None:
    try:
        async with running_relay(host="::1") as server, \
                open_websocket_url(f"ws://[::1]:{server.port}/ws") as ws:
            await join(ws, new_room_code())
            assert server.hub.ip_connections("::2") == 1  # ::1 and ::2 share ::/64
    except OSError as e:  # pragma: no cover - a host without IPv6 loopback
        pytest.skip(f"no IPv6 loopback: {e}")


def test_unregister_forgets_the_peer_even_if_telling_the_other_fails() -> None:
    class Broken(_Peer):
        def deliver(self, text: str) -> bool:
            raise RuntimeError("nursery closed")

    hub, _ = _hub()
    room = new_room_code()
    a, b = _Peer(1, "2001:db8::1"), Broken(2, "2001:db8::2")
    for peer in (a, b):
        hub.register(peer)
        hub.join(peer, room)
    with pytest.raises(RuntimeError):
        hub.unregister(a, "bye")  # peer_left to b raises
    assert hub.connection_count == 1 and hub.ip_connections("2001:db8::1") == 1


def test_rate_flags_and_environment() -> None:
    from relay.config import build_parser, config_from_args

    env = {"AVATARCHAT_RELAY_ROOM_RATE": "2.5", "AVATARCHAT_RELAY_CONN_BURST": "7"}
    config = config_from_args(build_parser(environ=env).parse_args(["--room-burst", "9"]), env)
    assert (config.room_rate, config.room_burst, config.conn_burst) == (2.5, 9, 7)
    assert (config.conn_rate, RelayConfig().room_rate) == (20.0, 5.0)  # the documented defaults
    with pytest.raises(ValueError, match="--conn-rate must be positive"):
        config_from_args(build_parser(environ={}).parse_args(["--conn-rate", "0"]), {})
