"""Just enough HTTP/1.1 to share one port between WebSocket upgrades and /healthz, /metrics.

trio-websocket's server answers only upgrade requests (wsproto refuses a plain GET with a bare
400), so the relay reads the request head itself, answers plain requests here, and hands
upgrade requests to :func:`trio_websocket.wrap_server_stream` through :class:`PrefixedStream`,
which replays the bytes already read. Reading the head ourselves also lets the relay refuse a
connection (per-IP cap, Origin, bad room) with a status and a JSON body before any WebSocket
state exists.
"""

from __future__ import annotations

import ipaddress
import select
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import trio

#: Browsers send 0.5-2 KB of headers; 8 KiB is nginx's default large_client_header_buffers size.
MAX_HEAD_BYTES = 8 * 1024
#: One read; an upgrade request head fits in one segment.
_READ_CHUNK = 4096

STATUS_TEXT = {
    200: "OK",
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    426: "Upgrade Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


class HttpError(Exception):
    """The request head is unusable; ``status`` is what to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class HttpRequest:
    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    raw: bytes  # everything read so far (the head and possibly the start of the next frames)

    @property
    def is_websocket(self) -> bool:
        return self.headers.get("upgrade", "").lower() == "websocket"

    def check_websocket(self) -> None:
        """The checks wsproto makes, done early so a bad upgrade gets a clear 400."""
        if self.method != "GET":
            raise HttpError(405, "WebSocket upgrades must use GET")
        if "upgrade" not in self.headers.get("connection", "").lower():
            raise HttpError(400, "missing 'Connection: Upgrade'")
        if not self.headers.get("sec-websocket-key"):
            raise HttpError(400, "missing Sec-WebSocket-Key")
        if self.headers.get("sec-websocket-version") != "13":
            raise HttpError(426, "only WebSocket version 13 is spoken here")


async def read_head(stream: trio.abc.ReceiveStream) -> HttpRequest:
    """Read and parse one request head (the caller bounds the time). Raises HttpError."""
    buf = bytearray()
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(buf) > MAX_HEAD_BYTES:
            raise HttpError(431, "request head too large")
        chunk = await stream.receive_some(_READ_CHUNK)
        if not chunk:
            raise HttpError(400, "connection closed during the request head")
        buf += chunk
    if end > MAX_HEAD_BYTES:
        raise HttpError(431, "request head too large")
    try:
        lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError as e:
        raise HttpError(400, "malformed request line") from e
    if not version.startswith("HTTP/1."):
        raise HttpError(400, "only HTTP/1.x is spoken here")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, "malformed header line")
        key = name.lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    try:
        parts = urlsplit(target)
        query = parse_qs(parts.query, max_num_fields=8)
    except ValueError as e:  # a bad netloc, or more query fields than any client sends
        raise HttpError(400, "malformed request target") from e
    return HttpRequest(
        method=method,
        target=target,
        path=parts.path,
        query=query,
        headers=headers,
        raw=bytes(buf),
    )


def client_ip(peer_ip: str, headers: dict[str, str], trusted: tuple[str, ...]) -> str:
    """The client's address: the socket's peer, or the proxy's X-Real-IP / last
    X-Forwarded-For hop when the peer is a trusted proxy (the hop the proxy added).

    The per-address caps and rates count :func:`relay.limits.address_key` of this (an IPv6
    client by its /64); the address itself is kept as is for the connection's logs."""
    if peer_ip not in trusted:
        return peer_ip
    candidate = headers.get("x-real-ip") or headers.get("x-forwarded-for", "").split(",")[-1]
    candidate = candidate.strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return peer_ip


def response(status: int, body: bytes = b"", content_type: str = "text/plain; charset=utf-8",
             extra: tuple[tuple[str, str], ...] = (), *,
             cache_control: str = "no-store") -> bytes:
    """A complete ``Connection: close`` response. A ``304 Not Modified`` has no body, and no
    Content-Type or Content-Length (it must not restate the cached answer's differently)."""
    lines = [f"HTTP/1.1 {status} {STATUS_TEXT.get(status, 'Error')}"]
    if status != 304:
        lines += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    lines += [f"Cache-Control: {cache_control}", "Connection: close",
              *(f"{k}: {v}" for k, v in extra)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if status == 304 else body)


class PrefixedStream(trio.abc.Stream):
    """A stream that first replays ``prefix`` (bytes already consumed) and then reads on.

    It also keeps what the heartbeat needs to tell a dead peer from a busy relay: when bytes
    last arrived, and whether bytes are waiting in the kernel that nobody has read yet.
    """

    __slots__ = ("_prefix", "inner", "last_receive")  # one per connection: no instance dict

    def __init__(self, stream: trio.abc.Stream, prefix: bytes) -> None:
        self.inner = stream
        self._prefix: bytes | None = prefix or None
        self.last_receive = trio.current_time()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._prefix is not None:
            n = len(self._prefix) if max_bytes is None else max_bytes
            data, rest = self._prefix[:n], self._prefix[n:]
            self._prefix = rest or None
            await trio.lowlevel.checkpoint()
            return data
        data = bytes(await self.inner.receive_some(max_bytes))
        if data:
            self.last_receive = trio.current_time()
        return data

    def input_pending(self) -> bool:
        """Bytes from the peer sit unread in the kernel: the peer is alive, we are behind."""
        inner: object = self.inner
        if isinstance(inner, trio.SSLStream):
            inner = inner.transport_stream
        if not isinstance(inner, trio.SocketStream):
            return False
        # poll, not select: select() refuses descriptors from 1024 on (ValueError), which
        # is every connection of a relay holding thousands, and then answered "no".
        poller = select.poll()
        try:
            poller.register(inner.socket.fileno(), select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self.inner.aclose()
