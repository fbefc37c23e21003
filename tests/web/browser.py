"""Debian's Chromium driven by Playwright (never Playwright's own browser download)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from call import Call, CallConfig

from ..peer.helpers import EventLog

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


@asynccontextmanager
async def python_peer(
    relay_url: str, room: str, **config: Any
) -> AsyncIterator[tuple[Call, EventLog]]:
    """The headless Python side of a browser test: a real ``Call`` (synthetic face, no voice,
    named 파이썬 unless ``config`` overrides :class:`CallConfig` fields) in ``room``, started,
    and closed without a hang-up when the block ends (the tests check the page's own)."""
    settings: dict[str, Any] = {
        "source": "synthetic", "name": "파이썬", "voice": False, "env": dict(os.environ)
    }
    settings.update(config)
    log = EventLog()
    session = Call(CallConfig(relay=relay_url, room=room, **settings), log)
    try:
        await session.start()
        yield session, log
    finally:
        await session.close(hangup=False)
