"""The face frame is not held back by the body models (``Tracker(defer_body=True)``, what the
tracking process runs): the hand or pose model runs on an image after that image's face frame is
out, and its body goes out with the next frame. Real models on a real image (../shared)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from protocol.frame import ParamFrame
from protocol.ring import ShmRing
from tracking.pipeline import Tracker
from tracking.runner import TrackingLoop
from tracking.sources import StillSource

SHARED = Path(__file__).resolve().parents[3] / "shared" / "testdata"
#: Both hands and both arms in view (see test_body_tracking's truth table).
S3 = SHARED / "faces" / "s3.jpg"


@pytest.fixture(scope="module")
def s3() -> Path:
    if not S3.is_file():
        pytest.skip("needs ../shared/testdata/faces/s3.jpg")
    return S3


def _model_turns(tracker: Tracker) -> int:
    bt = tracker.body_tracker
    assert bt is not None
    return bt.hand_runs + bt.hand_skips + bt.pose_runs


def test_the_face_frame_comes_out_before_the_body_models_run_on_its_image(s3: Path) -> None:
    image = cv2.imread(str(s3))
    assert image is not None
    rgb = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    tracker = Tracker(body=True, defer_body=True)
    try:
        frames: list[ParamFrame] = []
        turns = []
        for i in range(12):
            before = _model_turns(tracker)
            frames.append(tracker.process(rgb, (i + 1) * 33_000_000))
            assert _model_turns(tracker) == before  # nothing ran before the frame was out
            tracker.track_pending_body()
            turns.append(_model_turns(tracker) - before)
            tracker.track_pending_body()  # nothing left pending: a second call runs nothing
            assert _model_turns(tracker) == before + turns[-1]
        # The hand and pose models still take their turns: 2 of every 3 frames.
        assert turns == [1, 1, 0] * 4
        assert frames[0].body is None  # no body model had run yet
        assert all(f.face_present for f in frames)
        last = frames[-1].body
        assert last is not None and all(arm is not None for arm in last.arms)
    finally:
        tracker.close()


def test_the_tracking_loop_writes_then_runs_the_body_models(s3: Path) -> None:
    ring = ShmRing.create("test")
    reader = ring.reader()
    tracker = Tracker(body=True, defer_body=True)
    try:
        loop = TrackingLoop(
            StillSource(s3, paced=False), tracker, ring=ring.writer(), max_frames=12
        )
        assert loop.run() == 0
        assert tracker.body_tracker is not None and tracker.body_tracker.pose_runs == 4
        record = reader.read_latest()
        assert record is not None
        frame = ParamFrame.decode(record.payload)
        assert frame.seq == 12 and frame.body is not None
    finally:
        tracker.close()
        reader.close()
        ring.close()
