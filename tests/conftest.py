"""Shared fixtures: where ../shared is, and a real Xvfb display for window tests."""

from __future__ import annotations

import ctypes.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("AVATARCHAT_SHARED", REPO.parent / "shared"))
FACES = SHARED / "testdata" / "faces"
#: Tests read English output (CLI lines, snapshots, window banners): whatever the developer's
#: locale, the suite and the processes it starts speak English unless a test asks for Korean.
os.environ["AVATARCHAT_LANG"] = "en"


@pytest.fixture(scope="session")
def shared_faces() -> Path:
    """../shared/testdata/faces; tests that need more than the vendored clip skip without it."""
    if not FACES.is_dir():
        pytest.skip(
            "needs ../shared/testdata/faces (the project's face clips; CI has it, a fresh clone "
            "does not)"
        )
    return FACES


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    """Start a real Xvfb (with GLX on Mesa) for the session; yields the DISPLAY string."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian xvfb; scripts/system-deps.sh installs it)")
    if ctypes.util.find_library("GL") is None:
        # pyglet loads libGL with ctypes: without Mesa the window would fail, not skip.
        pytest.skip(
            "Mesa's libGL is not installed (Debian libgl1 libglx-mesa0 libgl1-mesa-dri; "
            "scripts/system-deps.sh installs them)"
        )
    from render_window.headless import start_xvfb

    try:
        proc, display = start_xvfb(1280, 800, first=90)
    except RuntimeError as e:
        pytest.fail(str(e))
    try:
        yield display
    finally:
        proc.terminate()
        proc.wait(5)


@pytest.fixture
def relay_url() -> Iterator[str]:
    """A real ``python -m relay`` on a free loopback port (read from its ``ready`` event) for
    tests that start clients as separate processes; stopped with SIGTERM afterwards."""
    from protocol.events import Ready, parse_event

    proc = subprocess.Popen(
        [sys.executable, "-m", "relay", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = parse_event(proc.stdout.readline())  # the relay's first line
        assert isinstance(ready, Ready), ready
        yield f"ws://127.0.0.1:{ready.info['port']}"
    finally:
        proc.terminate()
        proc.wait(10)
