"""Shared fixtures: where ../shared is, and a real Xvfb display for window tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("AVATARCHAT_SHARED", REPO.parent / "shared"))
FACES = SHARED / "testdata" / "faces"


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
        pytest.skip("Xvfb is not installed (apt-get install xvfb; .ci/run installs it)")
    for number in range(90, 140):
        if not os.path.exists(f"/tmp/.X{number}-lock") and not os.path.exists(
            f"/tmp/.X11-unix/X{number}"
        ):
            break
    display = f":{number}"
    proc = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1280x800x24", "+extension", "GLX", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not os.path.exists(f"/tmp/.X11-unix/X{number}"):
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"Xvfb {display} did not start")
        time.sleep(0.05)
    try:
        yield display
    finally:
        proc.terminate()
        proc.wait(5)
