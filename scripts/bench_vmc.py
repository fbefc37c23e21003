#!/usr/bin/env python3
"""Benchmark VMC out and in over real loopback UDP and real shared-memory rings.

Two phases, each running the code the product runs:

1. *In one process, per thread* (the CPU of the VMC code itself, ``time.thread_time``): a
   tracker stand-in writes synthetic frames (the real Tracker and CBOR) into a ring at the
   tracking rate (``--fps``, monotonic deadlines); ``peer.vmc_send``'s loop, woken by the ring,
   encodes and sends one OSC bundle per frame; the tracker's VMC source (``tracking.vmc_source``)
   reads them, and the frames go through the Tracker (no model, no smoothing) and CBOR into a
   second ring.
2. *As the real processes*: ``python -m peer.vmc_send`` on a ring this script writes at the
   tracking rate, sending to ``python -m tracking --source vmc:PORT``, which writes its ring; the
   in -> ring time is read from that ring's slots (the slot's write time minus the frame's
   capture time, which for VMC is the moment the datagram completing it was read). No thread
   of ours competes with them for an interpreter lock.

Figures (JSON with ``--json OUT``):

- ``vmc_send_hz``: bundles sent per second (target: the tracking rate, ``tracking_hz``), and
  ``vmc_received_hz``: frames the real tracker child wrote;
- ``vmc_bytes_per_frame``: one frame's bundle, bytes of UDP payload;
- ``vmc_in_to_ring_ms_p50``/``p99`` (phase 2; target p99 <= 2 ms): socket read to ring slot:
  parse, VMC state, Tracker, CBOR, ring write (``inproc_in_to_ring_ms_*``: the same in phase 1);
- ``cpu_pct_vmc`` (phase 1; target <= 3 % of one core): sender and receiver VMC code together,
  each alone as ``cpu_pct_vmc_send``/``_recv``. The receiver's share is its socket, parsing and
  VMC state; what every source pays after that (quantisation, CBOR, the ring write) is
  ``cpu_pct_tracker_pipeline``. Whole processes of phase 2, start-up excluded:
  ``cpu_pct_sender_process``, ``cpu_pct_vmc_tracker_process``.

    scripts/bench_vmc.py --seconds 10 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from peer.vmc_send import SendLoop, VmcSender
from protocol.channel import ChildChannel
from protocol.frame import ParamFrame
from protocol.ring import ShmRing
from protocol.stats import percentile, rounded
from tracking.pipeline import Tracker
from tracking.smoothing import SmoothingConfig
from tracking.sources import Pacer, SyntheticSource
from tracking.vmc_source import VmcSource

REPO = Path(__file__).resolve().parent.parent
#: The first frames include thread start-up and the first wake-ups: not steady.
WARMUP_FRAMES = 10


class Timed(threading.Thread):
    """A thread that records its own CPU time (``thread_time`` is per thread)."""

    def __init__(self, target: Any, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._fn = target
        self.cpu_s = 0.0

    def run(self) -> None:
        t0 = time.thread_time()
        try:
            self._fn()
        finally:
            self.cpu_s = time.thread_time() - t0


def produce(writer: Any, fps: float, seconds: float, stop: threading.Event) -> tuple[int, float]:
    """The tracker stand-in: synthetic frames into the ring at ``fps``; (frames, seconds)."""
    producer = Tracker(load_model=False, smoothing=SmoothingConfig(enabled=False))
    pacer = Pacer(fps)
    produced = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds and pacer.wait(stop):
        frame = producer.process_raw(SyntheticSource.params_at(produced / fps), time.monotonic_ns())
        writer.write(frame.encode(), frame.timestamp_us * 1000)
        produced += 1
    return produced, time.monotonic() - start


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # wait for "ready" (the tracker prints status lines too)
        if json.loads(line).get("event") == "ready":
            threading.Thread(target=lambda: proc.stdout and proc.stdout.read(), daemon=True).start()
            return proc
    raise SystemExit(f"{args[0]} did not start")


def cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def processes(seconds: float, fps: float) -> dict[str, Any]:
    """The real children: python -m peer.vmc_send on our ring, python -m tracking --source
    vmc:PORT writing its own; in -> ring from that ring's slots (capture = datagram read)."""
    port = free_udp_port()
    stop = threading.Event()
    gaps: list[float] = []
    with ShmRing.create("local") as local, ShmRing.create("remote") as incoming:
        receiver = spawn("tracking", "--source", f"vmc:{port}", "--ring", incoming.name)
        sender = spawn("peer.vmc_send", "--ring", local.name, "--to", f"127.0.0.1:{port}")
        procs = {"send": psutil.Process(sender.pid), "recv": psutil.Process(receiver.pid)}
        reader = incoming.reader(wake=True)
        frames_in = [0]

        def collect() -> None:
            while not stop.is_set():
                if not reader.wait(0.2):
                    continue
                record = reader.read_latest()
                if record is not None and ParamFrame.decode(record.payload).face_present:
                    frames_in[0] += 1
                    gaps.append((record.written_ns - record.capture_ns) / 1e6)

        collector = threading.Thread(target=collect, daemon=True)
        collector.start()
        writer = local.writer()
        produce(writer, fps, 1.0, stop)  # warm-up: caches, first wake-ups
        before = {k: cpu_s(p) for k, p in procs.items()}
        first = frames_in[0]
        produced, wall = produce(writer, fps, seconds, stop)
        after = {k: cpu_s(p) for k, p in procs.items()}
        received = frames_in[0] - first
        stop.set()
        collector.join(5)
        for proc in (sender, receiver):
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        writer.close()
        reader.close()
    steady = gaps[WARMUP_FRAMES:] or gaps
    return {
        "vmc_in_to_ring_ms_p50": rounded(percentile(steady, 50), 3),
        "vmc_in_to_ring_ms_p99": rounded(percentile(steady, 99), 3),
        "vmc_received_hz": round(received / wall, 2),
        "tracking_hz_processes": round(produced / wall, 2),
        "cpu_pct_sender_process": round(100 * (after["send"] - before["send"]) / wall, 2),
        "cpu_pct_vmc_tracker_process": round(100 * (after["recv"] - before["recv"]) / wall, 2),
    }


