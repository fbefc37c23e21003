"""Neutral-face calibration: offsets and gains, TOML in the config dir, applied by the tracker."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from protocol.blendshapes import BLENDSHAPE_INDEX
from protocol.frame import FrameFlags
from tracking.calibration import MAX_GAIN, Calibration, load_calibration
from tracking.config import calibration_path
from tracking.errors import CalibrationError
from tracking.params import RawParams
from tracking.pipeline import Tracker
from tracking.smoothing import SmoothingConfig

BLINK_L = BLENDSHAPE_INDEX["eyeBlinkLeft"]
JAW = BLENDSHAPE_INDEX["jawOpen"]
NS_PER_FRAME = 33_333_333


def resting_face(rng: np.random.Generator) -> RawParams:
    """A face whose eyes rest at 0.3 closed and whose head rests turned 0.1 rad, +- jitter."""
    w = np.clip(rng.normal(0.02, 0.005, 52), 0, 1)
    w[BLINK_L] = 0.3 + rng.normal(0, 0.01)
    return RawParams(w, np.array([0.2, 0.1, 0.0]), np.array([1.0, -3.0, -45.0]))


def test_offsets_and_gains_map_rest_to_zero_and_full_to_one() -> None:
    rng = np.random.default_rng(3)
    samples = [resting_face(rng) for _ in range(60)]
    cal = Calibration.from_samples(
        [s.weights for s in samples],
        [s.rotation for s in samples],
        [s.translation for s in samples],
    )
    assert cal.offsets[BLINK_L] == pytest.approx(0.3, abs=0.01)
    assert cal.gains[BLINK_L] == pytest.approx(1 / 0.7, rel=0.03)
    rest = resting_face(rng)
    w, rot, trans = cal.apply(rest.weights, rest.rotation, rest.translation)
    assert w[BLINK_L] < 0.05 and np.allclose(rot, 0) and np.allclose(trans, 0)
    full = rest.weights.copy()
    full[BLINK_L] = 1.0
    assert cal.apply(full, rest.rotation, rest.translation)[0][BLINK_L] == pytest.approx(1.0)
    assert cal.offsets[BLENDSHAPE_INDEX["_neutral"]] == 0.0
    assert np.all(cal.gains <= MAX_GAIN)


def test_too_few_face_frames_is_refused() -> None:
    with pytest.raises(CalibrationError, match="at least"):
        Calibration.from_samples([np.zeros(52)] * 3, [np.zeros(3)] * 3, [np.zeros(3)] * 3)


def test_toml_round_trip_in_the_config_dir(private_config_dir: Path) -> None:
    rng = np.random.default_rng(4)
    samples = [resting_face(rng) for _ in range(20)]
    cal = Calibration.from_samples(
        [s.weights for s in samples],
        [s.rotation for s in samples],
        [s.translation for s in samples],
    )
    path = cal.save()
    assert path == private_config_dir / "calibration.toml" == calibration_path()
    data = tomllib.loads(path.read_text())
    assert data["version"] == 1 and len(data["blendshapes"]["offsets"]) == 52
    loaded = load_calibration()
    assert loaded is not None
    assert np.allclose(loaded.offsets, cal.offsets, atol=1e-5)
    assert np.allclose(loaded.rotation_offset, cal.rotation_offset, atol=1e-5)


def test_a_broken_file_is_ignored_not_fatal(private_config_dir: Path) -> None:
    (private_config_dir / "calibration.toml").write_text(
        "version = 1\n[blendshapes]\noffsets=[1]\n"
    )
    assert load_calibration() is None
    (private_config_dir / "calibration.toml").write_text("not toml {")
    assert load_calibration() is None
    assert load_calibration(private_config_dir / "missing.toml") is None


def test_recalibrating_changes_neutral_output(private_config_dir: Path) -> None:
    """Before: the resting face reads eyes 0.3 closed and the head turned. After recording one
    second of it: rest reads ~0 and the CALIBRATED flag is set; the file is in the config dir;
    a new tracker picks it up on start."""
    rng = np.random.default_rng(5)
    tracker = Tracker(load_model=False, smoothing=SmoothingConfig(enabled=False))
    t = 0
    frame = tracker.process_raw(resting_face(rng), t)
    assert frame.weight("eyeBlinkLeft") == pytest.approx(0.3, abs=0.04)
    assert not frame.flags & FrameFlags.CALIBRATED
    tracker.start_calibration(1.0)
    while tracker.calibrating:
        t += NS_PER_FRAME
        tracker.process_raw(resting_face(rng), t)
    assert isinstance(tracker.calibration_result, Calibration)
    assert (private_config_dir / "calibration.toml").is_file()
    frame = tracker.process_raw(resting_face(rng), t + NS_PER_FRAME)
    assert frame.flags & FrameFlags.CALIBRATED
    assert frame.weight("eyeBlinkLeft") < 0.06
    assert frame.head_rotation == pytest.approx((0, 0, 0), abs=1e-3)
    fresh = Tracker(load_model=False, calibration=load_calibration())
    assert fresh.process_raw(resting_face(rng), 0).flags & FrameFlags.CALIBRATED


def test_calibration_without_a_face_fails_cleanly() -> None:
    tracker = Tracker(load_model=False)
    tracker.start_calibration(0.5)
    n = 0
    while tracker.calibrating:
        n += 1
        tracker.process_raw(None, n * NS_PER_FRAME)
    assert 165 <= n <= 168  # gave up 5 s after the 0.5 s asked for, at 30 FPS
    assert isinstance(tracker.calibration_result, CalibrationError)
    assert tracker.calibration is None
