"""A hostile peer against a real ``avatarchat call`` (issue 15, defects 1, 4 and 12).

The victim is the CLI, run as a user runs it (its stdout is the user's terminal). The attacker
is an aiortc client that joins the victim's room through a real relay, negotiates like a real
client, then: sends a display name and chat built to drive a terminal (OSC 52, screen clear,
a forged status line, bidi override), floods params at ten times the normal rate, sends ctl
garbage, and asks for the victim's avatar pack hundreds of times. The victim held if its
terminal output carries no control characters, it stayed connected, counted what it dropped,
and sent its pack at most a few times.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from websockets.asyncio.client import connect

from peer.ctl_handler import MAX_PACK_TRANSFERS_PER_MINUTE
from protocol import ctl
from protocol.frame import ParamFrame
from protocol.signaling import ROOM_ENV, Answer, Join, Offer, new_room_code, parse_signal

from .base import AttackResult, attack
from .target import relay_process

#: What must never reach a terminal from a peer: C0 (but newline), DEL, C1 and bidi controls.
TERMINAL_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
EVIL_NAME = "\x1b]0;pwned\x07\u202eeviL"
EVIL_CHAT = "\x1b]52;c;ZXZpbA==\x07\x1b[2J\rconnected ... SAS 000 000\x9b31m"
FLOOD_HZ = 300


async def _negotiate(relay_url: str, room: str, pc: RTCPeerConnection) -> Any:
    ws = await connect(f"{relay_url}/ws?room={room}", compression=None)
    await ws.send(Join(room=room).to_json())
    joined = json.loads(await asyncio.wait_for(ws.recv(), 10))
    if joined.get("type") != "joined" or not joined.get("peer_present"):
        raise RuntimeError(f"the victim is not in the room: {joined}")
    await pc.setLocalDescription(await pc.createOffer())
    await ws.send(Offer(sdp=pc.localDescription.sdp, gen=1).to_json())
    answer: Any = None
    async with asyncio.timeout(20):
        while not isinstance(answer, Answer):
            answer = parse_signal(await ws.recv())
    await pc.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
    return ws


@attack("peer_hostile_client")
async def hostile_client(seconds: float) -> AttackResult:
    seconds = max(seconds, 3.0)
    room = new_room_code()
    async with relay_process() as relay:
        with tempfile.TemporaryDirectory(prefix="avatarchat-victim-") as tmp:
            stats_path = Path(tmp) / "stats.json"
            victim = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cli",
                "call",
                "--relay",
                relay.url,
                "--source",
                "synthetic",
                "--name",
                "victim",
                "--duration",
                str(seconds + 12),
                "--stats-json",
                str(stats_path),
                env={**os.environ, ROOM_ENV: room},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            assert victim.stdout is not None
            output = bytearray()

            async def read_victim() -> None:
                assert victim.stdout is not None
                while chunk := await victim.stdout.read(65536):
                    output.extend(chunk)

            async with asyncio.TaskGroup() as tg:
                tg.create_task(read_victim())
                figures = await _attack_victim(relay.url, room, seconds, output)
                await victim.wait()
            text = output.decode("utf-8", errors="replace")
            stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    peer_stats = stats.get("latest", {})
    leaked = sorted({repr(m) for m in TERMINAL_CONTROL.findall(text)})
    checks = {
        "chat_shown": "SAS 000 000" in text,  # the text was printed (escaped), not lost
        "terminal_clean": not leaked,
        "victim_exit_0": victim.returncode == 0,
        "stayed_connected": figures["connected_after"],
        "throttled_counted": int(peer_stats.get("throttled_frames", 0)) > 0,
        "garbage_counted": int(peer_stats.get("bad_ctl", 0)) > 0,
        "pack_transfers_capped": figures["pack_chunks"]
        <= MAX_PACK_TRANSFERS_PER_MINUTE * max(figures["pack_total"], 1),
    }
    broken = [k for k, ok in checks.items() if not ok]
    return AttackResult(
        "peer_hostile_client",
        not broken,
        "victim held" if not broken else f"failed: {', '.join(broken)} {leaked[:5]}",
        {
            **figures,
            "throttled": peer_stats.get("throttled_frames"),
            "bad_ctl": peer_stats.get("bad_ctl"),
            "avatar_requests_refused": peer_stats.get("avatar_requests_refused"),
        },
    )


async def _attack_victim(
    relay_url: str, room: str, seconds: float, output: bytearray
) -> dict[str, Any]:
    """Wait for the victim to be in the room, connect to it and attack; returns figures."""
    async with asyncio.timeout(60):
        while b"waiting" not in output and b"signaling" not in output:
            await asyncio.sleep(0.1)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    params = pc.createDataChannel("params", ordered=False, maxRetransmits=0, negotiated=True, id=0)
    ctl_ch = pc.createDataChannel("ctl", negotiated=True, id=1)
    hellos: list[ctl.Hello] = []
    chunks: list[ctl.AvatarChunk] = []

    def on_ctl(data: bytes) -> None:
        try:
            message = ctl.parse_ctl(data)
        except Exception:
            return
        if isinstance(message, ctl.Hello):
            hellos.append(message)
        elif isinstance(message, ctl.AvatarChunk):
            chunks.append(message)
        elif isinstance(message, ctl.Ping):
            now = time.monotonic_ns() // 1000
            ctl_ch.send(
                ctl.Pong(seq=message.seq, t1_us=message.t1_us, t2_us=now, t3_us=now).encode()
            )

    ctl_ch.on("message", on_ctl)
    opened = asyncio.Event()
    ctl_ch.on("open", opened.set)
    ws = await _negotiate(relay_url, room, pc)
    try:
        await asyncio.wait_for(opened.wait(), 20)
        ctl_ch.send(ctl.Hello(name=EVIL_NAME, avatar_id="fox\x1b[2J").encode())
        for i in range(3):
            ctl_ch.send(ctl.Chat(msg_id=i, text=EVIL_CHAT).encode())
        ctl_ch.send(b"\x00\x01not cbor")
        async with asyncio.timeout(10):
            while not hellos:
                await asyncio.sleep(0.05)
        wanted = hellos[0].avatar_hash
        seq, start = 1, time.monotonic()
        requests = 0
        while (elapsed := time.monotonic() - start) < seconds:
            while seq < elapsed * FLOOD_HZ:
                seq += 1
                params.send(ParamFrame(seq=seq, timestamp_us=time.monotonic_ns() // 1000).encode())
            if wanted and requests < 600:
                for _ in range(10):
                    ctl_ch.send(ctl.AvatarRequest(hash=wanted).encode())
                    requests += 1
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.5)
        connected = pc.connectionState == "connected" and ctl_ch.readyState == "open"
        return {
            "params_sent": seq,
            "avatar_requests": requests,
            "pack_chunks": len(chunks),
            "pack_total": max((c.total for c in chunks), default=0),
            "connected_after": connected,
        }
    finally:
        await ws.close()
        await pc.close()
