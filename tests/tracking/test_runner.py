"""The child loop in-process: a camera that is unplugged mid-run and comes back, stats, and
commands arriving between frames. No webcam exists on CI, so the unplug is a Source that fails
the way CameraSource does (CameraError from read), around the real loop and tracker."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

from protocol.channel import ChildChannel
from protocol.frame import FrameFlags
from tracking.errors import CameraError
from tracking.pipeline import Tracker
from tracking.runner import TrackingLoop
from tracking.sources import CapturedFrame, Source, SyntheticSource


class UnpluggedCamera(Source):
    """Frames from the synthetic face; reads 10..13 fail as an unplugged camera does, and the
    first open after that fails too (the device node is not back yet)."""

    kind = "camera"
    description = "camera /dev/video0 (test)"

    def __init__(self) -> None:
        super().__init__()
        self.inner = SyntheticSource(paced=False)
        self.reads = 0
        self.opens = 1  # opened once before the loop starts, as python -m tracking does
        self.closed = 0

    def open(self) -> None:
        self.opens += 1
        if self.opens == 2:
            raise CameraError("no camera at /dev/video0")

    def read(self, stop: threading.Event) -> CapturedFrame | None:
        self.reads += 1
        if self.reads == 10:
            raise CameraError("camera /dev/video0 stopped delivering frames (unplugged?)")
        if self.reads > 10 and self.opens < 3:
            self.open()
        return self.inner.read(stop)

    def close(self) -> None:
        self.closed += 1


def test_unplugged_camera_is_reported_retried_and_recovered() -> None:
    out = io.StringIO()
    source = UnpluggedCamera()
    frames: list[Any] = []
    channel = ChildChannel(commands_in=[], output=out)
    loop = TrackingLoop(
        source,
        Tracker(load_model=False),
        channel=channel,
        max_frames=30,
        backoff_s=(0.01, 0.02),
        on_frame=frames.append,
    )
    assert loop.run() == 0
    channel.close()
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    states = [e["state"] for e in events if e["event"] == "status"]
    assert states == ["running", "camera_error", "running"]
    errors = [e["message"] for e in events if e.get("state") == "camera_error"]
    assert "unplugged" in errors[0] and "retrying" in errors[0]
    assert len(frames) == 30 and all(f.flags & FrameFlags.FACE_PRESENT for f in frames)
    assert source.closed >= 1 and events[-1]["event"] == "stats"


def test_commands_between_frames() -> None:
    stdin = io.StringIO('{"cmd":"pause","on":true}\nnot json\n{"cmd":"emotion","preset":9}\n')
    out = io.StringIO()
    channel = ChildChannel(commands_in=stdin, output=out)
    channel.start()
    frames: list[Any] = []
    loop = TrackingLoop(
        SyntheticSource(paced=False),
        Tracker(load_model=False),
        channel=channel,
        on_frame=frames.append,
    )
    assert loop.run() == 0  # EOF after the three lines means quit
    channel.close()
    assert channel.bad_lines == 1
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {"event": "status", "state": "paused"}.items() <= next(
        e for e in events if e.get("state") == "paused"
    ).items()
    errors = [e["message"] for e in events if e["event"] == "error"]
    assert any("bad command line" in m for m in errors)
    assert any("'emotion'" in m for m in errors)
    assert all(not e.get("fatal") for e in events if e["event"] == "error")
    assert all(f.flags == FrameFlags.PAUSED for f in frames[-3:])
