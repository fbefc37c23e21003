"""Writer/reader processes for the ring tests and the protocol benchmark.

    python ring_worker.py write NAME HZ SECONDS
    python ring_worker.py read NAME SECONDS [--wake]

Payloads are self-checking: ``u64 n, u64 written_ns`` followed by ``(n + i) & 0xFF`` bytes with
a length that depends on ``n`` (up to the 224 bytes a 256-byte slot holds), and the slot's capture
time is :func:`capture_for` ``(n)``, so any torn or mixed slot is detected. The reader prints one
JSON summary line.
"""

from __future__ import annotations

import json
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from protocol.ring import ShmRing

HEAD = struct.Struct("<QQ")


def payload_for(n: int, now_ns: int) -> bytes:
    length = 16 + (n * 37) % 192
    return HEAD.pack(n, now_ns) + bytes((n + i) & 0xFF for i in range(length))


def capture_for(n: int) -> int:
    """The capture time written with payload ``n`` (distinct per slot, never 0)."""
    return 1_000_000_007 * (n + 1)


def check(payload: bytes, capture_ns: int | None = None) -> int:
    n, _ = HEAD.unpack_from(payload)
    body = payload[HEAD.size :]
    if len(body) != 16 + (n * 37) % 192 or body != bytes((n + i) & 0xFF for i in range(len(body))):
        raise AssertionError(f"torn payload for n={n}")
    if capture_ns is not None and capture_ns != capture_for(n):
        raise AssertionError(f"capture time {capture_ns} does not belong to n={n}")
    return int(n)


def write(name: str, hz: float, seconds: float) -> None:
    ring = ShmRing.attach(name)
    writer = ring.writer()
    print(json.dumps({"ready": True}), flush=True)
    period = 1.0 / hz
    start = time.monotonic()
    n = 0
    next_at = start
    while time.monotonic() - start < seconds:
        writer.write(payload_for(n, time.monotonic_ns()), capture_for(n))
        n += 1
        next_at += period
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    writer.close()
    print(json.dumps({"written": n}), flush=True)


def read(name: str, seconds: float, wake: bool) -> None:
    ring = ShmRing.attach(name)
    reader = ring.reader(wake=wake)
    print(json.dumps({"ready": True}), flush=True)
    reads = torn = stale = 0
    latencies: list[int] = []
    last = -1
    deadline = time.monotonic() + seconds
    # Run until the writer has closed and everything it wrote was seen (or the deadline passes):
    # on a loaded machine the writer may start late, so a fixed duration would miss its end.
    while time.monotonic() < deadline:
        if ring.writer_closed and ring.write_count - 1 == last:
            break
        if wake:
            reader.wait(0.05)
        count_before = ring.write_count
        record = reader.read_latest()
        if record is None:
            if not wake:
                time.sleep(0.0002)
            continue
        now = time.monotonic_ns()
        try:
            n = check(record.payload, record.capture_ns)
        except AssertionError:
            torn += 1
            continue
        if n != record.number or n <= last:
            torn += 1
        if record.number < count_before - 1:  # a newer complete slot existed when we started
            stale += 1
        last = n
        reads += 1
        latencies.append(now - HEAD.unpack_from(record.payload)[1])
    latencies.sort()
    result = {
        "reads": reads,
        "torn": torn,
        "stale": stale,
        "reader_torn_retries": reader.torn_reads,
        "last": last,
        "latency_ns": latencies,
    }
    reader.close()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "write":
        write(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
    else:
        read(sys.argv[2], float(sys.argv[3]), "--wake" in sys.argv)
