"""The hub: the single owner of room and connection state (gorilla/websocket's chat hub, in trio).

Every mutation of rooms, per-IP counts and the connection registry goes through a method of
:class:`Hub`. The methods are synchronous: trio only switches tasks at ``await``, so each call is
atomic with respect to every connection without a lock, and there is exactly one place that can
break the room invariants (at most two peers; an empty room does not exist).

Delivery to a connection is ``Peer.deliver(text)``, a non-blocking put on that connection's
bounded send queue. A full queue means the consumer is not reading: the hub drops *that*
connection (``kick``) instead of waiting, so one slow client can never stall its peer or the hub.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable
from typing import Protocol

import trio

from protocol.signaling import (
    ErrorCode,
    Joined,
    PeerJoined,
    PeerLeft,
    SignalError,
    SignalMessage,
    TurnCredentials,
)
from protocol.text import log_text

from .config import RelayConfig
from .limits import RateTable, address_key
from .metrics import RATE_CONNECTIONS, RATE_ROOMS, REASON_SLOW_CONSUMER, Metrics
from .turn import issue_credentials

log = logging.getLogger(__name__)


def room_tag(room: str) -> str:
    """What logs say instead of the room code: the first 8 hex digits of its SHA-256 (enough to
    follow one room through the log, useless for joining it)."""
    return hashlib.sha256(room.encode()).hexdigest()[:8]


#: Characters of a client-supplied string a relay log line quotes (one line stays short).
RELAY_LOG_TEXT_LIMIT = 80


class Peer(Protocol):
    """What the hub needs from a connection."""

    cid: int
    ip: str
    room: str | None

    def deliver(self, text: str) -> bool:
        """Queue ``text`` without blocking; False when the send queue is full."""
        ...

    def kick(self, reason: str) -> None:
        """Tear the connection down at once (no further frames are sent to it)."""
        ...


class Room:
    """Two slots; ``peers[0]`` joined first."""

    __slots__ = ("code", "peers", "tag")

    def __init__(self, code: str) -> None:
        self.code = code
        self.tag = room_tag(code)
        self.peers: list[Peer] = []

    def other(self, peer: Peer) -> Peer | None:
        for p in self.peers:
            if p is not peer:
                return p
        return None


class Hub:
    """Rooms, the connection registry and the per-address limits.

    Per-address counts are keyed by :func:`relay.limits.address_key` (an IPv6 client by its
    /64): ``Peer.ip`` stays the real address (for logs), the key is derived here, and
    ``pending_per_ip`` (kept by the server while it reads request heads) uses the same key.
    """

    def __init__(self, config: RelayConfig, metrics: Metrics | None = None, *,
                 clock: Callable[[], float] | None = None) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self._clock = clock or trio.current_time
        self._rooms: dict[str, Room] = {}
        self._peers: set[Peer] = set()
        self._per_ip: Counter[str] = Counter()
        #: TCP connections not yet upgraded (HTTP head being read); counted against the cap,
        #: keyed by ``address_key`` of the socket's peer.
        self.pending = 0
        self.pending_per_ip: Counter[str] = Counter()
        self._conn_rate = RateTable(config.conn_rate, config.conn_burst)
        self._room_rate = RateTable(config.room_rate, config.room_burst)
        self.shutting_down = False
        #: Set once shutting down and the last connection has gone.
        self.drained = trio.Event()

    # -- counts -----------------------------------------------------------------------------
    @property
    def room_count(self) -> int:
        return len(self._rooms)

    @property
    def connection_count(self) -> int:
        return len(self._peers)

    def peers_in(self, room: str) -> int:
        r = self._rooms.get(room)
        return len(r.peers) if r else 0

    def ip_connections(self, ip: str) -> int:
        """Open connections counted against ``ip``'s key (its whole /64 for IPv6)."""
        return self._per_ip[address_key(ip)]

    # -- connection registry ----------------------------------------------------------------
    def admission_error(self, ip: str) -> ErrorCode | None:
        """Why a new WebSocket from ``ip`` must be refused, or None to admit it.

        Admitting spends one token of the address's connection rate, so call it once per
        upgrade request, after the checks that cost nothing (path, Origin, room code)."""
        if self.shutting_down:
            return ErrorCode.SHUTTING_DOWN
        if len(self._peers) >= self.config.max_connections:
            return ErrorCode.TOO_MANY_CONNECTIONS
        key = address_key(ip)
        if self._per_ip[key] >= self.config.max_conns_per_ip:
            return ErrorCode.TOO_MANY_CONNECTIONS
        if not self._conn_rate.take(key, self._clock()):
            self._rate_refused(self._conn_rate, RATE_CONNECTIONS, key)
            return ErrorCode.RATE_LIMITED
        return None

    def register(self, peer: Peer) -> None:
        self._peers.add(peer)
        self._per_ip[address_key(peer.ip)] += 1
        self.metrics.connections_total += 1

    def unregister(self, peer: Peer, reason: str) -> None:
        """Forget ``peer``. The registry entry goes even if telling the other peer fails: a
        failure there once left the entry (and its per-address count) behind for good."""
        try:
            self.leave(peer, reason)
        finally:
            if peer in self._peers:
                self._peers.discard(peer)
                key = address_key(peer.ip)
                self._per_ip[key] -= 1
                if self._per_ip[key] <= 0:
                    del self._per_ip[key]
            if self.shutting_down and not self._peers:
                self.drained.set()

    def begin_shutdown(self) -> None:
        self.shutting_down = True
        if not self._peers:
            self.drained.set()

    # -- rooms ------------------------------------------------------------------------------
    def join(self, peer: Peer, code: str, *, create: bool = True) -> Joined:
        """Put ``peer`` into room ``code``; the reply for it. Raises SignalError: ROOM_FULL,
        NO_SUCH_ROOM (nobody is in it and ``create`` is False), RATE_LIMITED."""
        room = self._rooms.get(code)
        if room is None and not create:
            raise SignalError(
                ErrorCode.NO_SUCH_ROOM,
                "no one is in this room: check the code, or ask for a new one")
        if room is None:
            key = address_key(peer.ip)
            if not self._room_rate.take(key, self._clock()):
                self._rate_refused(self._room_rate, RATE_ROOMS, key)
                raise SignalError(
                    ErrorCode.RATE_LIMITED,
                    f"this address created more than {self.config.room_burst} rooms at once "
                    f"or {self.config.room_rate:g}/s sustained; wait and retry")
            room = self._rooms[code] = Room(code)
            self.metrics.rooms_created_total += 1
        elif len(room.peers) >= 2:
            raise SignalError(ErrorCode.ROOM_FULL, "this room already has two people in it")
        room.peers.append(peer)
        peer.room = code
        position = len(room.peers)
        log.info("room %s: connection %d joined as %d", room.tag, peer.cid, position)
        reply = Joined(room=code, position=position, peer_present=position == 2,
                       turn=self.turn_credentials())
        first = room.other(peer)
        if first is not None:
            self._send(first, PeerJoined().to_json())
        return reply

    def leave(self, peer: Peer, reason: str) -> None:
        """Take ``peer`` out of its room (idempotent); tell the other; free an empty room."""
        code = peer.room
        if code is None:
            return
        peer.room = None
        room = self._rooms.get(code)
        if room is None or peer not in room.peers:
            return
        room.peers.remove(peer)
        quoted = log_text(reason, RELAY_LOG_TEXT_LIMIT)
        # One line per leave (it used to be two when the room emptied): a client churning
        # rooms wrote three lines per room.
        freed = not room.peers
        log.info("room %s: connection %d left (%s)%s", room.tag, peer.cid, quoted,
                 "; room freed" if freed else "")
        if freed:
            del self._rooms[code]
        else:
            self._send(room.peers[0], PeerLeft(reason=reason[:200]).to_json())

    def _rate_refused(self, table: RateTable, what: str, key: str) -> None:
        """Count a per-address rate refusal; log it at most once per key per interval."""
        self.metrics.rate_limited[what] += 1
        skipped = table.should_log(key, self._clock())
        if skipped is not None:
            more = f" (+{skipped} refused since the last line)" if skipped else ""
            log.info("address %s: %s over %g/s (burst %d), refusing%s; next line in %.0f s "
                     "at the earliest", key, what, table.rate, table.burst, more,
                     table.log_interval)

    def relay(self, peer: Peer, message: SignalMessage) -> None:
        """Forward ``message`` to the other peer of the room, re-encoded from its parsed
        fields: only what the protocol defines for its type leaves the relay (unknown fields a
        sender added, 60 KB of junk or a covert channel, are dropped here)."""
        kind = message.TYPE
        if peer.room is None:
            raise SignalError(ErrorCode.NOT_JOINED, f"send 'join' before '{kind}'")
        room = self._rooms[peer.room]
        other = room.other(peer)
        if other is None:
            raise SignalError(ErrorCode.NO_PEER, f"'{kind}' dropped: nobody else is in the room")
        text = message.to_json()
        if self._send(other, text):
            self.metrics.messages_relayed_total += 1
            self.metrics.relayed_by_type[kind] += 1
            self.metrics.bytes_relayed_total += len(text)

    def _send(self, peer: Peer, text: str) -> bool:
        if peer.deliver(text):
            return True
        # Not reading: drop it rather than wait. Its teardown calls leave() again (a no-op).
        self.metrics.reject(REASON_SLOW_CONSUMER)
        log.info("connection %d: send queue full, dropping a slow consumer", peer.cid)
        peer.kick(REASON_SLOW_CONSUMER)
        self.leave(peer, REASON_SLOW_CONSUMER)
        return False

    # -- TURN -------------------------------------------------------------------------------
    def turn_credentials(self) -> TurnCredentials | None:
        if not self.config.turn_secret:
            return None
        self.metrics.turn_credentials_total += 1
        return issue_credentials(self.config.turn_secret, self.config.turn_uris,
                                 self.config.turn_ttl)

    # -- shutdown ---------------------------------------------------------------------------
    def peers(self) -> list[Peer]:
        return list(self._peers)
