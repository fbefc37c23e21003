"""Debian's Chromium driven by Playwright (never Playwright's own browser download)."""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium")
try:
    import playwright.async_api  # noqa: F401

    HAVE_PLAYWRIGHT = True
except ImportError:  # pragma: no cover - the test extras install it
    HAVE_PLAYWRIGHT = False

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or not HAVE_PLAYWRIGHT,
    reason="needs Debian's chromium (scripts/system-deps.sh) and playwright (test extras)",
)
#: Fake media devices: the page's getUserMedia must never wait for a permission prompt. A fake
#: microphone but no camera (``device-count=0`` counts cameras): the page then sends its labelled
#: synthetic face, which these tests know; test_browser_tracking.py gives Chromium a camera
#: showing a face (netlab.fake_camera).
CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream=device-count=0",
    "--autoplay-policy=no-user-gesture-required",
]
