"""Listening, the per-connection entry point, HTTP endpoints and graceful shutdown.

``serve_relay`` binds (port 0 allowed), reports a :class:`RelayServer` through ``task_status``
and runs until cancelled or until :meth:`RelayServer.shutdown` (SIGTERM in ``__main__``) has
told every peer ``shutting_down`` and they have gone (or the grace period ran out).

Each TCP connection runs in its own task (and, once upgraded, its own nursery): read the HTTP
head within the handshake timeout; answer ``/healthz`` and ``/metrics`` as plain HTTP; refuse
upgrades that break a rule with an HTTP status and a JSON ``error`` body; hand the rest to
trio-websocket and :class:`relay.connection.Connection`.
"""

from __future__ import annotations

import logging
import math
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import trio

from protocol.signaling import MAX_SIGNAL_BYTES, ROOM_CODE_RE, Error, ErrorCode

from .config import RelayConfig
from .connection import Connection
from .frames import MeteredWebSocket, TokenBucket, wrap_server_stream
from .http import HttpError, HttpRequest, PrefixedStream, client_ip, read_head, response
from .hub import Hub
from .limits import address_key
from .memory import Reclaimer
from .metrics import (
    REASON_BAD_HTTP,
    REASON_FORBIDDEN_ORIGIN,
    REASON_HANDSHAKE_TIMEOUT,
    REASON_NOT_FOUND,
    Metrics,
)
from .static import StaticFile, StaticSite, page_response

log = logging.getLogger(__name__)

#: Paths that accept a WebSocket upgrade. ``/ws`` is what clients use; ``/`` is accepted so a
#: bare ``ws://host:port`` works too.
WS_PATHS = frozenset({"/ws", "/"})
#: Frames trio-websocket buffers between its reader task and ours; 1 keeps memory per idle
#: connection minimal and makes TCP push back on a client that sends faster than we parse.
WS_MESSAGE_QUEUE = 1
#: Bytes per socket read; signaling frames are small, and trio-websocket's 4 KiB default keeps
#: the per-read allocation cheap for 10k connections.
WS_RECEIVE_BYTES = 4096
#: Kernel listen backlog: bursts of reconnects after a restart must not be refused.
LISTEN_BACKLOG = 4096


@dataclass
class RelayServer:
    """What ``nursery.start(serve_relay, config)`` returns."""

    hub: Hub
    port: int
    metrics_port: int | None
    _shutdown: trio.Event = field(default_factory=trio.Event)
    stopped: trio.Event = field(default_factory=trio.Event)

    @property
    def metrics(self) -> Metrics:
        return self.hub.metrics

    def shutdown(self) -> None:
        """Begin a graceful shutdown (idempotent): stop listening, tell peers, wait, close."""
        self._shutdown.set()


def _ssl_context(config: RelayConfig) -> ssl.SSLContext | None:
    if not config.tls_cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(config.tls_cert, config.tls_key)
    return ctx


def _peer_ip(stream: trio.abc.Stream) -> str:
    inner: object = stream
    if isinstance(inner, trio.SSLStream):
        inner = inner.transport_stream
    if isinstance(inner, trio.SocketStream):
        try:
            return str(inner.socket.getpeername()[0])
        except OSError:
            return "?"
    return "?"


