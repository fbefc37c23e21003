"""A hand-made WebSocket client (asyncio streams): it sends what a real library refuses to
(fragments that never end, control-frame floods, bytes no encoder produces) and reads the
relay's frames back raw, close code included."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from dataclasses import dataclass

OP_TEXT = 0x1
OP_CONT = 0x0
OP_CLOSE = 0x8
OP_PING = 0x9


def client_frame(payload: bytes, opcode: int, *, fin: bool = True) -> bytes:
    """One masked client frame (RFC 6455 5.2)."""
    mask = os.urandom(4)
    n = len(payload)
    first = (0x80 if fin else 0) | opcode
    if n < 126:
        head = struct.pack("!BB", first, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of the unmasked server frames in ``data`` (a complete prefix)."""
    out: list[tuple[int, bytes]] = []
    i = 0
    while i + 2 <= len(data):
        opcode, n = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if n == 126:
            n, i = struct.unpack("!H", data[i : i + 2])[0], i + 2
        elif n == 127:
            n, i = struct.unpack("!Q", data[i : i + 8])[0], i + 8
        if i + n > len(data):
            break
        out.append((opcode, data[i : i + n]))
        i += n
    return out


def close_code(data: bytes) -> int | None:
    """The code of the first close frame the server sent, if any."""
    for opcode, payload in server_frames(data):
        if opcode == OP_CLOSE and len(payload) >= 2:
            code: int = struct.unpack("!H", payload[:2])[0]
            return code
    return None


@dataclass(slots=True)
class RawSocket:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    status: int

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_all(self, timeout: float) -> bytes:
        """Everything until the server closes the TCP connection (or ``timeout``)."""
        out = bytearray()
        try:
            async with asyncio.timeout(timeout):
                while chunk := await self.reader.read(65536):
                    out += chunk
        except (TimeoutError, ConnectionError):
            pass
        return bytes(out)

    def close(self) -> None:
        self.writer.close()


async def open_raw(port: int, path: str, *, origin: str | None = None) -> RawSocket:
    """TCP connect and handshake; ``status`` is the HTTP status (101 = upgraded)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            + (f"Origin: {origin}\r\n" if origin else "")
            + "\r\n"
        ).encode()
    )
    head = b""
    async with asyncio.timeout(10):
        while b"\r\n\r\n" not in head:
            byte = await reader.read(1)  # byte by byte: leave the frames that follow unread
            if not byte:
                break
            head += byte
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = 0
    return RawSocket(reader, writer, status)
