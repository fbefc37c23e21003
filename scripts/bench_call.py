#!/usr/bin/env python3
"""Benchmark a whole call on loopback: a relay and two clients with real tracking.

    python scripts/bench_call.py --source tracking/samples/d10.mp4 --seconds 20 --json out.json
    python scripts/bench_call.py --source sample --seconds 20 --window --xvfb --json out.json

Each client is exactly what ``avatarchat call`` runs (:class:`call.Call`: tracking +
networking [+ render window]). The script taps both remote rings itself, so latency is measured
independently of the product's own stats (both are reported):

- ``setup_s``: from starting the clients to the first peer frame in *both* remote rings;
- ``e2e_ms_p50/p99``: capture (sender's tracker timestamp) -> written into the receiver's
  remote ring, i.e. to remote receive; one host, one CLOCK_MONOTONIC, so no offset to map;
- ``e2e_present_ms_p50/p99`` (with ``--window``): capture -> the receiving render window's
  present over the measured period, as the window measures it (its ``stats``
  ``run_e2e_present_ms``, reset after setup; worst of the two clients);
- ``recv_hz``, ``bytes_per_frame``: frames and payload sizes seen in the remote rings;
- ``cpu_pct_per_client``: CPU time of one client's processes (tracking, networking, render),
  percent of one core, averaged over the two clients (psutil), measured after setup;
- ``breakdown_ms``: where capture -> present goes, {p50, p99} per stage, both directions
  pooled: ``tracking`` (capture -> the sender's local ring: inference, body models, encode),
  ``network`` (local ring -> the receiver's remote ring, the same frame by seq: both networking
  processes and the relay), ``window`` (remote ring -> present, the window's own
  ``run_ring_to_present_ms``, worst client) and ``presented_early`` (per client: frames the window
  started before its tick because a peer frame was due on screen), ``playout_delay`` and
  ``jitter`` (per client, the window's last figures: the playout clock's share of ``window``);
  ``window`` split in two (whole run, worst client): ``playout_hold`` (ring -> the moment the
  playout clock lets the frame show) and ``present_lag`` (that moment -> present: waiting for
  the window's next frame, drawing and the swap);
- ``per_client``: what each process did meanwhile (the load behind those waits): the tracker's
  fps, face inference ms (p50) and body-model ms (mean per frame), busy share and whether the
  body is still on (``--body auto`` turns it off below 30 fps), the window's fps, tick rate and
  economy mode,
  frame work and swap ms, and each child's CPU (% of one core) over the measured period;
- ``load``: the 1-minute load average before and after, and the machine's CPU busy share over
  the run (other work on the machine shows here: compare runs only at similar load).

Voice is off unless ``--voice on``: issue 14's capture -> present target is for calls without
voice (with voice the window delays the avatar to the voice's playout on purpose).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from call import Call, CallConfig, LocalRelay
from protocol.commands import ResetStats
from protocol.frame import ParamFrame
from protocol.ring import ShmRing
from protocol.signaling import new_room_code
from protocol.stats import percentile, rounded


class Tap:
    """Wake-up reader on a ring: latency and size of every frame that lands there; ``source``
    is the ring the frames were first written to (the sender's local ring's tap), for the
    ring -> ring time of the same frame."""

    def __init__(self, ring_name: str, source: Tap | None = None) -> None:
        self.ring = ShmRing.attach(ring_name)
        self.reader = self.ring.reader(wake=True)
        self.source = source
        self.first_at: float | None = None
        self.latencies_ms: list[float] = []
        self.hop_ms: list[float] = []
        self.written_ns: dict[int, int] = {}
        self.sizes: list[int] = []
        self.count = 0
        asyncio.get_running_loop().add_reader(self.reader.fileno(), self._wake)

    def _wake(self) -> None:
        self.reader.drain()
        record = self.reader.read_latest()
        if record is None:
            return
        if self.first_at is None:
            self.first_at = time.monotonic()
        frame = ParamFrame.decode(record.payload)
        self.count += 1
        self.sizes.append(len(record.payload))
        self.latencies_ms.append((record.written_ns / 1000 - frame.timestamp_us) / 1000)
        if self.source is None:
            self.written_ns[frame.seq] = record.written_ns
            if len(self.written_ns) > 4096:
                self.written_ns.pop(next(iter(self.written_ns)))
        else:
            sent = self.source.written_ns.get(frame.seq)
            if sent is not None:
                self.hop_ms.append((record.written_ns - sent) / 1e6)

    def clear(self) -> None:
        self.latencies_ms.clear()
        self.hop_ms.clear()
        self.sizes.clear()
        self.count = 0

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.reader.fileno())
        self.reader.close()
        self.ring.close()


def _child_cpu_seconds(session: Call) -> dict[str, float]:
    """CPU seconds so far of each of one client's child processes, by child name."""
    out: dict[str, float] = {}
    for name, child in session.children.items():
        if child.pid is None:
            continue
        try:
            t = psutil.Process(child.pid).cpu_times()
            out[name] = t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return out


