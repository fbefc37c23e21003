"""Every WebSocket frame a client sends is counted, not only whole messages.

trio-websocket hands the application complete messages and answers pings itself, so a client
could send endless empty continuation frames of a message that never ends (each piece kept in
memory) or a PING flood (each one answered) without the relay's per-message rate limit ever
seeing a frame. :class:`MeteredWebSocket` hooks trio-websocket's per-event handlers, which run
in its reader task for every frame wsproto parses:

* a non-final fragment, a ping and a pong each take one token from the connection's
  :class:`TokenBucket` (a message's final frame is counted when :class:`relay.connection.
  Connection` handles the message, so an unfragmented message costs one token, as before);
* a message in more than :data:`MAX_FRAGMENTS` frames is refused whatever the budget.

Over either limit the relay sends a close frame (1008, the reason names the limit), stops
reading, and :attr:`MeteredWebSocket.refused` tells the connection which metric to count.

The relay's heartbeat pings through :meth:`MeteredWebSocket.send_ping`, which does not wait for
the pong (trio-websocket's ``ping`` does, which needs a task per connection): the pong's time is
kept in :attr:`MeteredWebSocket.pong_at` for the connection's reader to look at.

trio-websocket's reader loop is repeated here only to dispatch events without a per-connection
table of bound methods. Once the opening handshake is done, wsproto's handshake state (an h11
connection and an event queue, about 2 KB) is dropped, and so is trio-websocket's test-only
event: memory per idle connection is what bounds how many one relay holds
(docs/bench/relay-memory.md).

A ping that arrives after the relay sent its close frame is normal client behaviour; it is left
unanswered (wsproto cannot send a pong then) instead of failing the connection's handler.

Two tasks may start a close: the relay's connection (``aclose`` from its sender, after the
``error`` frame) and trio-websocket's reader (a frame limit here, an oversize message, the
client's own close). Whichever comes second waits for the first one's close frame to be
written before the TCP connection is closed (:meth:`MeteredWebSocket.wait_close_sent`).
"""

from __future__ import annotations

import logging
import math
import random
import struct
from collections.abc import Callable, Iterator
from typing import TypeVar

import trio
import wsproto.events
import wsproto.utilities
from trio_websocket import CloseReason, ConnectionClosed, WebSocketConnection, WebSocketRequest
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import Request

from protocol.signaling import ErrorCode

from .metrics import REASON_TOO_MANY_FRAGMENTS

