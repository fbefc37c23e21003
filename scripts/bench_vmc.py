#!/usr/bin/env python3
"""Benchmark VMC out and in over real loopback UDP and real shared-memory rings.

One process, three threads, each the code the product runs:

- a *tracker stand-in* writes frames into a local ring at the tracking rate (``--fps``, paced on
  monotonic deadlines; the synthetic face's parameters through the real Tracker and CBOR);
- the *sender* is ``peer.vmc_send``'s loop: woken by the ring, it encodes one OSC bundle per new
  frame and sends it over UDP;
- the *receiver* is the tracker's VMC source (``tracking.vmc_source``): it parses the bundles,
  and the frames go through the Tracker (no model, no smoothing) and CBOR into a second ring,
  as ``python -m tracking --source vmc:PORT`` does.

Figures (JSON with ``--json OUT``):

- ``vmc_send_hz``: bundles sent per second (target: the tracking rate, ``tracking_hz``);
- ``vmc_bytes_per_frame``: one frame's bundle, bytes of UDP payload;
- ``vmc_in_to_ring_ms_p50``/``p99``: from the datagram completing a frame being read off the
  socket to that frame being in the ring (parse, tracker, encode, ring write; target <= 2 ms);
- ``cpu_pct_vmc``: CPU of the VMC code, sender and receiver together (``time.thread_time``), % of
  one core over the run (target <= 3 %), and each alone (``cpu_pct_vmc_send``/``_recv``). The
  receiver's share is its socket, parsing and VMC state; what every source pays after that (the
  Tracker's quantisation, CBOR, the ring write) is ``cpu_pct_tracker_pipeline``, apart.

    scripts/bench_vmc.py --seconds 10 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from peer.vmc_send import SendLoop, VmcSender
from protocol.channel import ChildChannel
from protocol.ring import ShmRing
from protocol.stats import percentile, rounded
from tracking.pipeline import Tracker
from tracking.smoothing import SmoothingConfig
from tracking.sources import Pacer, SyntheticSource
from tracking.vmc_source import VmcSource

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

        producer = Tracker(load_model=False, smoothing=SmoothingConfig(enabled=False))
        writer = local.writer()
        pacer = Pacer(fps)
        produced = 0
        start = time.monotonic()
        while time.monotonic() - start < seconds and pacer.wait(stop):
            t = produced / fps
            frame = producer.process_raw(SyntheticSource.params_at(t), time.monotonic_ns())
            writer.write(frame.encode(), frame.timestamp_us * 1000)
            produced += 1
        wall = time.monotonic() - start
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
        "vmc_in_to_ring_ms_p50": rounded(percentile(steady, 50), 3),
        "vmc_in_to_ring_ms_p99": rounded(percentile(steady, 99), 3),
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
    for key, value in result.items():
        print(f"{key:<24}{value}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
