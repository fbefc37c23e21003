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
#: Fake media devices: the page's getUserMedia must never wait for a permission prompt.
CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
