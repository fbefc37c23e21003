"""Fuzzers for every decoder that reads bytes from another party: params frames and ctl
messages (the peer), signaling frames (the relay's input), control lines (a child's stdout) and
avatar pack zips (the peer). Only each decoder's own error may come out, and no input may take
long (CPU time per input, so a loaded machine does not fake a blow-up)."""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from avatars import PackError, install_pack_bytes, load_pack, pack_bytes
from protocol import DecodeError, ParamFrame
from protocol.commands import Smoothing, parse_command
from protocol.ctl import Chat, Hello, Ping, parse_ctl
from protocol.events import ChatReceived, Stats, parse_event
from protocol.frame import Emotion
from protocol.signaling import Join, Offer, parse_signal

from .base import AttackResult, attack

#: A decode takes tens of microseconds; milliseconds would mean quadratic work or a blow-up.
MAX_CPU_NS_PER_INPUT = 5_000_000
#: Bytes that make CBOR and JSON parsers work hardest (huge lengths, indefinite items, tags).
NASTY_BYTES = [0x5B, 0x9F, 0xBF, 0xC6, 0xFF, 0x7B, 0x9B, 0xBB, 0xF9, 0xFB, 0x22, 0x5C, 0x7B]


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One to six random edits: bit flips, random bytes, truncation, nasty header bytes,
    duplicated slices, appended garbage."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(6)
        if op == 0 and buf:
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif op == 2 and buf:
            del buf[rng.randrange(len(buf)) :]
        elif op == 3:
            buf.insert(rng.randrange(len(buf) + 1), rng.choice(NASTY_BYTES))
        elif op == 4 and buf:
            i = rng.randrange(len(buf))
            buf[i:i] = buf[i : i + rng.randint(1, 16)]
        else:
            buf += rng.randbytes(rng.randint(1, 8))
    return bytes(buf)


def frame_seeds() -> list[bytes]:
    return [
        ParamFrame(
            seq=7,
            timestamp_us=123_456,
            head_rotation=(0.1, -0.2, 0.3),
            blendshapes=bytes(range(52)),
            emotion=Emotion(1),
            emotion_weight=0.5,
        ).encode(),
        ParamFrame(seq=0, timestamp_us=0).encode(),
        Hello(name="Ana", avatar_id="fox", avatar_version="1", avatar_hash="ab" * 32).encode(),
        Ping(1, 2).encode(),
        Chat(3, "hello, 안녕").encode(),
    ]


def text_seeds() -> list[bytes]:
    return [
        Join(room="r" * 22).to_json().encode(),
        Offer(sdp="v=0\r\n", gen=1).to_json().encode(),
        ChatReceived(text="hi\x1b[2J", sender="x", msg_id=1).encode().encode(),
        Stats(t=1.0, values={"fps": 30.0, "e2e_ms": {"p50": 40.0}}).encode().encode(),
        Smoothing(enabled=True, amount=0.5, groups={}).encode().encode(),
    ]


@dataclass(slots=True)
class FuzzOutcome:
    inputs: int = 0
    refused: int = 0
    accepted: int = 0
    worst_cpu_ns: int = 0
    escaped: list[str] = field(default_factory=list)


def fuzz(
    decoders: list[tuple[Callable[[bytes], object], type[Exception]]],
    seeds: list[bytes],
    seconds: float,
    seed: int,
    outcome: FuzzOutcome,
) -> None:
    """Feed random and mutated inputs to each decoder for ``seconds``; anything but the
    decoder's own error type is an escape."""
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        i += 1
        data = rng.randbytes(rng.randint(0, 200)) if i % 4 == 0 else mutate(rng, rng.choice(seeds))
        decode, allowed = decoders[i % len(decoders)]
        start = time.thread_time_ns()
        try:
            decode(data)
            outcome.accepted += 1
        except allowed:
            outcome.refused += 1
        except Exception as e:  # the finding: a decoder let something else out
            if len(outcome.escaped) < 5:
                outcome.escaped.append(f"{getattr(decode, '__name__', decode)}: {e!r}"[:200])
        outcome.worst_cpu_ns = max(outcome.worst_cpu_ns, time.thread_time_ns() - start)
        outcome.inputs += 1


def _pack_decoder(cache: Path) -> tuple[Callable[[bytes], object], bytes]:
    pack = load_pack("aria")
    data = pack_bytes(pack)

    def install(blob: bytes) -> object:
        return install_pack_bytes(blob, cache, pack.content_hash)

    return install, data


#: Installing a pack hashes and checks every file: allow more than a frame decode.
MAX_CPU_NS_PER_PACK = 500_000_000


@attack("fuzz_decoders")
async def fuzz_decoders(seconds: float) -> AttackResult:
    """Frames, ctl, signaling, control lines and pack zips, a share of ``seconds`` each."""
    wire = FuzzOutcome()
    packs = FuzzOutcome()
    share = seconds / 3
    fuzz(
        [(ParamFrame.decode, DecodeError), (parse_ctl, DecodeError)], frame_seeds(), share, 1, wire
    )
    fuzz(
        [(parse_signal, DecodeError), (parse_event, DecodeError), (parse_command, DecodeError)],
        text_seeds(),
        share,
        2,
        wire,
    )
    with tempfile.TemporaryDirectory(prefix="avatarchat-fuzz-") as tmp:
        install, data = _pack_decoder(Path(tmp))
        fuzz([(install, PackError)], [data], share, 3, packs)
    escaped = wire.escaped + packs.escaped
    held = (
        not escaped
        and wire.worst_cpu_ns < MAX_CPU_NS_PER_INPUT
        and packs.worst_cpu_ns < MAX_CPU_NS_PER_PACK
    )
    return AttackResult(
        "fuzz_decoders",
        held,
        f"{wire.inputs + packs.inputs} inputs, only typed errors"
        if not escaped
        else "escaped: " + "; ".join(escaped),
        {
            "inputs": wire.inputs + packs.inputs,
            "refused": wire.refused + packs.refused,
            "accepted": wire.accepted + packs.accepted,
            "worst_cpu_ms": round(wire.worst_cpu_ns / 1e6, 2),
            "worst_pack_cpu_ms": round(packs.worst_cpu_ns / 1e6, 1),
        },
    )
