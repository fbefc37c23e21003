#!/usr/bin/env python3
"""Benchmark the browser peer (issue 18): headless Debian Chromium calls a real headless Python
peer through a real relay (``python -m relay``), which also serves the page.

    python scripts/bench_browser.py --json out.json [--seconds 10]

Keys (``null`` with a line in ``notes`` where this build cannot measure it for real):

- ``setup_s``: the page's Join click to both DataChannels open (relay join, offer/answer, ICE,
  DTLS, SCTP), measured in the page.
- ``browser_render_fps``: display frames per second (requestAnimationFrame) at which the page's
  large avatar canvas showed the current pose: the WebGL pack renderer (web/render.js) drawing
  the Python peer's built-in on a canvas of ``browser_render_canvas`` pixels, or leaving it as
  it was because no layer moved a quarter of a pixel (``browser_render_draws_per_s`` counts
  the real draws; with the Python peer's moving face they are nearly all). The self-view draws
  beside it, at most 30 times a second. Headless Chromium's WebGL is SwiftShader, a software GL
  on these CPUs.
- ``browser_cpu_ms_per_s``: CPU milliseconds per second of each Chromium process type over the
  window (``gpu-process`` is the software GL drawing both canvases, compositing, and the
  tracker's image upload; ``renderer`` the page's JS, its tracking worker and DataChannels):
  where the page's CPU goes, less dependent on the host's load than the rates.
- ``browser_tracking_fps``: images the page's face tracking (MediaPipe tasks-vision in a
  worker, tracking_camera.js) finished per second, its camera a fake one playing the sample
  clip's stills (netlab.fake_camera, 30 FPS). ``browser_tracking_inference_ms_p50/p99``: one
  ``detectForVideo`` in the worker; ``browser_capture_to_params_ms_p50``: camera capture to the
  frame's parameters ready on the page's main thread.
- ``e2e_browser_to_py_ms_p50/p99``: while the page tracks, a frame's capture time to the Python
  networking process receiving it, on the Python side's clock (its ping/pong clock offset
  against the page): the Python peer's own ``e2e_ms`` statistic, last window. The capture time
  is the camera frame's ``captureTime`` from requestVideoFrameCallback (Chromium stamps it when
  the capture device delivers the frame, on performance.now()'s clock); where a browser gives
  none, the callback's time stands in (``capture_time_source`` says which was used).
- ``e2e_py_to_browser_ms_p50/p99``: the Python tracker's capture timestamp to the page's
  DataChannel receive, mapped with the page's own ping/pong offset (min-RTT sample).
- ``bytes_per_frame``: the browser's frames as the Python peer received them.
- ``load_avg_1m``: the host's 1-minute load average as the window starts and ends: the figures
  depend on it (web/README.md, "Where the tracking time goes").

Both ends share this machine's CPUs: on a busy host the figures are worse than on a quiet one.
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

from call import Call, CallConfig, CallEvent, as_record
from netlab import fake_camera
from protocol.signaling import new_room_code, web_link
from protocol.stats import summarize

#: (display frames the peer view was up to date, its draws, images tracked) so far.
TRACKED = ("[window.avatarchat.view.shown ?? window.avatarchat.view.frames,"
           " window.avatarchat.view.frames, window.avatarchat.face.tracking?.frames ?? 0]")


def chromium_cpu_s() -> dict[str, float]:
    """CPU seconds so far of this process's Chromium descendants, by ``--type``."""
    out: dict[str, float] = {}
    for proc in psutil.Process().children(recursive=True):
        try:
            cmd = proc.cmdline()
            if not cmd or "chrom" not in Path(cmd[0]).name:
                continue
            kind = next((a.split("=", 1)[1] for a in cmd if a.startswith("--type=")), "browser")
            if kind == "utility":
                kind = next((a.split("=", 1)[1].rsplit(".", 1)[-1] for a in cmd
                             if a.startswith("--utility-sub-type=")), kind)
            times = proc.cpu_times()
            out[kind] = out.get(kind, 0.0) + times.user + times.system
        except psutil.Error:
            continue
    return out


def start_relay() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "relay", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if event.get("event") == "ready":
            return proc, int(event["info"]["port"])
    raise RuntimeError("the relay exited before saying ready")


