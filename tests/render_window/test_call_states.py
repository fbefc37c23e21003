"""The call's states as the avatar window shows them, under real Xvfb, checked on pixels: a peer
who left is dimmed and frozen (not idling as if live), a refused call says so with the reason,
our pause and the peer's pause read differently, a recalibration counts down live, and the
title carries the peer's (sanitised) name, read back from X as a desktop would."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from protocol.frame import FrameFlags
from protocol.ring import ShmRing

from .harness import Feeder, Image_, Window, changed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

W, H = 640, 360
Opened = tuple[Window, Feeder]


def banner(img: Image_) -> Image_:
    """The banner's band (render_window.overlay: at least 56 px, bottom 8 % up; a two-line
    banner grows upwards, so take some margin above)."""
    h = img.shape[0]
    return img[int(h - h * 0.08 - 110) : int(h - h * 0.08)]


def avatar(img: Image_) -> Image_:
    """Above the banner: the peer's avatar (no self-view in these windows)."""
    h = img.shape[0]
    return img[: int(h - h * 0.08 - 110)]


def banner_differs(a: Image_, b: Image_, at_least: int = 300) -> bool:
    return int(changed(banner(a), banner(b)).sum()) >= at_least


def brightness(img: Image_) -> float:
    return float(img.astype(np.float64).mean())


@pytest.fixture
def window(xvfb_display: str, tmp_path: Path) -> Iterator[Opened]:
    ring = ShmRing.create("remote")
    feeder = Feeder(ring)
    win = Window(
        xvfb_display,
        [
            *("--remote-ring", ring.name, "--no-self-view", "--no-breath", "--seed", "5"),
            *("--width", str(W), "--height", str(H)),
        ],
        tmp_path,
    )
    try:
        win.wait("ready")
        yield win, feeder
    finally:
        assert win.close() == 0
        feeder.close()
        ring.close()


def test_window_shows_each_call_state(window: Opened) -> None:
    win, feeder = window
    seq = feeder.set({"jawOpen": 0.8})  # mouth open: the neutral pose differs from it
    win.wait("overlay", lambda e: e["state"] == "")
    live = win.shot(min_seq=seq + 2)

    # The peer left: banner, and their avatar dimmed and frozen in a neutral pose.
    win.cmd("overlay", state="peer_left")
    win.wait("overlay", lambda e: e["state"] == "peer_left")
    left = win.shot()
    assert banner_differs(left, live)
    assert brightness(avatar(left)) < 0.8 * brightness(avatar(live)), "not dimmed"
    frames = [img for _ev, img in win.burst(2, 20)]
    assert not changed(avatar(frames[0]), avatar(frames[1]), 10).any(), "still moving"

    # They come back: the notice, then live again (undimmed).
    win.cmd("overlay", state="connected")
    win.wait("overlay", lambda e: e["state"] == "")
    back = win.shot(min_seq=feeder.seq + 2)
    assert brightness(avatar(back)) > 0.95 * brightness(avatar(live))

    # Our pause and theirs: two different banners.
    win.cmd("overlay", state="self_paused")
    win.wait("overlay", lambda e: e["state"] == "self_paused")
    ours = win.shot()
    assert banner_differs(ours, live)
    win.cmd("overlay", state="self_resumed")
    win.wait("overlay", lambda e: e["state"] == "")
    feeder.set({}, flags=FrameFlags.FACE_PRESENT | FrameFlags.PAUSED)
    win.wait("overlay", lambda e: e["state"] == "paused")
    theirs = win.shot()
    assert banner_differs(theirs, live)
    assert banner_differs(theirs, ours), "our pause and theirs read the same"
    # Their pause survives a "connected" notice (the rings decide again after it).
    win.cmd("overlay", state="connected")
    win.wait("overlay", lambda e: e["state"] == "connected")
    win.wait("overlay", lambda e: e["state"] == "paused")
    feeder.set({})
    win.wait("overlay", lambda e: e["state"] == "")

    # Recalibrating: the instruction with a countdown that changes by itself.
    win.cmd("overlay", state="recalibrating", seconds=5)
    win.wait("overlay", lambda e: e["state"] == "recalibrating")
    first = win.shot()
    time.sleep(1.1)
    second = win.shot()
    assert banner_differs(first, live)
    assert banner_differs(first, second, at_least=20), "the countdown did not move"
    win.cmd("overlay", state="calibrated")
    win.wait("overlay", lambda e: e["state"] == "")

    # Refused: stays, with the reason, and nobody is behind the avatar.
    win.cmd("overlay", state="refused", detail="the room already has two people in it")
    win.wait("overlay", lambda e: e["state"] == "refused")
    refused = win.shot()
    assert banner_differs(refused, live)
    assert banner_differs(refused, left)
    assert brightness(avatar(refused)) < 0.8 * brightness(avatar(live))
    win.cmd("overlay", state="auto")  # the rings alone would say the peer is live
    win.wait("overlay", lambda e: e["state"] == "")


@pytest.mark.skipif(shutil.which("xprop") is None, reason="xprop is not installed (x11-utils)")
def test_title_carries_the_peers_name_made_safe(window: Opened, xvfb_display: str) -> None:
    win, _feeder = window
    ready = next(e for e in win.all_events if e["event"] == "ready")
    wid = ready["x_window"]
    assert wid, "no X window id in ready"

    def title() -> str:
        out = subprocess.run(
            ["xprop", "-display", xvfb_display, "-id", str(wid), "-notype", "_NET_WM_NAME"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out

    assert "avatarchat" in title()
    hostile = "Bob\x1b]0;pwned\x07\u202e  the builder" + "x" * 200
    # (Window.cmd's own first parameter is called ``name``: write this line directly.)
    assert win.proc.stdin is not None
    win.proc.stdin.write(json.dumps({"cmd": "peer_name", "name": hostile}) + "\n")
    win.proc.stdin.flush()
    deadline = time.monotonic() + 10
    while "Bob" not in title() and time.monotonic() < deadline:
        time.sleep(0.1)
    shown = title()
    assert "Bob" in shown and "avatarchat" in shown, shown
    assert "\x1b" not in shown and "\\033" not in shown and "\u202e" not in shown
    assert "x" * 41 not in shown, "the name was not cut"
