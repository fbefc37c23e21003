"""A private Xvfb (with GLX on Mesa) for scripts that render without a real display."""

from __future__ import annotations

import os
import subprocess
import time


def start_xvfb(
    width: int = 1280, height: int = 720, first: int = 150
) -> tuple[subprocess.Popen[bytes], str]:
    """Start Xvfb on a free display number; returns (process, DISPLAY). Caller terminates it."""
    for number in range(first, first + 100):
        if not os.path.exists(f"/tmp/.X{number}-lock") and not os.path.exists(
            f"/tmp/.X11-unix/X{number}"
        ):
            break
    display = f":{number}"
    proc = subprocess.Popen(
        [
            "Xvfb",
            display,
            "-screen",
            "0",
            f"{width}x{height}x24",
            "+extension",
            "GLX",
            "-nolisten",
            "tcp",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not os.path.exists(f"/tmp/.X11-unix/X{number}"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"Xvfb {display} did not start")
        time.sleep(0.05)
    return proc, display