class _Handler:
    """The per-connection entry point for one listener (public port or metrics port)."""

    def __init__(self, server: RelayServer, *, websocket: bool, metrics: bool) -> None:
        self.server = server
        self.hub = server.hub
        self.config = server.hub.config
        self.websocket = websocket
        self.metrics = metrics
        #: The browser peer's page (relay.static), on the public port only.
        self.site = StaticSite() if websocket else None

    async def __call__(self, stream: trio.abc.Stream) -> None:
        """One connection; a bug here must cost that connection only, never the relay."""
        try:
            await self._serve(stream)
        except Exception:
            self.hub.metrics.reject(ErrorCode.INTERNAL)
            log.exception("connection handler failed (connection dropped, relay continues)")
            await trio.aclose_forcefully(stream)

    async def _serve(self, stream: trio.abc.Stream) -> None:
        hub = self.hub
        started = trio.current_time()
        deadline = started + self.config.handshake_timeout
        # Handshakes in progress count per socket address too (a trusted proxy is exempt: its
        # clients are counted by their forwarded address once the head is read).
        peer_ip = _peer_ip(stream)
        counted = peer_ip not in self.config.trusted_proxies
        peer = address_key(peer_ip)  # an IPv6 client counts by its /64, as in the hub
        hub.pending += 1
        if counted:
            hub.pending_per_ip[peer] += 1
        try:
            if hub.pending + hub.connection_count > self.config.max_connections + 64 or (
                counted and hub.pending_per_ip[peer] > self.config.max_conns_per_ip
            ):
                # Far over a cap (the 64 leaves room for health checks): spend nothing.
                hub.metrics.reject(ErrorCode.TOO_MANY_CONNECTIONS)
                await trio.aclose_forcefully(stream)
                return
            request: HttpRequest | None = None
            with trio.move_on_at(deadline):
                try:
                    request = await read_head(stream)
                except HttpError as e:
                    hub.metrics.reject(REASON_BAD_HTTP)
                    await self._send(stream, e.status, str(e))
                    return
                except (trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError,
                        OSError):
                    return
            if request is None:
                hub.metrics.reject(REASON_HANDSHAKE_TIMEOUT)
                return
            if not request.is_websocket:
                await self._plain_http(stream, request)
                return
        finally:
            hub.pending -= 1
            if counted:
                hub.pending_per_ip[peer] -= 1
                if hub.pending_per_ip[peer] <= 0:
                    del hub.pending_per_ip[peer]
        if not self.websocket:
            await self._send(stream, 404, "no WebSocket on this port")
            return
        # The request head (headers, query, raw bytes: 1-2 KB) must not live as long as the
        # connection, so it is handed over in a list that _websocket empties (this frame and
        # its own both outlive the session otherwise).
        handover = [request]
        del request
        await self._websocket(stream, handover, deadline)

    async def _send(self, stream: trio.abc.Stream, status: int, text: str,
                    content_type: str = "text/plain; charset=utf-8",
                    code: ErrorCode | None = None) -> None:
        if code is not None:
            body = Error(code=code.value, message=text).to_json().encode()
            content_type = "application/json"
        else:
            body = (text + "\n").encode()
        with trio.move_on_after(self.config.handshake_timeout):
            try:
                await stream.send_all(response(status, body, content_type))
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError, ssl.SSLError):
                pass
        await trio.aclose_forcefully(stream)

    async def _plain_http(self, stream: trio.abc.Stream, request: HttpRequest) -> None:
        hub = self.hub
        hub.metrics.http_requests_total += 1
        if request.method not in ("GET", "HEAD"):
            await self._send(stream, 405, "GET only")
        elif request.path == "/healthz":
            if hub.shutting_down:
                await self._send(stream, 503, "shutting down")
            else:
                await self._send(stream, 200, "ok")
        elif request.path == "/metrics" and self.metrics:
            await self._send(stream, 200, render_metrics(hub).rstrip("\n"),
                             "text/plain; version=0.0.4; charset=utf-8")
        elif self.site is not None and (page := self.site.lookup(request.path)) is not None:
            await self._send_page(stream, page, request.headers.get("if-none-match"),
                                  head=request.method == "HEAD")
        else:
            hub.metrics.reject(REASON_NOT_FOUND)
            await self._send(stream, 404, "not found")

    async def _send_page(self, stream: trio.abc.Stream, page: StaticFile,
                         if_none_match: str | None, *, head: bool) -> None:
        data = page_response(page, if_none_match, head=head)  # 304 when the browser has it
        with trio.move_on_after(self.config.handshake_timeout * 4):
            try:
                await stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError, ssl.SSLError):
                pass
        await trio.aclose_forcefully(stream)

    async def _websocket(self, stream: trio.abc.Stream, handover: list[HttpRequest],
                         deadline: float) -> None:
        hub = self.hub
        config = self.config
        request = handover.pop()
        try:
            request.check_websocket()
        except HttpError as e:
            hub.metrics.reject(REASON_BAD_HTTP)
            await self._send(stream, e.status, str(e))
            return
        if request.path not in WS_PATHS:
            hub.metrics.reject(REASON_NOT_FOUND)
            await self._send(stream, 404, "WebSocket endpoint is /ws?room=CODE")
            return
        origin = request.headers.get("origin")
        if config.allowed_origins and origin is not None and origin not in config.allowed_origins:
            hub.metrics.reject(REASON_FORBIDDEN_ORIGIN)
            await self._send(stream, 403, "origin not allowed")
            return
        rooms = request.query.get("room")
        url_room = rooms[0] if rooms else None
        if url_room is not None and (len(rooms or ()) > 1 or not ROOM_CODE_RE.match(url_room)):
            hub.metrics.reject(ErrorCode.BAD_ROOM)
            await self._send(stream, 400, "room code must be 22-64 URL-safe characters",
                             code=ErrorCode.BAD_ROOM)
            return
        ip = client_ip(_peer_ip(stream), request.headers, config.trusted_proxies)
        refusal = hub.admission_error(ip)
        if refusal is not None:
            hub.metrics.reject(refusal)
            status = 503 if refusal is ErrorCode.SHUTTING_DOWN else 429
            await self._send(stream, status, f"refused: {refusal.value}", code=refusal)
            return

        raw = request.raw
        del request, rooms
        async with trio.open_nursery() as nursery:  # this connection's nursery
            connection: Connection | None = None
            try:
                with trio.move_on_at(deadline):
                    wrapped = PrefixedStream(stream, raw)
                    del raw  # replayed once, then dropped by the stream
                    bucket = TokenBucket(config.rate, config.burst)
                    ws_request = await wrap_server_stream(
                        nursery, wrapped, bucket,
                        message_queue_size=WS_MESSAGE_QUEUE,
                        max_message_size=MAX_SIGNAL_BYTES,
                        receive_buffer_size=WS_RECEIVE_BYTES,
                    )
                    ws = await ws_request.accept()
                    del ws_request
                    assert isinstance(ws, MeteredWebSocket)
                    connection = Connection(hub, ws, ip, url_room=url_room,
                                            join_deadline=deadline, transport=wrapped)
                    ws.on_refused = connection.frames_refused
                if connection is None:
                    hub.metrics.reject(REASON_HANDSHAKE_TIMEOUT)
                    return
                hub.register(connection)
                await connection.run()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError, ssl.SSLError):
                pass
            finally:
                if connection is not None:
                    hub.unregister(connection, connection.end_reason)
                nursery.cancel_scope.cancel()
                # Shielded: an await in the cancelled scope would raise Cancelled and replace
                # the exception in flight, which then vanished unlogged and uncounted.
                with trio.CancelScope(shield=True):
                    await trio.aclose_forcefully(stream)


