#!/usr/bin/env python3
"""Protocol benchmark: frame size, encode/decode time, ring write->read latency across processes.

    scripts/bench_protocol.py --json OUT [--frames N] [--ring-writes N] [--ring-hz HZ]

Ring latency is measured from the writer's timestamp (CLOCK_MONOTONIC, shared by all processes
on a host) to the moment a *separate reader process*, woken by the ring's wake-up socket, has
copied and CRC-checked the slot.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from protocol import NUM_BLENDSHAPES, Emotion, FrameFlags, ParamFrame, ShmRing
from protocol.stats import percentile, rounded


def full_frame(seq: int = 123_456) -> ParamFrame:
    """A full frame as the issue defines it: all 52 blendshapes non-zero, pose, flags."""
    return ParamFrame.from_weights(
        seq,
        time.monotonic_ns() // 1000,
        [0.05 + 0.9 * i / NUM_BLENDSHAPES for i in range(NUM_BLENDSHAPES)],
        flags=FrameFlags.FACE_PRESENT | FrameFlags.CALIBRATED,
        head_rotation=(0.12, -0.31, 0.05),
        head_translation=(1.2, -3.4, -45.0),
        emotion=Emotion.HAPPY,
        emotion_weight=0.6,
    )


def time_codec(frames: int) -> tuple[int, list[float], list[float]]:
    frame = full_frame()
    data = frame.encode()
    enc: list[float] = []
    dec: list[float] = []
    for _ in range(frames):
        t0 = time.perf_counter_ns()
        frame.encode()
        t1 = time.perf_counter_ns()
        ParamFrame.decode(data)
        t2 = time.perf_counter_ns()
        enc.append((t1 - t0) / 1000)
        dec.append((t2 - t1) / 1000)
    return len(data), enc, dec


def reader_main(name: str, expected: int) -> None:
    ring = ShmRing.attach(name)
    reader = ring.reader(wake=True)
    print("ready", flush=True)
    latencies: list[float] = []
    deadline = time.monotonic() + 120
    while len(latencies) < expected and time.monotonic() < deadline:
        if not reader.wait(2.0):
            break
        record = reader.read_latest()
        if record is not None:
            ParamFrame.decode(record.payload)
            latencies.append((time.monotonic_ns() - record.written_ns) / 1000)
    reader.close()
    print(json.dumps(latencies), flush=True)


def time_ring(writes: int, hz: float) -> list[float]:
    with ShmRing.create("bench") as ring:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--reader", ring.name, str(writes)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        writer = ring.writer()
        period = 1.0 / hz
        next_at = time.monotonic()
        for seq in range(writes):
            writer.write(full_frame(seq).encode())
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        writer.close()
        out, _ = proc.communicate(timeout=60)
        return list(json.loads(out.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="OUT", help="write the figures as JSON here")
    parser.add_argument("--frames", type=int, default=50_000, help="codec iterations")
    parser.add_argument("--ring-writes", type=int, default=3000, help="frames through the ring")
    parser.add_argument("--ring-hz", type=float, default=500.0, help="ring write rate")
    parser.add_argument("--reader", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reader:
        reader_main(args.reader[0], int(args.reader[1]))
        return 0

    frame_bytes, enc, dec = time_codec(args.frames)
    ring = time_ring(args.ring_writes, args.ring_hz)
    figures = {
        "frame_bytes": frame_bytes,
        "encode_us_p50": rounded(percentile(enc, 50), 2),
        "encode_us_p99": rounded(percentile(enc, 99), 2),
        "decode_us_p50": rounded(percentile(dec, 50), 2),
        "decode_us_p99": rounded(percentile(dec, 99), 2),
        "ring_latency_us_p50": rounded(percentile(ring, 50), 1),
        "ring_latency_us_p99": rounded(percentile(ring, 99), 1),
        "ring_reads": len(ring),
        "ring_writes": args.ring_writes,
    }
    targets = {"frame_bytes": "<= 128"}
    print(f"{'figure':<22} {'value':>10}  target")
    for key, value in figures.items():
        print(f"{key:<22} {value:>10}  {targets.get(key, '')}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
