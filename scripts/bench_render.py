#!/usr/bin/env python3
"""Benchmark the render window: FPS, frame-time percentiles, CPU, capture->present latency.

Starts its own Xvfb (GLX, Mesa llvmpipe), creates the remote and local rings, feeds synthetic
30 Hz parameter frames into both from this process (like the peer and tracking processes), runs
``python -m render_window`` at 1280x720 with the self-view inset, and reads its ``stats`` events.
Writes JSON with at least fps, frame_ms_p50, frame_ms_p99, cpu_pct. Capture -> present is the
window's own figure over the measured run: the feeder puts each frame's capture time in its ring
slot (as the networking process does) and the window measures to its flip.

    python scripts/bench_render.py --seconds 10 --json bench-render.json
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from protocol.channel import read_events
from protocol.commands import Quit, ResetStats
from protocol.events import flat
from protocol.ring import ShmRing
from protocol.stats import percentile, rounded
from render_window.demo import DEMO_HZ, demo_frame
from render_window.headless import start_xvfb

REPO = Path(__file__).resolve().parent.parent


def feed(rings: list[ShmRing], stop: threading.Event) -> None:
    """Write demo frames at 30 Hz into every ring (capture time = now, as a tracker would; it
    goes in the slot too, on this host's clock, as the networking process writes it)."""
    writers = [r.writer() for r in rings]
    t0 = time.monotonic()
    seq = 0
    while not stop.is_set():
        seq += 1
        due = t0 + seq / DEMO_HZ
        time.sleep(max(0.0, due - time.monotonic()))
        now_us = time.monotonic_ns() // 1000
        payload = demo_frame(seq, now_us / 1e6 - t0, now_us).encode()
        for w in writers:
            w.write(payload, now_us * 1000)
    for w in writers:
        w.close()


def measure_load_ms(ref: str, display: str, width: int, height: int) -> dict[str, float]:
    """For a 3D avatar: ``load_ms`` = parsing and checking the file (avatars.gltf, in this
    process, after a first untimed load pays the imports) + the renderer's GL upload (the
    ``--screenshot`` CLI logs it); the warm-up frames are reported apart (``warmup_ms``)."""
    import re
    import tempfile

    from avatars.avatar3d import load_avatar

    load_avatar(ref)
    t0 = time.perf_counter()
    load_avatar(ref)
    parse_ms = (time.perf_counter() - t0) * 1000
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-m", "render_window", "--avatar", ref, "--screenshot",
             str(Path(tmp) / "shot.png"), "--width", str(width), "--height", str(height)],
            capture_output=True, text=True, cwd=REPO, env=dict(os.environ, DISPLAY=display),
            timeout=120,
        )  # fmt: skip
    m = re.search(r"loaded in (\d+) ms, warm-up ([\d.]+) ms/frame", out.stderr)
    if m is None:
        raise SystemExit(f"bench_render: {ref} did not load in 3D: {out.stderr.strip()[-300:]}")
    gl_ms, warm = float(m.group(1)), float(m.group(2))
    return {
        "load_ms": round(parse_ms + gl_ms, 1),
        "parse_ms": round(parse_ms, 1),
        "gl_load_ms": gl_ms,
        "warmup_ms": warm,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="measured time (after warm-up)")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--avatar", default="aria", help="2D pack, 3D id (nova) or .vrm/.glb path")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--no-self-view", action="store_true")
    args = ap.parse_args()

    try:
        xvfb, display = start_xvfb(args.width, args.height)
    except (OSError, RuntimeError) as e:
        raise SystemExit(f"bench_render: cannot start Xvfb: {e}") from e
    from avatars.avatar3d import is_3d_ref

    loads = (
        measure_load_ms(args.avatar, display, args.width, args.height)
        if is_3d_ref(args.avatar)
        else {}
    )
    remote, local = ShmRing.create("remote"), ShmRing.create("local")
    stop = threading.Event()
    feeder = threading.Thread(target=feed, args=([remote, local], stop), daemon=True)
    cmd = [
        sys.executable,
        "-m",
        "render_window",
        "--remote-ring",
        remote.name,
        "--local-ring",
        local.name,
        "--avatar",
        args.avatar,
        "--width",
        str(args.width),
        "--height",
        str(args.height),
        "--fixed-rate",  # the renderer's own speed: no economy ticks on a busy machine
    ]
    if args.no_self_view:
        cmd.append("--no-self-view")
    win = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
        env=dict(os.environ, DISPLAY=display),
    )
    assert win.stdout is not None
    events = read_events(win.stdout)
    result: dict[str, Any] = {}
    shown_renderer = None  # which plug-in drew the peer avatar (gltf3d, or a 2D fallback)
    try:
        while True:
            event = events.get(timeout=60)
            if event is None:
                raise SystemExit("render window exited before it was ready")
            ev = flat(event)
            if ev["event"] == "ready":
                result["gl_renderer"] = ev.get("gl_renderer")
                shown_renderer = ev.get("renderer")
                break
        feeder.start()
        proc = psutil.Process(win.pid)
        time.sleep(args.warmup)
        stats: list[dict[str, Any]] = []
        while not events.empty():
            events.get_nowait()
        assert win.stdin is not None
        win.stdin.write(ResetStats().encode())  # whole-run percentiles from here on
        win.stdin.flush()
        proc.cpu_percent(None)
        cpu0 = time.monotonic()
        end = cpu0 + args.seconds
        while time.monotonic() < end:
            try:
                event = events.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            if event is None:
                break
            ev = flat(event)
            if ev["event"] == "stats":
                stats.append(ev)
            elif ev["event"] == "avatar_shown" and ev.get("view") == "peer":
                shown_renderer = ev.get("renderer")
        cpu = proc.cpu_percent(None)
        frames = [s["frames"] for s in stats]
        p50 = [s["frame_ms_p50"] for s in stats if "frame_ms_p50" in s]
        p99 = [s["frame_ms_p99"] for s in stats if "frame_ms_p99" in s]
        work = [s["work_ms_p50"] for s in stats if "work_ms_p50" in s]
        span = stats[-1]["t"] - stats[0]["t"] if len(stats) > 1 else 0.0
        last = stats[-1] if stats else {}
        present = last.get("run_e2e_present_ms") or {}  # since reset_stats: the measured run
        result.update(
            seconds=args.seconds,
            width=args.width,
            height=args.height,
            avatar=args.avatar,
            self_view=not args.no_self_view,
            fps=round((frames[-1] - frames[0]) / span, 2) if span else 0.0,
            # Over every frame interval of the measured run (the window's whole-run window).
            frame_ms_p50=last.get("run_frame_ms_p50"),
            frame_ms_p99=last.get("run_frame_ms_p99"),
            # Each stats line's p99 covers the last ~2 s: the worst such window.
            frame_ms_p99_worst_2s=max(p99) if p99 else None,
            frame_ms_p50_median_2s=rounded(percentile(p50, 50), 3),
            work_ms_p50=rounded(percentile(work, 50), 3),
            cpu_pct=round(cpu, 1),  # percent of ONE core (psutil), render process only
            cpu_count=psutil.cpu_count(),
            frames_received=last.get("frames_received", 0),
            capture_to_present_ms_p50=present.get("p50"),
            capture_to_present_ms_p99=present.get("p99"),
            playout_delay_ms=last.get("playout_delay_ms"),
            renderer=shown_renderer,
            **loads,
        )
    finally:
        stop.set()
        if win.poll() is None:
            try:
                assert win.stdin is not None
                win.stdin.write(Quit().encode())
                win.stdin.flush()
                win.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                win.kill()
        feeder.join(2) if feeder.is_alive() else None
        remote.close()
        local.close()
        xvfb.terminate()
        xvfb.wait(5)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
