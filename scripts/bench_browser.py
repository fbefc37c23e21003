#!/usr/bin/env python3
"""Benchmark the browser peer (issue 18): headless Debian Chromium calls a real headless Python
peer through a real relay (``python -m relay``), which also serves the page.

    python scripts/bench_browser.py --json out.json [--seconds 10]

Keys (``null`` with a line in ``notes`` where this build cannot measure it for real):

- ``setup_s``: the page's Join click to both DataChannels open (relay join, offer/answer, ICE,
  DTLS, SCTP), measured in the page.
- ``browser_render_fps``: the page's avatar canvas redraws per second (requestAnimationFrame).
- ``e2e_browser_to_py_ms_p50/p99``: the browser's frame timestamp to the Python networking
  process receiving it, on the Python side's clock (its ping/pong clock offset against the
  page): the Python peer's own ``e2e_ms`` statistic, last window.
- ``e2e_py_to_browser_ms_p50/p99``: the Python tracker's capture timestamp to the page's
  DataChannel receive, mapped with the page's own ping/pong offset (min-RTT sample).
- ``bytes_per_frame``: the browser's frames as the Python peer received them.
- ``browser_tracking_fps``: null: the page sends a synthetic animation, no face tracking yet.

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
import time
from pathlib import Path
from typing import Any

from call import Call, CallConfig, CallEvent, as_record
from protocol.signaling import new_room_code, web_link
from protocol.stats import summarize

CHROMIUM_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


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
            browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = await browser.new_page()
            await page.goto(web_link(f"ws://127.0.0.1:{port}", room))
            await page.fill("#name", "bench")
            await page.click("#join")
            await page.wait_for_function(
                "() => window.avatarchat.state === 'connected'", timeout=30_000)
            await page.wait_for_function(
                "() => window.avatarchat.call.e2eMs.length > 30", timeout=10_000)
            setup_ms = await page.evaluate("window.avatarchat.setupMs")
            await page.evaluate("window.avatarchat.call.e2eMs.length = 0")
            frames0 = await page.evaluate("window.avatarchat.view.frames")
            t0 = time.monotonic()
            await asyncio.sleep(seconds)  # the measurement window
            frames1 = await page.evaluate("window.avatarchat.view.frames")
            elapsed = time.monotonic() - t0
            page_e2e: list[float] = await page.evaluate("window.avatarchat.call.e2eMs")
            await browser.close()
    finally:
        await session.close(hangup=False)
        relay.terminate()
        relay.wait(10)
    last = stats[-1] if stats else {}
    py_e2e = last.get("e2e_ms") or {}
    page_summary = summarize(page_e2e, (50, 99), 2) or {}
    return {
        "setup_s": round(setup_ms / 1000, 3) if setup_ms is not None else None,
        "browser_render_fps": round((frames1 - frames0) / elapsed, 1),
        "e2e_browser_to_py_ms_p50": py_e2e.get("p50"),
        "e2e_browser_to_py_ms_p99": py_e2e.get("p99"),
        "e2e_py_to_browser_ms_p50": page_summary.get("p50"),
        "e2e_py_to_browser_ms_p99": page_summary.get("p99"),
        "bytes_per_frame": last.get("bytes_per_frame"),
        "browser_tracking_fps": None,
        "samples_py_to_browser": len(page_e2e),
        "notes": [
            "browser_tracking_fps: no face tracking in the page yet (synthetic frames)",
            "both peers and the relay share this machine's CPUs",
        ],
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
