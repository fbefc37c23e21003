"""Hostile peers against a real ``avatarchat call`` (issue 15, defects 1, 4, 5 and 12).

``peer_hostile_client``: a display name and chat built to drive a terminal (OSC 52, screen
clear, a forged status line, bidi override), params at ten times the normal rate, ctl garbage,
and hundreds of requests for the victim's own pack. ``peer_pack_push``: one new avatar pack
after another, each served when asked for, one of them padded with a file its manifest does
not name. The victim held if its terminal shows no control characters, it stayed connected,
counted what it refused, kept its downloads within the per-call caps and left nothing on disk.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from avatars import load_pack, pack_bytes
from avatars.pack import builtin_dir
from avatars.transfer import zip_source
from peer.ctl_handler import MAX_PACK_TRANSFERS_PER_MINUTE
from peer.pack_inbox import MAX_RECEIVED_PACKS_PER_CALL
from protocol import ctl
from protocol.frame import ParamFrame
from protocol.signaling import new_room_code

from .base import AttackResult, attack
from .hostile_peer import HostilePeer
from .target import relay_process
from .victim import victim_call

#: What must never reach a terminal from a peer: C0 (but newline), DEL, C1 and bidi controls.
TERMINAL_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
EVIL_NAME = "\x1b]0;pwned\x07\u202eeviL"
EVIL_CHAT = "\x1b]52;c;ZXZpbA==\x07\x1b[2J\rconnected ... SAS 000 000\x9b31m"
FLOOD_HZ = 300
#: How ``avatarchat call`` ends when its duration is up (0) or the user hangs up (130).
HANG_UP_CODES = (0, 130)
#: Seconds the victim needs beyond the attack: start-up (tracker), negotiation, a last report.
VICTIM_SLACK_S = 15.0


def _result(
    name: str, checks: dict[str, bool], figures: dict[str, Any], extra: str = ""
) -> AttackResult:
    broken = [k for k, ok in checks.items() if not ok]
    detail = "victim held" if not broken else f"failed: {', '.join(broken)} {extra}".strip()
    return AttackResult(name, not broken, detail, figures)


@attack("peer_hostile_client")
async def hostile_client(seconds: float) -> AttackResult:
    seconds = max(seconds, 3.0)
    room = new_room_code()
    async with (
        relay_process() as relay,
        victim_call(relay.url, room, seconds + VICTIM_SLACK_S) as victim,
    ):
        await victim.wait_in_room()
        async with HostilePeer(relay.url, room) as peer:
            peer.ctl.send(ctl.Hello(name=EVIL_NAME, avatar_id="fox\x1b[2J").encode())
            for i in range(3):
                peer.ctl.send(ctl.Chat(msg_id=i, text=EVIL_CHAT).encode())
            peer.ctl.send(b"\x00\x01not cbor")
            wanted = (await peer.wait_hello()).avatar_hash
            seq, requests, start = 1, 0, time.monotonic()
            while (elapsed := time.monotonic() - start) < seconds:
                while seq < elapsed * FLOOD_HZ:
                    seq += 1
                    frame = ParamFrame(seq=seq, timestamp_us=time.monotonic_ns() // 1000)
                    peer.params.send(frame.encode())
                if wanted and requests < 600:
                    for _ in range(10):
                        peer.ctl.send(ctl.AvatarRequest(hash=wanted).encode())
                        requests += 1
                await asyncio.sleep(0.01)
            await asyncio.sleep(1.5)
            connected = peer.connected
            chunks_to_us = len(peer.chunks)
            pack_total = max((c.total for c in peer.chunks), default=1)
    stats, text = victim.stats, victim.text
    leaked = sorted({repr(m) for m in TERMINAL_CONTROL.findall(text)})
    checks = {
        "chat_shown": "SAS 000 000" in text,  # the text was printed (escaped), not lost
        "terminal_clean": not leaked,
        "victim_ended_cleanly": victim.returncode in HANG_UP_CODES,
        "stayed_connected": connected,
        "throttled_counted": int(stats.get("throttled_frames") or 0) > 0,
        "garbage_counted": int(stats.get("bad_ctl") or 0) > 0,
        "pack_transfers_capped": chunks_to_us <= MAX_PACK_TRANSFERS_PER_MINUTE * pack_total,
    }
    figures = {
        "params_sent": seq,
        "avatar_requests": requests,
        "pack_chunks_sent_to_us": chunks_to_us,
        "throttled": stats.get("throttled_frames"),
        "bad_ctl": stats.get("bad_ctl"),
        "avatar_requests_refused": stats.get("avatar_requests_refused"),
    }
    return _result("peer_hostile_client", checks, figures, str(leaked[:5]))


def _pushed_packs(base: Path, count: int) -> list[tuple[str, bytes]]:
    """``count`` distinct packs (a built-in under new names); the last one also carries a
    megabyte its manifest never names, under its true content hash."""
    out: list[tuple[str, bytes]] = []
    for i in range(count):
        root = base / f"push{i}"
        shutil.copytree(builtin_dir() / "aria", root)
        manifest = root / "avatar.toml"
        manifest.write_text(manifest.read_text().replace('name = "Aria"', f'name = "Push {i}"', 1))
        pack = load_pack(root)
        out.append((pack.content_hash, pack_bytes(pack)))
    return out


def _padded_pack(base: Path) -> tuple[str, bytes]:
    """A valid pack plus an unreferenced 1 MB file, announced under its real content hash."""
    from avatars.source import content_hash, read_dir

    root = base / "padded"
    shutil.copytree(builtin_dir() / "aria", root)
    (root / "junk.bin").write_bytes(bytes(1 << 20))
    src = read_dir(root)
    return content_hash(src.files.items()), zip_source(src.files)


def pack_chunks(digest: str, data: bytes) -> list[bytes]:
    """A pack as the encoded ``AvatarChunk`` messages a peer sends for it."""
    step = ctl.AVATAR_CHUNK_BYTES
    total = max(1, -(-len(data) // step))
    return [
        ctl.AvatarChunk(
            hash=digest, index=i, total=total, size=len(data), data=data[i * step : (i + 1) * step]
        ).encode()
        for i in range(total)
    ]


@attack("peer_pack_push")
async def pack_push(seconds: float) -> AttackResult:
    cap = MAX_RECEIVED_PACKS_PER_CALL
    room = new_room_code()
    with tempfile.TemporaryDirectory(prefix="avatarchat-push-") as tmp:
        padded = _padded_pack(Path(tmp))
        packs = [padded, *_pushed_packs(Path(tmp), cap + 2)]
    by_hash = dict(packs)
    async with relay_process() as relay:
        async with victim_call(relay.url, room, max(seconds, 3.0) + VICTIM_SLACK_S) as victim:
            await victim.wait_in_room()
            async with HostilePeer(relay.url, room) as peer:

                def serve(request: ctl.AvatarRequest) -> None:
                    for chunk in pack_chunks(request.hash, by_hash.get(request.hash, b"")):
                        peer.ctl.send(chunk)

                peer.on_request = serve
                peer.ctl.send(ctl.Hello(name="pusher", avatar_id="fox").encode())
                for i, (digest, _data) in enumerate(packs):
                    switch = ctl.AvatarSwitch(avatar_id=f"push{i}", avatar_hash=digest)
                    peer.ctl.send(switch.encode())
                    await asyncio.sleep(max(seconds, 3.0) / len(packs))
                await asyncio.sleep(1.5)
                on_disk_during = len(victim.packs_on_disk())
                connected = peer.connected
        requested = len({r.hash for r in peer.requests})
    stats = victim.stats
    checks = {
        "downloads_capped": requested <= cap,
        "refusals_counted": int(stats.get("avatar_transfers_refused") or 0) >= 1,
        "padded_pack_not_installed": not (
            victim.cache.exists()
            and any(p.parent.name == padded[0] for p in victim.packs_on_disk())
        ),
        "stayed_connected": connected,
        "nothing_left_on_disk": not victim.packs_on_disk(),
        "victim_ended_cleanly": victim.returncode in HANG_UP_CODES,
    }
    figures = {
        "packs_offered": len(packs),
        "packs_requested": requested,
        "on_disk_during_call": on_disk_during,
        "refused": stats.get("avatar_transfers_refused"),
        "bytes_received": stats.get("avatar_bytes_received"),
    }
    return _result("peer_pack_push", checks, figures)