async def measure(seconds: float) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("bench_browser: needs Debian's chromium (scripts/system-deps.sh)")
    if (reason := fake_camera.unavailable_reason()) is not None:
        raise SystemExit(f"bench_browser: {reason}")
    camera_dir = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    y4m = fake_camera.make_y4m(camera_dir)
    relay, port = start_relay()
    room = new_room_code()
    stats: list[dict[str, Any]] = []

    def on_event(source: str, event: CallEvent) -> None:
        record = as_record(source, event)
        if record.get("event") == "stats" and source == "peer":
            stats.append(record)

    session = Call(CallConfig(relay=f"ws://127.0.0.1:{port}", room=room, source="synthetic",
                              name="bench", voice=False, env=dict(os.environ)), on_event)
    try:
        await session.start()
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=chromium, args=fake_camera.chromium_args(y4m))
            page = await browser.new_page()
            await page.goto(web_link(f"ws://127.0.0.1:{port}", room))
            await page.fill("#name", "bench")
            await page.click("#join")
            await page.wait_for_function(
                "() => window.avatarchat.state === 'connected'", timeout=30_000)
            await page.wait_for_function(
                "() => window.avatarchat.call.e2eMs.length > 30", timeout=10_000)
            setup_ms = await page.evaluate("window.avatarchat.setupMs")
            # Tracking warmed up (model loaded, first inferences done) or given up.
            await page.wait_for_function(
                "() => window.avatarchat.face.problem"
                " || window.avatarchat.face.tracking?.frames > 10", timeout=120_000)
            problem = await page.evaluate("window.avatarchat.face.problem")
            await page.evaluate("window.avatarchat.call.e2eMs.length = 0")
            shown0, frames0, tracked0 = await page.evaluate(TRACKED)
            stats.clear()
            t0 = time.monotonic()
            cpu0 = chromium_cpu_s()
            load0 = os.getloadavg()[0]
            await asyncio.sleep(seconds)  # the measurement window
            shown1, frames1, tracked1 = await page.evaluate(TRACKED)
            cpu1 = chromium_cpu_s()
            load1 = os.getloadavg()[0]
            elapsed = time.monotonic() - t0
            canvas = await page.evaluate(
                "(() => { const c = document.getElementById('peer');"
                " return [c.width, c.height]; })()")
            page_e2e: list[float] = await page.evaluate("window.avatarchat.call.e2eMs")
            tracking = await page.evaluate(
                "(() => { const t = window.avatarchat.face.tracking;"
                " return t && {history: t.history, sources: t.captureTimes}; })()")
            await browser.close()
    finally:
        await session.close(hangup=False)
        relay.terminate()
        relay.wait(10)
        shutil.rmtree(camera_dir, ignore_errors=True)
    recent = list((tracking or {}).get("history", []))[-max(1, tracked1 - tracked0):]
    inference = summarize([h["inferenceMs"] for h in recent], (50, 99), 2) or {}
    capture_to_params = summarize([h["latencyMs"] for h in recent], (50, 99), 2) or {}
    sources = (tracking or {}).get("sources") or {}
    last = stats[-1] if stats else {}
    py_e2e = last.get("e2e_ms") or {}
    page_summary = summarize(page_e2e, (50, 99), 2) or {}
    return {
        "setup_s": round(setup_ms / 1000, 3) if setup_ms is not None else None,
        "browser_render_fps": round((shown1 - shown0) / elapsed, 1),
        "browser_render_draws_per_s": round((frames1 - frames0) / elapsed, 1),
        "browser_render_canvas": canvas,
        "e2e_browser_to_py_ms_p50": py_e2e.get("p50"),
        "e2e_browser_to_py_ms_p99": py_e2e.get("p99"),
        "e2e_py_to_browser_ms_p50": page_summary.get("p50"),
        "e2e_py_to_browser_ms_p99": page_summary.get("p99"),
        "bytes_per_frame": next((s["bytes_per_frame"] for s in reversed(stats)
                                 if s.get("bytes_per_frame")), None),
        "browser_tracking_fps": None if problem else round((tracked1 - tracked0) / elapsed, 1),
        "browser_tracking_inference_ms_p50": inference.get("p50"),
        "browser_tracking_inference_ms_p99": inference.get("p99"),
        "browser_capture_to_params_ms_p50": capture_to_params.get("p50"),
        "capture_time_source": (
            "camera captureTime" if sources.get("camera") and not sources.get("callback")
            else f"callback time for {sources.get('callback', 0)} of "
                 f"{sources.get('camera', 0) + sources.get('callback', 0)} images"),
        "samples_py_to_browser": len(page_e2e),
        "notes": [
            *([f"no face tracking in the page: {problem} (synthetic frames)"] if problem else []),
            *(["e2e_browser_to_py: the Python peer's window (its last 300 frames) also holds"
               " synthetic frames from before tracking ran"] if tracked1 < 300 else []),
            "the page's camera: Chromium's fake device playing netlab.fake_camera's y4m (30 FPS)",
            "both peers and the relay share this machine's CPUs",
        ],
        "browser_cpu_ms_per_s": {k: round((cpu1[k] - cpu0.get(k, 0.0)) / elapsed * 1000, 1)
                                 for k in sorted(cpu1) if cpu1[k] - cpu0.get(k, 0.0) > 0},
        "load_avg_1m": [round(load0, 2), round(load1, 2)],
        "host": platform.node(),
        "cpus": os.cpu_count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="OUT", help="write the figures here (and print them)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement window")
    args = parser.parse_args()
    result = asyncio.run(measure(args.seconds))
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
