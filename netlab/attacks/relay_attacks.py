"""Attacks on the signaling relay (issue 15, defects 3, 6, 7, 8, 9, 12), each against a fresh
relay process with a bystander call running through it."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from protocol.signaling import new_room_code

from .base import AttackResult, attack
from .target import RelayProcess, bystander, open_client, recv_type, relay_alive, relay_process
from .wsraw import OP_CONT, OP_PING, OP_TEXT, RawSocket, client_frame, close_code, open_raw


def join_frame(room: str, **override: Any) -> bytes:
    fields: dict[str, Any] = {"v": 1, "type": "join", "room": room, "client": "attack/0"}
    fields.update(override)
    return client_frame(json.dumps(fields).encode(), OP_TEXT)


async def flood(sock: RawSocket, chunk: bytes, seconds: float) -> tuple[int, float | None, bytes]:
    """Send ``chunk`` until the relay hangs up or ``seconds`` pass: (chunks sent, seconds
    until the relay cut us off or None, every byte the relay sent)."""
    start = time.monotonic()
    reading = asyncio.ensure_future(sock.read_all(seconds + 5))
    sent = 0
    try:
        while time.monotonic() - start < seconds and not reading.done():
            await sock.send(chunk)
            sent += 1
    except (ConnectionError, OSError):
        pass
    data = await reading
    cut = time.monotonic() - start
    sock.close()
    return sent, (round(cut, 2) if cut < seconds + 5 else None), data


async def _frame_flood(name: str, seconds: float, opening: bytes, chunk: bytes) -> AttackResult:
    async with relay_process() as relay, bystander(relay) as by:
        room = new_room_code()
        sock = await open_raw(relay.port, f"/ws?room={room}")
        await sock.send(join_frame(room) + opening)
        sent, cut_after, data = await flood(sock, chunk, seconds)
        await asyncio.sleep(0.5)  # the bystander keeps going a moment after the cut
        code = close_code(data)
        held = cut_after is not None and by.ok() and relay_alive(relay)
        return AttackResult(
            name,
            held,
            f"cut off after {cut_after}s (close {code})"
            if cut_after is not None
            else "never cut off",
            {"chunks_sent": sent, "close_code": code, **by.figures()},
        )


@attack("relay_continuation_flood")
async def continuation_flood(seconds: float) -> AttackResult:
    """A text message whose empty continuation frames never end (defect 3)."""
    chunk = client_frame(b"", OP_CONT, fin=False) * 64
    opening = client_frame(b'{"v": 1, ', OP_TEXT, fin=False)
    return await _frame_flood("relay_continuation_flood", seconds, opening, chunk)


@attack("relay_ping_flood")
async def ping_flood(seconds: float) -> AttackResult:
    """WebSocket PINGs as fast as the socket takes them (defect 3)."""
    chunk = client_frame(b"p", OP_PING) * 64
    return await _frame_flood("relay_ping_flood", seconds, b"", chunk)


@attack("relay_room_flood")
async def room_flood(seconds: float) -> AttackResult:
    """One address creating rooms as fast as it can (defect 6)."""
    async with relay_process() as relay, bystander(relay) as by:
        lines_before = relay.log_text().count("\n")
        created = refused = 0
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            room = new_room_code()
            try:
                async with connect(relay.ws_url(room), compression=None, open_timeout=5) as ws:
                    await ws.send(json.dumps({"v": 1, "type": "join", "room": room}))
                    reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if reply.get("type") == "joined":
                    created += 1
                else:
                    refused += 1
            except (InvalidStatus, ConnectionClosed):
                refused += 1
        elapsed = time.monotonic() - start
        log_lines = relay.log_text().count("\n") - lines_before
        held = refused > 0 and by.ok() and relay_alive(relay)
        return AttackResult(
            "relay_room_flood",
            held,
            f"{created} rooms made, {refused} refused in {elapsed:.1f}s",
            {
                "rooms_per_s": round(created / elapsed, 1),
                "refused": refused,
                "log_lines": log_lines,
                **by.figures(),
            },
        )


@attack("relay_connection_flood")
async def connection_flood(seconds: float) -> AttackResult:
    """Hundreds of sockets from one address that never join (defect 6)."""
    async with (
        relay_process("--handshake-timeout", str(max(seconds, 1.0))) as relay,
        bystander(relay) as by,
    ):
        socks: list[RawSocket] = []
        statuses: dict[int, int] = {}
        for _ in range(300):
            try:
                sock = await open_raw(relay.port, f"/ws?room={new_room_code()}")
            except (ConnectionError, OSError, TimeoutError):
                statuses[0] = statuses.get(0, 0) + 1
                continue
            statuses[sock.status] = statuses.get(sock.status, 0) + 1
            socks.append(sock)
        await asyncio.sleep(min(seconds, 1.0))
        for sock in socks:
            sock.close()
        held = statuses.get(429, 0) > 0 and statuses.get(101, 0) <= 64 and by.ok()
        return AttackResult(
            "relay_connection_flood",
            held and relay_alive(relay),
            f"HTTP statuses {dict(sorted(statuses.items()))}",
            {"accepted": statuses.get(101, 0), "refused_429": statuses.get(429, 0), **by.figures()},
        )


async def _pair(relay: RelayProcess) -> tuple[str, ClientConnection, ClientConnection]:
    room = new_room_code()
    a = await open_client(relay, room)
    b = await open_client(relay, room)
    await recv_type(a, "peer_joined")
    return room, a, b


async def _still_connected(ws: ClientConnection) -> bool:
    try:
        await ws.send(json.dumps({"v": 1, "type": "ping"}))
        return (await recv_type(ws, "pong", 3)).get("type") == "pong"
    except (ConnectionClosed, TimeoutError):
        return False


@attack("relay_hostile_messages")
async def hostile_messages(seconds: float) -> AttackResult:
    """A 5,000-digit integer, a lone surrogate in a bye reason, a forged log line, version
    ``true``/``1.0`` and 30 KB of unknown fields (defects 7, 9, 12)."""
    del seconds  # one round of each is the attack
    findings: dict[str, bool] = {}
    async with relay_process() as relay, bystander(relay) as by:
        room, a, b = await _pair(relay)
        await a.send(
            '{"v": 1, "type": "ice", "candidate": "x", "sdp_mline_index": ' + "9" * 5000 + "}"
        )
        reply = await recv_type(a, "error")
        findings["huge_int_is_bad_message"] = reply.get("code") == "bad_message"
        junk = {"v": 1, "type": "offer", "sdp": "v=0\r\n", "gen": 1, "junk": "j" * 30_000}
        await a.send(json.dumps(junk))
        offer = await recv_type(b, "offer")
        findings["unknown_fields_dropped"] = "junk" not in offer
        await a.send('{"v": 1, "type": "bye", "reason": "x\\n2026-12-01 FORGED relay line"}')
        await recv_type(b, "peer_left")
        await a.close()
        # b stays; c joins b's room and leaves with a reason no UTF-8 encoder takes.
        c = await open_client(relay, room)
        await c.send('{"v": 1, "type": "bye", "reason": "\\ud800"}')
        await asyncio.sleep(0.3)  # refused or forwarded as peer_left: either way b stays
        findings["lone_surrogate_keeps_peer"] = await _still_connected(b)
        for version in ("true", "1.0"):
            room = new_room_code()
            async with connect(relay.ws_url(room), compression=None) as ws:
                await ws.send(f'{{"v": {version}, "type": "join", "room": "{room}"}}')
                answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
            findings[f"version_{version}_refused"] = answer.get("type") == "error"
        await b.close()
        await c.close()
        log = relay.log_text()
        findings["no_forged_log_line"] = not any(
            line.startswith("2026-12-01 FORGED") for line in log.splitlines()
        )
        findings["no_tracebacks"] = "Traceback" not in log
        broken = [k for k, v in findings.items() if not v]
        return AttackResult(
            "relay_hostile_messages",
            not broken and by.ok() and relay_alive(relay),
            "all refused or escaped" if not broken else "failed: " + ", ".join(broken),
            {"checks": len(findings), **by.figures()},
        )