def render_metrics(hub: Hub) -> str:
    return hub.metrics.render({
        "avatarchat_relay_connections": ("open WebSocket connections",
                                         lambda: hub.connection_count),
        "avatarchat_relay_pending_handshakes": ("TCP connections still in their HTTP handshake",
                                                lambda: hub.pending),
        "avatarchat_relay_rooms": ("rooms with at least one peer", lambda: hub.room_count),
        "avatarchat_relay_up": ("1 while serving, 0 while shutting down",
                                lambda: 0 if hub.shutting_down else 1),
    })


_Listeners = Sequence[trio.abc.Listener[trio.abc.Stream]]


async def _listen(config: RelayConfig, port: int, ssl_context: ssl.SSLContext | None) -> _Listeners:
    listeners: _Listeners
    if ssl_context is None:
        listeners = await trio.open_tcp_listeners(port, host=config.host, backlog=LISTEN_BACKLOG)
    else:
        listeners = await trio.open_ssl_over_tcp_listeners(
            port, ssl_context, host=config.host, https_compatible=True, backlog=LISTEN_BACKLOG)
    return listeners


def _bound_port(listeners: _Listeners) -> int:
    for listener in listeners:
        inner: object = listener
        if isinstance(inner, trio.SSLListener):
            inner = inner.transport_listener
        if isinstance(inner, trio.SocketListener):
            return int(inner.socket.getsockname()[1])
    raise RuntimeError("no socket listener")


async def serve_relay(
    config: RelayConfig,
    *,
    task_status: trio.TaskStatus[RelayServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the relay. Reports a :class:`RelayServer` (with the bound ``port``) once listening;
    returns after a graceful shutdown (``RelayServer.shutdown()``), or raises Cancelled."""
    hub = Hub(config)
    ssl_context = _ssl_context(config)
    listeners = await _listen(config, config.port, ssl_context)
    port = _bound_port(listeners)
    if port == 0:  # pragma: no cover - the kernel always assigns one
        raise RuntimeError("listener has no port")
    metrics_listeners: _Listeners = []
    metrics_port: int | None = None
    if config.metrics_port is not None:
        metrics_listeners = await _listen(config, config.metrics_port, None)
        metrics_port = _bound_port(metrics_listeners)
    server = RelayServer(hub=hub, port=port, metrics_port=metrics_port)
    public = _Handler(server, websocket=True, metrics=config.metrics_port is None)
    private = _Handler(server, websocket=False, metrics=True)
    try:
        async with trio.open_nursery() as connections:
            async with trio.open_nursery() as listening:
                # Handlers live in ``connections``: closing the listeners must not cut peers.
                await listening.start(partial(trio.serve_listeners, public, list(listeners),
                                              handler_nursery=connections))
                if metrics_listeners:
                    await listening.start(partial(trio.serve_listeners, private,
                                                  list(metrics_listeners),
                                                  handler_nursery=connections))
                # Gives a departed crowd's garbage back (relay/memory.py has the figures).
                listening.start_soon(Reclaimer(lambda: hub.connection_count).run)
                log.info("relay listening on %s:%d%s", config.host, port,
                         f" (metrics on {metrics_port})" if metrics_port else "")
                task_status.started(server)
                await server._shutdown.wait()
                listening.cancel_scope.cancel()
            await _drain(hub, config.shutdown_grace)
            connections.cancel_scope.cancel()
    finally:
        server.stopped.set()


async def _drain(hub: Hub, grace: float) -> None:
    """Tell every peer the relay is going away, then wait (bounded) for them to close."""
    hub.begin_shutdown()
    peers = hub.peers()
    log.info("shutting down: telling %d connection(s)", len(peers))
    for peer in peers:
        if isinstance(peer, Connection):
            peer.close_with(ErrorCode.SHUTTING_DOWN, "the relay is shutting down; reconnect")
        else:  # pragma: no cover - only Connections register
            peer.kick("shutting_down")
    with trio.move_on_after(grace if math.isfinite(grace) else 0):
        await hub.drained.wait()