def _per_client(
    session: Call, cpu0: dict[str, float], cpu1: dict[str, float], wall: float
) -> dict[str, Any]:
    """One client's processes over the measured period (see the module docstring)."""
    track = session.stats["tracking"].values if "tracking" in session.stats else {}
    render = session.stats["render"].values if "render" in session.stats else {}
    stage = track.get("stage_ms") or {}
    return {
        "tracking": {
            "fps": track.get("fps"),
            "inference_ms_p50": stage.get("inference"),
            "body_ms_mean": track.get("body_ms"),
            "busy": track.get("busy"),
            "body": track.get("body"),
            "body_off": track.get("body_off"),
        },
        "window": {
            k: render.get(k)
            for k in (
                "fps",
                "rate_fps",
                "economy",
                "work_ms_p50",
                "flip_ms_p50",
                "presented_early",
                "system_cpu",
            )
        },
        "cpu_pct": {
            name: round((cpu1[name] - cpu0.get(name, 0.0)) / wall * 100, 1) for name in cpu1
        },
    }


def _start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    if shutil.which("Xvfb") is None:
        raise SystemExit("--xvfb needs Xvfb installed")
    from render_window.headless import start_xvfb

    try:
        return start_xvfb(1280, 800, first=150)
    except RuntimeError as e:
        raise SystemExit(str(e)) from None


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    load0 = os.getloadavg()[0]
    env = dict(os.environ)
    xvfb = None
    if args.window and args.xvfb:
        xvfb, env["DISPLAY"] = _start_xvfb()
    relay = LocalRelay(lambda _source, _event: None, host="127.0.0.1")
    await relay.start()
    room = new_room_code()
    stats_dir = Path(tempfile.mkdtemp(prefix="bench-call-"))
    sessions: list[Call] = []
    taps: list[Tap] = []
    local_taps: list[Tap] = []
    try:
        t0 = time.monotonic()
        for name in ("alice", "bob"):
            cfg = CallConfig(
                relay=relay.local_url,
                room=room,
                source=args.source,
                name=name,
                window=args.window,
                env=env,
                stats_json=str(stats_dir / f"{name}.json"),
                tracking_args=["--no-calibration", *(["--body", args.body] if args.body else [])],
                render_args=["--fixed-rate"] if args.fixed_rate else [],
                voice=args.voice == "on",
                log_dir=args.log_dir,
            )
            session = Call(cfg)
            sessions.append(session)
            await session.start()
            assert session.remote is not None and session.local is not None
            local_taps.append(Tap(session.local.name))
            taps.append(Tap(session.remote.name))
        # The frames in alice's remote ring were written to bob's local ring first, and back.
        taps[0].source, taps[1].source = local_taps[1], local_taps[0]
        deadline = t0 + args.setup_timeout
        while any(t.first_at is None for t in taps):
            if time.monotonic() > deadline:
                raise SystemExit(f"no call within {args.setup_timeout} s")
            await asyncio.sleep(0.01)
        setup_s = max(t.first_at for t in taps if t.first_at) - t0
        # Measure from here on (setup excluded): reset the taps and the CPU baseline.
        for tap in taps + local_taps:
            tap.clear()
        for session in sessions:
            session.send("render", ResetStats())  # the window's run figures from here on
        cpu0 = [_child_cpu_seconds(s) for s in sessions]
        psutil.cpu_percent()
        m0 = time.monotonic()
        await asyncio.sleep(args.seconds)
        wall = time.monotonic() - m0
        machine_busy = psutil.cpu_percent()
        cpu1 = [_child_cpu_seconds(s) for s in sessions]
        per_client = [
            _per_client(s, a, b, wall) for s, a, b in zip(sessions, cpu0, cpu1, strict=True)
        ]
        counts = [t.count for t in taps]
        lat = [v for t in taps for v in t.latencies_ms]
        tracking = [v for t in local_taps for v in t.latencies_ms]
        network = [v for t in taps for v in t.hop_ms]
        sizes = [v for t in taps for v in t.sizes]
        await asyncio.sleep(1.2)  # one more stats-json write with the whole window in it
        product = [json.loads((stats_dir / f"{n}.json").read_text()) for n in ("alice", "bob")]
        render = [s.stats["render"].values if "render" in s.stats else {} for s in sessions]
    finally:
        for tap in taps + local_taps:
            tap.close()
        for session in sessions:
            await session.close()
        await relay.stop()
        shutil.rmtree(stats_dir, ignore_errors=True)
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)
    present = [r.get("run_e2e_present_ms") for r in render]
    result: dict[str, Any] = {
        "source": args.source,
        "seconds": round(wall, 2),
        "window": args.window,
        "setup_s": round(setup_s, 3),
        "e2e_ms_p50": rounded(percentile(lat, 50)),
        "e2e_ms_p99": rounded(percentile(lat, 99)),
        "recv_hz": round(sum(counts) / len(counts) / wall, 2),
        "bytes_per_frame": round(sum(sizes) / len(sizes), 1) if sizes else None,
        "cpu_pct_per_client": round(
            sum(sum(b.values()) - sum(a.values()) for a, b in zip(cpu0, cpu1, strict=True))
            / len(sessions)
            / wall
            * 100,
            1,
        ),
        "product_stats": [
            {k: p["latest"].get(k) for k in ("rtt_ms", "clock_offset_ms", "candidate_pair")}
            | {"stages_ms": p["latest"].get("stages_ms"), "e2e_ms": p["call"].get("e2e_ms")}
            | {
                "e2e_present_ms": r.get("run_e2e_present_ms"),
                "ring_to_present_ms": r.get("ring_to_present_ms"),
            }
            for p, r in zip(product, render, strict=True)
        ],
        "breakdown_ms": {
            "tracking": _p50_p99(tracking),
            "network": _p50_p99(network),
            # (run_ring_to_present_ms: whole run; older windows report the last ~300 frames)
            "window": _worst(
                [r.get("run_ring_to_present_ms") or r.get("ring_to_present_ms") for r in render]
            ),
            "playout_hold": _worst([r.get("run_playout_hold_ms") for r in render]),
            "present_lag": _worst([r.get("run_present_lag_ms") for r in render]),
            "presented_early": [r.get("presented_early") for r in render],
            # Part of "window": a frame first shows when the playout clock reaches it (one
            # frame interval + 3x jitter after its predecessor, render_window.motion).
            "playout_delay": [r.get("playout_delay_ms") for r in render],
            "jitter": [r.get("jitter_ms") for r in render],
        },
        "per_client": per_client,
        "load": {"loadavg_1m_before": load0, "loadavg_1m_after": os.getloadavg()[0]}
        | {"machine_cpu_pct": machine_busy},
        "voice": args.voice == "on",
        "host": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    if args.window and all(present):
        result["e2e_present_ms_p50"] = max(p["p50"] for p in present if p)
        result["e2e_present_ms_p99"] = max(p["p99"] for p in present if p)
    return result


def _p50_p99(values: list[float]) -> dict[str, float | None]:
    return {"p50": rounded(percentile(values, 50)), "p99": rounded(percentile(values, 99))}


def _worst(summaries: list[Any]) -> dict[str, float] | None:
    """The larger of each percentile over the clients' ``{p50, p99}`` summaries."""
    have = [s for s in summaries if isinstance(s, dict) and s.get("p50") is not None]
    if not have:
        return None
    return {q: max(float(s[q]) for s in have) for q in ("p50", "p99")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--source", default="sample", help="clip path, 'sample' or 'synthetic'")
    p.add_argument("--seconds", type=float, default=20.0, help="measured call length")
    p.add_argument("--json", metavar="OUT", help="write the results here")
    p.add_argument("--window", action="store_true", help="run both render windows too")
    p.add_argument("--xvfb", action="store_true", help="start a private Xvfb for --window")
    p.add_argument("--setup-timeout", type=float, default=60.0)
    p.add_argument(
        "--body",
        choices=("on", "off", "auto"),
        help="the trackers' --body (default: theirs, auto)",
    )
    p.add_argument(
        "--fixed-rate",
        action="store_true",
        help="windows keep 60 fps on a saturated machine (A/B against the adaptive rate)",
    )
    p.add_argument("--log-dir", help="keep each child's stderr in DIR/<child>.log")
    p.add_argument(
        "--voice",
        choices=("on", "off"),
        default="off",
        help="voice in the call (default off: the capture -> present target is without voice)",
    )
    args = p.parse_args()
    result = asyncio.run(bench(args))
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