def bench(seconds: float, fps: float) -> dict[str, Any]:
    stop = threading.Event()
    latencies: list[float] = []
    with ShmRing.create("local") as local, ShmRing.create("remote") as incoming:
        source = VmcSource("127.0.0.1", 0, idle_s=0.5)
        source.open()
        sender = VmcSender(*source.address)
        reader = local.reader(wake=True)
        send_loop = SendLoop(reader, sender, ChildChannel(quiet=True), stop)

        pipeline_cpu = [0.0]

        def receive() -> None:
            tracker = Tracker(load_model=False, smoothing=SmoothingConfig(enabled=False))
            writer = incoming.writer()
            while not stop.is_set():
                captured = source.read(stop)
                if captured is None:
                    break
                if captured.raw is None:
                    continue  # idle: no sender yet
                t0 = time.thread_time()
                frame = tracker.process_captured(captured)
                writer.write(frame.encode(), captured.capture_ns)
                latencies.append((time.monotonic_ns() - captured.capture_ns) / 1e6)
                pipeline_cpu[0] += time.thread_time() - t0
            writer.close()

        send_thread = Timed(send_loop.run, "vmc-send")
        recv_thread = Timed(receive, "vmc-recv")
        recv_thread.start()
        send_thread.start()

        writer = local.writer()
        produced, wall = produce(writer, fps, seconds, threading.Event())
        time.sleep(0.2)  # let the last frame through
        stop.set()
        send_thread.join(5)
        recv_thread.join(5)
        writer.close()
        reader.close()
        sender.close()
        source.close()
    steady = latencies[WARMUP_FRAMES:] or latencies
    recv_cpu = recv_thread.cpu_s - pipeline_cpu[0]
    return {
        "seconds": round(wall, 2),
        "tracking_hz": round(produced / wall, 2),
        "vmc_send_hz": round(sender.sent / wall, 2),
        "vmc_frames_received": source.frames,
        "vmc_send_errors": sender.errors,
        "vmc_packets_dropped": source.packets_dropped,
        "vmc_bytes_per_frame": round(sender.bytes / sender.sent) if sender.sent else None,
        "inproc_in_to_ring_ms_p50": rounded(percentile(steady, 50), 3),
        "inproc_in_to_ring_ms_p99": rounded(percentile(steady, 99), 3),
        "cpu_pct_vmc_send": round(100 * send_thread.cpu_s / wall, 2),
        "cpu_pct_vmc_recv": round(100 * recv_cpu / wall, 2),
        "cpu_pct_vmc": round(100 * (send_thread.cpu_s + recv_cpu) / wall, 2),
        "cpu_pct_tracker_pipeline": round(100 * pipeline_cpu[0] / wall, 2),
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the run")
    parser.add_argument("--fps", type=float, default=30.0, help="the tracking rate to send at")
    parser.add_argument("--json", metavar="OUT", help="write the figures as JSON here")
    args = parser.parse_args(argv)
    result = bench(args.seconds, args.fps)
    result.update(processes(args.seconds, args.fps))
    for key, value in result.items():
        print(f"{key:<30}{value}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
