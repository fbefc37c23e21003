"""A minimal STUN/TURN client over UDP (trio): Binding, and Allocate with long-term credentials.

Only what the relay's TURN test needs (RFC 5389 message format, RFC 5766 Allocate):
Allocate with REQUESTED-TRANSPORT=UDP -> 401 with REALM and NONCE -> Allocate again with
USERNAME, REALM, NONCE and MESSAGE-INTEGRITY (HMAC-SHA1 keyed with MD5(username:realm:password)).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass

import trio

MAGIC_COOKIE = 0x2112A442
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
ALLOCATE_REQUEST = 0x0003
ALLOCATE_SUCCESS = 0x0103
ALLOCATE_ERROR = 0x0113
ATTR_USERNAME = 0x0006
ATTR_MESSAGE_INTEGRITY = 0x0008
ATTR_ERROR_CODE = 0x0009
ATTR_REALM = 0x0014
ATTR_NONCE = 0x0015
ATTR_XOR_RELAYED_ADDRESS = 0x0016
ATTR_REQUESTED_TRANSPORT = 0x0019
ATTR_LIFETIME = 0x000D
ATTR_XOR_PEER_ADDRESS = 0x0012
CREATE_PERMISSION_REQUEST = 0x0008
CREATE_PERMISSION_SUCCESS = 0x0108
UDP_PROTOCOL = 17


@dataclass
class StunMessage:
    kind: int
    transaction: bytes
    attrs: list[tuple[int, bytes]]

    def attr(self, kind: int) -> bytes | None:
        for k, v in self.attrs:
            if k == kind:
                return v
        return None

    @property
    def error_code(self) -> int | None:
        value = self.attr(ATTR_ERROR_CODE)
        if value is None:
            return None
        return (value[2] & 0x7) * 100 + value[3]


@dataclass
class AllocateResult:
    ok: bool
    error_code: int | None
    relayed: tuple[str, int] | None


def _attr(kind: int, value: bytes) -> bytes:
    pad = (4 - len(value) % 4) % 4
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * pad


def encode(kind: int, transaction: bytes, attrs: list[tuple[int, bytes]],
           integrity_key: bytes | None = None) -> bytes:
    body = b"".join(_attr(k, v) for k, v in attrs)
    if integrity_key is None:
        return struct.pack("!HHI", kind, len(body), MAGIC_COOKIE) + transaction + body
    # The length covers MESSAGE-INTEGRITY (24 bytes) while the HMAC covers what precedes it.
    header = struct.pack("!HHI", kind, len(body) + 24, MAGIC_COOKIE) + transaction
    mac = hmac.new(integrity_key, header + body, hashlib.sha1).digest()
    return header + body + _attr(ATTR_MESSAGE_INTEGRITY, mac)


def decode(data: bytes) -> StunMessage:
    kind, length, cookie = struct.unpack_from("!HHI", data)
    if cookie != MAGIC_COOKIE:
        raise ValueError("not a STUN message")
    transaction = data[8:20]
    attrs: list[tuple[int, bytes]] = []
    pos = 20
    while pos + 4 <= 20 + length:
        k, n = struct.unpack_from("!HH", data, pos)
        attrs.append((k, data[pos + 4 : pos + 4 + n]))
        pos += 4 + n + (4 - n % 4) % 4
    return StunMessage(kind, transaction, attrs)


def _xor_address(value: bytes) -> tuple[str, int]:
    family = value[1]
    port = struct.unpack_from("!H", value, 2)[0] ^ (MAGIC_COOKIE >> 16)
    if family != 1:
        raise ValueError("only IPv4 relayed addresses are decoded here")
    raw = struct.unpack_from("!I", value, 4)[0] ^ MAGIC_COOKIE
    return ".".join(str((raw >> s) & 0xFF) for s in (24, 16, 8, 0)), port


def _xor_peer(ip: str, port: int) -> bytes:
    raw = int.from_bytes(bytes(int(p) for p in ip.split(".")), "big") ^ MAGIC_COOKIE
    return struct.pack("!BBHI", 0, 1, port ^ (MAGIC_COOKIE >> 16), raw)


class TurnClient:
    def __init__(self, host: str, port: int) -> None:
        self.server = (host, port)
        self.sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        #: Long-term credential state of the last successful allocation, for later requests.
        self._auth: list[tuple[int, bytes]] = []
        self._key = b""

    async def __aenter__(self) -> TurnClient:
        await self.sock.bind(("127.0.0.1", 0))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.sock.close()

    async def request(self, packet: bytes, timeout: float = 0.5) -> StunMessage:
        """Send and await the answer, retransmitting like RFC 5389 7.2.1 (RTO doubling from
        ``timeout``, 5 tries): UDP may drop, and a busy CI machine may answer late."""
        transaction = packet[8:20]
        for attempt in range(5):
            await self.sock.sendto(packet, self.server)
            with trio.move_on_after(timeout * 2**attempt):
                while True:
                    data, _addr = await self.sock.recvfrom(4096)
                    message = decode(data)
                    if message.transaction == transaction:
                        return message
        raise TimeoutError(f"no STUN answer from {self.server} after 5 tries")

    async def binding(self, timeout: float = 0.5) -> bool:
        reply = await self.request(encode(BINDING_REQUEST, os.urandom(12), []), timeout)
        return reply.kind == BINDING_SUCCESS

    async def allocate(self, username: str, password: str) -> AllocateResult:
        transport = [(ATTR_REQUESTED_TRANSPORT, bytes([UDP_PROTOCOL, 0, 0, 0]))]
        first = await self.request(encode(ALLOCATE_REQUEST, os.urandom(12), transport))
        if first.kind == ALLOCATE_SUCCESS:  # pragma: no cover - a server without auth
            return AllocateResult(True, None, None)
        realm, nonce = first.attr(ATTR_REALM), first.attr(ATTR_NONCE)
        if first.error_code != 401 or realm is None or nonce is None:
            return AllocateResult(False, first.error_code, None)
        key = hashlib.md5(f"{username}:{realm.decode()}:{password}".encode()).digest()
        attrs = [*transport, (ATTR_USERNAME, username.encode()), (ATTR_REALM, realm),
                 (ATTR_NONCE, nonce)]
        reply = await self.request(encode(ALLOCATE_REQUEST, os.urandom(12), attrs, key))
        if reply.kind != ALLOCATE_SUCCESS:
            return AllocateResult(False, reply.error_code, None)
        self._auth, self._key = attrs[1:], key
        relayed = reply.attr(ATTR_XOR_RELAYED_ADDRESS)
        return AllocateResult(True, None, _xor_address(relayed) if relayed else None)

    async def create_permission(self, peer_ip: str) -> int | None:
        """Ask to let ``peer_ip`` send to our relayed address: None if granted, else the STUN
        error code (403 for peers the server's policy denies)."""
        attrs = [(ATTR_XOR_PEER_ADDRESS, _xor_peer(peer_ip, 9)), *self._auth]
        reply = await self.request(
            encode(CREATE_PERMISSION_REQUEST, os.urandom(12), attrs, self._key))
        return None if reply.kind == CREATE_PERMISSION_SUCCESS else reply.error_code
