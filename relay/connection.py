"""One WebSocket client: a reader task, and a sender task while frames wait to go out.

* reader: receives frames, enforces the join deadline, idle timeout, rate limit and size cap,
  parses each frame with :func:`protocol.signaling.parse_signal` and asks the hub to act.
  Offer/answer/ice/avatar are forwarded re-encoded from the parsed message (known fields only).
  Between frames it also runs the heartbeat: a WebSocket ping every ``ping_interval``; no pong
  within ``pong_timeout`` drops the client.
* sender: the only task of ours that writes to the socket; drains a bounded queue and ends when
  it is empty. Everything addressed to this client (from the hub, from the reader, the pings)
  goes through that queue.

The sender and the heartbeat used to be tasks of their own for the connection's whole life;
an idle task costs about 3 KB, which at 20,000 connections is 120 MB, so they are folded in
(docs/bench/relay-memory.md).

Recoverable mistakes (bad JSON, unknown type, missing field, nobody to relay to) get an
``error`` frame and the connection stays. Abuse (oversize, flood, binary, a full room, no join
in time) gets an ``error`` frame, then a close with a fitting code.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
from collections import deque
from dataclasses import dataclass

import trio
from trio_websocket import ConnectionClosed

from protocol.signaling import (
    MAX_SIGNAL_BYTES,
    RELAYED_TYPES,
    Bye,
    Error,
    ErrorCode,
    Join,
    Ping,
    Pong,
    SignalError,
    Turn,
    TurnRequest,
    parse_signal,
)

from .config import RelayConfig
from .frames import MeteredWebSocket, TokenBucket
from .http import PrefixedStream
from .hub import Hub, room_tag
from .metrics import REASON_PONG_TIMEOUT

log = logging.getLogger(__name__)

#: WebSocket close codes (RFC 6455 section 7.4.1).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
#: The closing handshake: a well-behaved client answers within a round trip; a few seconds
#: covers slow mobile links, after which the TCP connection is simply cut.
CLOSE_HANDSHAKE_TIMEOUT = 3.0
#: A closing connection's last frames (the error, then the close handshake) must be through by
#: then; a client that does not read them is cut instead of holding the socket.
CLOSE_FLUSH_TIMEOUT = 5.0

#: The first heartbeat comes after this fraction of --ping-interval (uniformly random), which
#: spreads the pings of connections that arrived together over half an interval.
FIRST_PING_SPREAD = (0.5, 1.0)

#: Errors after which the connection is closed, and with which WebSocket code. Everything else
#: a client can get wrong is answered with an ``error`` frame and the connection stays open.
FATAL_CLOSE_CODES: dict[ErrorCode, int] = {
    ErrorCode.TOO_LARGE: CLOSE_TOO_BIG,
    ErrorCode.BINARY_NOT_ALLOWED: CLOSE_UNSUPPORTED_DATA,
    ErrorCode.RATE_LIMITED: CLOSE_POLICY,
    ErrorCode.ROOM_FULL: CLOSE_POLICY,
    ErrorCode.BAD_ROOM: CLOSE_POLICY,
    ErrorCode.IDLE_TIMEOUT: CLOSE_POLICY,
    ErrorCode.UNSUPPORTED_VERSION: CLOSE_POLICY,
    ErrorCode.SHUTTING_DOWN: CLOSE_GOING_AWAY,
}
#: Frame-level faults that end the connection; a malformed room code in ``join`` does not (the
#: client may retry), but a join that contradicts the URL's ``?room=`` does (see ``_join``).
_FATAL_PARSE_ERRORS = frozenset(
    {ErrorCode.TOO_LARGE, ErrorCode.BINARY_NOT_ALLOWED, ErrorCode.UNSUPPORTED_VERSION}
)
#: Types only the relay sends; a client sending one is confused, not hostile.
_SERVER_TYPES = frozenset({"joined", "peer_joined", "peer_left", "turn", "error"})

_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class _Close:
    """Send-queue item: close the WebSocket after the frames queued before it."""

    code: int
    reason: str


class _Ping:
    """Send-queue item: a WebSocket ping (the heartbeat), sent in order with the frames."""

    __slots__ = ()


_PING = _Ping()
_Item = str | _Close | _Ping


class Connection:
    """Implements :class:`relay.hub.Peer` for one accepted WebSocket.

    Memory per idle connection is what bounds how many one relay holds (docs/bench/
    relay-memory.md), so an idle connection keeps one task of its own (the reader, which also
    runs the heartbeat's timers) besides trio-websocket's, and no send queue: the sender task
    and its deque exist only while frames wait to go out.
    """

    __slots__ = ("_bucket", "_closing", "_config", "_hub", "_join_deadline", "_nursery",
                 "_pending", "_sending", "_transport", "_url_room", "_ws", "cid",
                 "end_reason", "ip", "room")

    def __init__(
        self,
        hub: Hub,
        ws: MeteredWebSocket,
        ip: str,
        *,
        url_room: str | None,
        join_deadline: float,
        transport: PrefixedStream | None = None,
    ) -> None:
        """``ws`` charges fragments and control frames to the same token bucket as whole
        messages (relay.frames), and tells the heartbeat when a pong came."""
        config: RelayConfig = hub.config
        self.cid = next(_ids)
        self.ip = ip
        self.room: str | None = None
        self._hub = hub
        self._ws = ws
        self._config = config
        self._url_room = url_room
        self._join_deadline = join_deadline
        self._transport = transport
        self._bucket: TokenBucket = ws.bucket
        #: Frames waiting for the sender (at most ``config.send_queue``); None while empty.
        self._pending: deque[_Item] | None = None
        self._sending = False
        self._nursery: trio.Nursery | None = None
        self._closing = False
        #: Why the connection ended; what the other peer is told in ``peer_left``.
        self.end_reason = "disconnected"

    # -- Peer protocol (called by the hub, synchronously) -------------------------------------
    def deliver(self, text: str) -> bool:
        if self._closing:
            return True  # frames after our close are dropped; that is not slowness
        return self._put(text)

    def kick(self, reason: str) -> None:
        self.end_reason = reason
        self._closing = True
        if self._nursery is not None:  # otherwise run() has not begun (and will not) or ended
            self._nursery.cancel_scope.cancel()

    def frames_refused(self, reason: str) -> None:
        """:mod:`relay.frames` closed this connection over a frame limit: count it, unless it
        was already closing for another reason (counted by :meth:`close_with`)."""
        if not self._closing:
            self._hub.metrics.reject(reason)

    def close_with(self, code: ErrorCode, message: str, close_code: int | None = None) -> None:
        """Queue an ``error`` frame and a close; the reader stops taking frames."""
        if self._closing:
            return
        if self._ws.refused is not None:
            return  # a frame limit already closed this connection (and counted it)
        self._hub.metrics.reject(code)
        close_code = close_code or FATAL_CLOSE_CODES.get(code, CLOSE_POLICY)
        self.end_reason = code.value
        if code is not ErrorCode.SHUTTING_DOWN:  # at shutdown everyone is told the same
            self._hub.leave(self, code.value)
        if not (self._put(Error(code=code.value, message=message).to_json())
                and self._put(_Close(close_code, code.value))):
            self.kick(code.value)
            return
        self._closing = True

    # -- the send queue -----------------------------------------------------------------------
    def _put(self, item: _Item) -> bool:
        """Queue ``item`` for the sender (started if none runs); False when the queue is
        full. As with a memory channel of ``send_queue``, the frame being written does not
        count: ``send_queue`` frames wait behind it."""
        pending = self._pending
        if pending is None:
            pending = self._pending = deque()
        elif len(pending) >= self._config.send_queue:
            return False
        pending.append(item)
        if not self._sending and self._nursery is not None:
            try:
                self._nursery.start_soon(self._sender, self._nursery.cancel_scope)
            except RuntimeError:
                # The nursery has closed but run() has not resumed to say so (both peers of a
                # room leaving at once): this connection is over, and the frame is dropped.
                self._closing = True
                self._pending = None
                return True
            self._sending = True
        return True

    # -- tasks --------------------------------------------------------------------------------
    async def run(self) -> None:
        """Serve the client until it leaves, is closed or is kicked."""
        if self._closing and not self._pending:
            return  # kicked before it began
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if self._pending and not self._sending:
                    self._sending = True
                    nursery.start_soon(self._sender, nursery.cancel_scope)
                await self._reader()
                if not self._closing:
                    nursery.cancel_scope.cancel()  # the client went away: stop the sender
                else:  # the sender flushes the error, closes, and cancels the nursery...
                    nursery.cancel_scope.deadline = trio.current_time() + CLOSE_FLUSH_TIMEOUT
                    # ...or, if the client does not take them in time, the deadline does.
        finally:
            # Even when cancelled (a kick, the relay stopping): frames for this connection
            # are dropped from now on, and nothing may start a sender in the closed nursery.
            self._closing = True
            self._nursery = None
            self._pending = None

    async def _sender(self, done: trio.CancelScope) -> None:
        """Write queued items in order; return once the queue is empty (a later frame starts
        a new sender), cancel ``done`` after the close or when the socket is gone."""
        try:
            while self._pending:
                item = self._pending.popleft()
                if isinstance(item, _Close):
                    with trio.move_on_after(CLOSE_HANDSHAKE_TIMEOUT):
                        await self._ws.aclose(item.code, item.reason)
                    break
                if isinstance(item, _Ping):
                    await self._ws.send_ping()
                else:
                    await self._ws.send_message(item)
            else:
                self._pending = None  # drained: an idle connection keeps no deque
                return
        except ConnectionClosed:
            # Closed under us: by the client, or by trio-websocket's reader over a frame limit,
            # whose close frame may still wait for the stream. Cancelling ``done`` ends the
            # connection's handler, which cuts the TCP connection: let that frame out first.
            with trio.move_on_after(CLOSE_HANDSHAKE_TIMEOUT):
                await self._ws.wait_close_sent()
        finally:
            self._sending = False
        done.cancel()

    def _heartbeat(self, ping_sent: float | None, now: float) -> tuple[float | None, float]:
        """One heartbeat step, due at ``now``: send a ping, or judge the one sent at
        ``ping_sent``. Returns the new ``ping_sent`` and when the next step is due.

        The reader runs these steps between frames instead of a task per connection doing
        it: a ping every ``ping_interval`` after the last pong; no pong within
        ``pong_timeout`` drops the peer unless :meth:`_alive_anyway`."""
        config = self._config
        if ping_sent is None:
            self._put(_PING)  # a full queue: no pong will come, and the deadline judges
            return now, now + config.pong_timeout
        pong = self._ws.pong_at
        if pong >= ping_sent:
            return None, pong + config.ping_interval
        if self._alive_anyway(ping_sent):
            self._hub.metrics.pongs_late_total += 1
            return None, now + config.ping_interval
        self._hub.metrics.reject(REASON_PONG_TIMEOUT)
        log.info("connection %d: no pong within %.0f s, dropping", self.cid,
                 config.pong_timeout)
        self.kick(REASON_PONG_TIMEOUT)
        return None, math.inf

    def _alive_anyway(self, ping_sent: float) -> bool:
        """No pong in time, but the peer sent bytes since the ping, or bytes wait unread: the
        pong is stuck behind other traffic or behind an overloaded relay. Dropping such peers
        would turn a load spike into a reconnect storm, so they get another round."""
        t = self._transport
        return t is not None and (t.last_receive > ping_sent or t.input_pending())

    async def _reader(self) -> None:
        metrics = self._hub.metrics
        config = self._config
        last_frame = trio.current_time()
        # The first ping comes after a random part of the interval: connections opened in a
        # burst (a reconnect storm after a restart) must not all be pinged in the same instant
        # every interval, or answering 10k pongs at once starves the relay past the deadline.
        beat_at = last_frame + config.ping_interval * random.uniform(*FIRST_PING_SPREAD)
        ping_sent: float | None = None
        while not self._closing:
            if self.room is None:
                deadline = self._join_deadline
                timeout_message = "no 'join' within the handshake timeout"
            else:
                deadline = last_frame + config.idle_timeout
                timeout_message = f"no frame for {config.idle_timeout:.0f} s"
            with trio.move_on_at(min(deadline, beat_at)):
                try:
                    frame = await self._ws.get_message()
                except ConnectionClosed:
                    closed = self._ws.closed
                    if closed is not None and closed.code == CLOSE_TOO_BIG:
                        # trio-websocket already answered the oversize frame with close 1009.
                        metrics.reject(ErrorCode.TOO_LARGE)
                        self.end_reason = ErrorCode.TOO_LARGE.value
                    refused = self._ws.refused
                    if refused is not None:
                        # A frame limit (relay.frames) already closed it with 1008 and
                        # counted it.
                        self.end_reason = refused
                        log.info("connection %d: %s, closed", self.cid, refused)
                    return
                metrics.frames_received_total += 1
                self._handle(frame)
                last_frame = trio.current_time()
                continue
            now = trio.current_time()
            if now >= deadline:
                self.close_with(ErrorCode.IDLE_TIMEOUT, timeout_message)
                return
            ping_sent, beat_at = self._heartbeat(ping_sent, now)

    # -- frame handling (synchronous: each frame is handled atomically) ---------------------
    def _handle(self, frame: str | bytes) -> None:
        if not self._bucket.take():
            self.close_with(ErrorCode.RATE_LIMITED,
                            f"more than {self._config.burst} frames at once or "
                            f"{self._config.rate:g}/s sustained")
            return
        if isinstance(frame, str) and len(frame) > MAX_SIGNAL_BYTES // 4:
            size = len(frame.encode("utf-8", "surrogatepass"))
            if size > MAX_SIGNAL_BYTES:
                self.close_with(ErrorCode.TOO_LARGE,
                                f"frame of {size} bytes exceeds {MAX_SIGNAL_BYTES}")
                return
        try:
            message = parse_signal(frame)
        except SignalError as e:
            if e.code in _FATAL_PARSE_ERRORS:
                self.close_with(e.code, str(e))
            else:
                self._error(e.code, str(e))
            return
        kind = message.TYPE
        try:
            if kind in RELAYED_TYPES:
                self._hub.relay(self, message)
            elif isinstance(message, Join):
                self._join(message)
            elif isinstance(message, Ping):
                self.deliver_or_kick(Pong(t=message.t).to_json())
            elif isinstance(message, TurnRequest):
                self._turn()
            elif isinstance(message, Bye):
                self.end_reason = message.reason or "bye"
                self._hub.leave(self, self.end_reason)
                self._closing = self.deliver_or_kick(_Close(CLOSE_NORMAL, "bye"))
            elif kind == "pong":
                pass  # an answer to nothing we sent; harmless
            elif kind in _SERVER_TYPES:
                raise SignalError(ErrorCode.BAD_MESSAGE,
                                  f"'{kind}' is sent by the relay, not by clients")
        except SignalError as e:
            if e.code in FATAL_CLOSE_CODES:
                self.close_with(e.code, str(e))
            else:
                self._error(e.code, str(e))

    def _join(self, join: Join) -> None:
        if self.room is not None:
            raise SignalError(ErrorCode.ALREADY_JOINED, "this connection is already in a room")
        if self._url_room is not None and join.room != self._url_room:
            raise SignalError(ErrorCode.BAD_ROOM,
                              "the join's room differs from the ?room= of the URL")
        if self._hub.shutting_down:
            raise SignalError(ErrorCode.SHUTTING_DOWN, "the relay is shutting down")
        reply = self._hub.join(self, join.room, create=join.create)
        if not self.deliver_or_kick(reply.to_json()):
            return
        log.debug("room %s: joined reply sent to %d", room_tag(join.room), self.cid)

    def _turn(self) -> None:
        creds = self._hub.turn_credentials()
        if creds is None:
            raise SignalError(ErrorCode.TURN_UNAVAILABLE, "this relay has no TURN server")
        self.deliver_or_kick(Turn(urls=creds.urls, username=creds.username,
                                  credential=creds.credential, ttl=creds.ttl).to_json())

    def _error(self, code: ErrorCode, message: str) -> None:
        self._hub.metrics.reject(code)
        self.deliver_or_kick(Error(code=code.value, message=message[:500]).to_json())

    def deliver_or_kick(self, item: str | _Close) -> bool:
        """Queue a reply to this client's own frame; a full queue means it floods without
        reading its answers, which is the slow-consumer case."""
        if self._closing or self._put(item):
            return True
        self._hub.leave(self, "slow_consumer")
        self.kick("slow_consumer")
        return False