#: Frames one message may arrive in. Clients send signaling messages whole (a few KiB); even a
#: 64 KiB message cut into 1 KiB pieces needs only 64, so 128 never bothers a real client while
#: empty continuation frames of a message that never ends are stopped after a few hundred bytes.
MAX_FRAGMENTS = 128
#: Close code for a client over a frame limit (RFC 6455 7.4.1: policy violation).
CLOSE_POLICY = 1008
#: The close frame to a flooding client must be through by then; otherwise it is just cut.
REFUSE_SEND_TIMEOUT = 3.0


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; one token per frame. Uses trio's clock, so
    tests with ``autojump_clock`` see the same behaviour as production."""

    __slots__ = ("_last", "_rate", "_tokens", "burst")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = trio.current_time()

    def take(self) -> bool:
        now = trio.current_time()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


#: The event handlers of trio-websocket's reader, by event type (see ``_reader_task``).
_HANDLERS: dict[type[wsproto.events.Event], str] = {
    wsproto.events.AcceptConnection: "_handle_accept_connection_event",
    wsproto.events.BytesMessage: "_handle_message_event",
    wsproto.events.CloseConnection: "_handle_close_connection_event",
    wsproto.events.Ping: "_handle_ping_event",
    wsproto.events.Pong: "_handle_pong_event",
    wsproto.events.RejectConnection: "_handle_reject_connection_event",
    wsproto.events.RejectData: "_handle_reject_data_event",
    wsproto.events.Request: "_handle_request_event",
    wsproto.events.TextMessage: "_handle_message_event",
}
_ws_log = logging.getLogger("trio-websocket")


_T = TypeVar("_T")


class _ShortQueue(list[_T]):
    """The FIFO for wsproto's event queue and trio-websocket's message channel, which hold a
    frame or two at a time: as a deque each starts with a 64-slot block (760 bytes per
    connection, kept while idle), as a list 56 bytes. Both use only ``append``, ``popleft``,
    ``len``, truth and ``clear``."""

    __slots__ = ()

    def popleft(self) -> _T:
        return self.pop(0)


class _HandshakeDone:
    """Stands in for wsproto's ``H11Handshake`` once the connection is open: wsproto then only
    asks it for events (there are none left), and the real one holds an h11 connection."""

    __slots__ = ()

    def events(self) -> Iterator[wsproto.events.Event]:
        return iter(())


_HANDSHAKE_DONE = _HandshakeDone()
#: trio-websocket sets this on every connection for its own tests; one shared (and never
#: awaited) event instead of one per connection.
_UNUSED_EVENT = trio.Event()
#: Likewise the opening handshake's event once it is set (only clients wait on it).
_OPENED = trio.Event()
_OPENED.set()


class MeteredWebSocket(WebSocketConnection):
    """A server-side :class:`WebSocketConnection` that charges every frame to ``bucket``."""

    # Slots: seven more entries in the inherited instance dict would grow it from 0.3 KB to
    # 1.6 KB per connection.
    __slots__ = ("_fragments", "_max_fragments", "_ping_payload", "bucket", "on_refused",
                 "pong_at", "refused")

    def __init__(self, stream: trio.abc.Stream, bucket: TokenBucket, *,
                 max_fragments: int = MAX_FRAGMENTS, message_queue_size: int,
                 max_message_size: int, receive_buffer_size: int | None,
                 on_refused: Callable[[str], None] | None = None) -> None:
        super().__init__(stream, WSConnection(ConnectionType.SERVER),
                         message_queue_size=message_queue_size,
                         max_message_size=max_message_size,
                         receive_buffer_size=receive_buffer_size)
        self.bucket = bucket
        self._max_fragments = max_fragments
        self._fragments = 0
        #: The metric reason once a frame limit closed the connection, else ``None``.
        self.refused: str | None = None
        #: Told the reason at once (the metric): the connection's handler may already be
        #: ending by the time it would notice ``refused`` itself. The relay's connection sets
        #: it once it exists, so it can count each closed connection once.
        self.on_refused = on_refused
        #: When the last pong answering :meth:`send_ping` came (trio's clock).
        self.pong_at = -math.inf
        self._ping_payload: bytes | None = None
        self._for_testing_peer_closed_connection = _UNUSED_EVENT
        self._send_channel._state.data = _ShortQueue()  # type: ignore[assignment]

    async def send_ping(self) -> None:
        """Send a ping with a fresh payload; its pong sets :attr:`pong_at`."""
        if self._close_reason:
            raise ConnectionClosed(self._close_reason)
        self._ping_payload = struct.pack("!I", random.getrandbits(32))
        await self._send(wsproto.events.Ping(payload=self._ping_payload))

    async def wait_close_sent(self) -> None:
        """Return once a close frame another task of this connection began to send (ours in
        :meth:`_refuse`, trio-websocket's 1009 or its reply to the client's close) is written,
        or its send failed.

        Each of them sets ``_close_reason`` and, without a checkpoint in between, takes or
        queues for the stream lock, a strict FIFO lock: whoever sees ``_close_reason`` set
        and then takes the lock finds that frame through. Without this, the sender's
        ``aclose`` (which returns at once when ``_close_reason`` is set) closed the TCP stream
        while the reader's close frame still waited for the lock behind the ``error`` frame,
        and the client never learned why it was cut off."""
        async with self._stream_lock:
            pass

    async def _aclose(self, code: int, reason: str | None) -> None:
        if self._close_reason is not None:
            # A close frame is already on its way (see wait_close_sent): let it out before
            # trio-websocket's aclose closes the stream.
            try:
                await self.wait_close_sent()
            finally:
                await self._close_stream()
            return
        await super()._aclose(code, reason)

    async def _accept(self, request: Request, subprotocol: str | None,
                      extra_headers: list[tuple[bytes, bytes]]) -> None:
        await super()._accept(request, subprotocol, extra_headers)
        if self._wsproto.connection is not None:  # open: the handshake state is done with
            self._wsproto.handshake = _HANDSHAKE_DONE  # type: ignore[assignment]
            self._open_handshake = _OPENED
            connection = self._wsproto.connection
            connection._events = _ShortQueue(connection._events)  # type: ignore[assignment]

    async def _handle_message_event(
        self, event: wsproto.events.BytesMessage | wsproto.events.TextMessage
    ) -> None:
        if self.refused is not None:
            return
        if event.frame_finished and not event.message_finished:
            self._fragments += 1
            if self._fragments >= self._max_fragments:
                await self._refuse(REASON_TOO_MANY_FRAGMENTS,
                                   f"message in more than {self._max_fragments} frames")
                return
            if not self.bucket.take():
                await self._refuse(ErrorCode.RATE_LIMITED.value, "too many frames")
                return
        elif event.message_finished:
            self._fragments = 0
        await super()._handle_message_event(event)

    async def _handle_ping_event(self, event: wsproto.events.Ping) -> None:
        if self.refused is not None:
            return
        if not self.bucket.take():
            await self._refuse(ErrorCode.RATE_LIMITED.value, "too many frames")
            return
        if self._wsproto.state is not ConnectionState.OPEN:
            # We are closing: a ping now is normal client behaviour, and wsproto refuses to
            # send a pong after our close frame (LocalProtocolError), so it goes unanswered.
            return
        await super()._handle_ping_event(event)

    async def _handle_pong_event(self, event: wsproto.events.Pong) -> None:
        if self.refused is not None:
            return
        if not self.bucket.take():
            await self._refuse(ErrorCode.RATE_LIMITED.value, "too many frames")
            return
        if self._ping_payload is not None and bytes(event.payload) == self._ping_payload:
            self.pong_at = trio.current_time()
        await super()._handle_pong_event(event)

    async def _reader_task(self) -> None:
        """trio-websocket 0.12's reader loop, dispatching through :data:`_HANDLERS` by name.

        The original builds a dict of nine bound methods when it starts and keeps it for the
        connection's life (about 1.2 KB per connection); this loop is otherwise the same (a
        server connection sends no opening request, so that branch is left out)."""
        async with self._send_channel:
            while self._reader_running:
                for event in self._wsproto.events():
                    name = _HANDLERS.get(type(event))
                    if name is None:
                        _ws_log.warning("%s received unknown event type: %r", self,
                                        type(event).__name__)
                        continue
                    try:
                        await getattr(self, name)(event)
                    except ConnectionClosed:
                        self._reader_running = False
                        break
                try:
                    data = await self._stream.receive_some(self._receive_buffer_size)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    await self._abort_web_socket()
                    break
                if len(data) == 0:
                    if self._wsproto.state != ConnectionState.CLOSED:
                        await self._abort_web_socket()
                    break
                if self._wsproto.state != ConnectionState.CLOSED:
                    try:
                        self._wsproto.receive_data(bytes(data))
                    except wsproto.utilities.RemoteProtocolError as err:
                        if err.event_hint:
                            await self._send(err.event_hint)
                        await self._close_stream()

    async def _refuse(self, reason: str, detail: str) -> None:
        """Close with 1008 (reason: ``reason: detail``), drop the partial message, stop."""
        self.refused = reason
        if self.on_refused is not None:
            self.on_refused(reason)
        self._reader_running = False
        self._message_parts = []
        self._message_size = 0
        text = f"{reason}: {detail}"
        self._close_reason = CloseReason(CLOSE_POLICY, text)
        if self._wsproto.state is not ConnectionState.OPEN:
            # The connection's own close frame is out already (wsproto refuses a second one).
            await self._recv_channel.aclose()
            return
        with trio.move_on_after(REFUSE_SEND_TIMEOUT):
            try:
                await self._send(wsproto.events.CloseConnection(code=CLOSE_POLICY, reason=text))
            except ConnectionClosed:
                pass
        await self._recv_channel.aclose()


async def wrap_server_stream(
    nursery: trio.Nursery, stream: trio.abc.Stream, bucket: TokenBucket, *,
    message_queue_size: int, max_message_size: int, receive_buffer_size: int | None,
    on_refused: Callable[[str], None] | None = None,
) -> WebSocketRequest:
    """:func:`trio_websocket.wrap_server_stream` with a :class:`MeteredWebSocket`."""
    connection = MeteredWebSocket(stream, bucket, message_queue_size=message_queue_size,
                                  max_message_size=max_message_size,
                                  receive_buffer_size=receive_buffer_size,
                                  on_refused=on_refused)
    nursery.start_soon(connection._reader_task)
    return await connection._get_request()
