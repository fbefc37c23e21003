"""Real faces through the real tracker: the vendored d10 clip (always), the shared clips (when
../shared is there), a generated clip with no face, and mirroring on real images.

Tolerance for "emitted tracks raw MediaPipe": quantisation is 1/255 (0.004 max error, 0.002
after rounding) and float16 pose; the rest is the One Euro filters' lag on fast motion, which we
measured on d10 at 30 FPS as a per-channel mean error <= 0.012 and p95 <= 0.033 (jawOpen and the
brows move fastest). We allow mean <= 0.03 and p95 <= 0.08 per channel, max <= 0.25 - about 2.5x
the measured figures, so MediaPipe's run-to-run and CPU-to-CPU variation does not make the test
flaky, while a wrong channel order, a broken filter or a lost peak fails it by far. Pose:
p95 <= 0.06 rad (3.4 degrees) and <= 0.8 cm.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from protocol.blendshapes import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES
from protocol.frame import Emotion, FrameFlags, ParamFrame
from tests.tracked_clips import BACKGROUND, SHARED_CLIPS_BY_LENGTH, shared_clip_paths
from tracking.params import RawParams
from tracking.pipeline import Tracker
from tracking.smoothing import SmoothingConfig
from tracking.sources import SAMPLE_CLIP

from .conftest import ClipRun, track_clip

#: d10 is the vendored sample, byte-identical: d10_run covers it without ../shared.
SHARED_CLIPS = ("d0", "d3", "d6", "d9", "d12", "d18", "d20")


def peaks_above(values: np.ndarray, level: float) -> list[int]:
    return [
        k
        for k in range(1, len(values) - 1)
        if values[k] > level and values[k] >= values[k - 1] and values[k] >= values[k + 1]
    ]


def test_d10_face_in_every_frame(d10_run: ClipRun) -> None:
    assert len(d10_run.frames) == 448
    assert all(f.flags & FrameFlags.FACE_PRESENT for f in d10_run.frames)
    assert not np.isnan(d10_run.raw_weights).any()
    assert [f.seq for f in d10_run.frames] == list(range(1, 449))


def test_d10_blinks_and_jaw_come_through_smoothing(d10_run: ClipRun) -> None:
    emitted = d10_run.weights
    for name in ("eyeBlinkLeft", "jawOpen"):
        i = BLENDSHAPE_INDEX[name]
        assert emitted[:, i].max() > 0.8, name
    for name in ("eyeBlinkLeft", "eyeBlinkRight", "jawOpen"):
        i = BLENDSHAPE_INDEX[name]
        raw = d10_run.raw_weights[:, i]
        for k in peaks_above(raw, 0.8):
            near = emitted[max(0, k - 2) : k + 3, i].max()
            assert near >= raw[k] - 0.03, (name, k, raw[k], near)


def test_d10_emitted_tracks_raw_mediapipe(d10_run: ClipRun) -> None:
    err = np.abs(d10_run.weights - d10_run.raw_weights)
    worst_mean = {BLENDSHAPE_NAMES[i]: v for i, v in enumerate(err.mean(axis=0)) if v > 0.03}
    assert not worst_mean
    p95 = np.percentile(err, 95, axis=0)
    assert p95.max() <= 0.08, BLENDSHAPE_NAMES[int(p95.argmax())]
    assert err.max() <= 0.25
    rot_err = np.abs(d10_run.rotation - d10_run.raw_rotation)
    assert np.percentile(rot_err, 95, axis=0).max() <= 0.06
    trans_err = np.abs(d10_run.translation - d10_run.raw_translation)
    assert np.percentile(trans_err, 95, axis=0).max() <= 0.8


def test_d10_frames_are_small_and_seed_view_is_consistent(d10_run: ClipRun) -> None:
    for frame in d10_run.frames[::50]:
        data = frame.encode()
        assert len(data) <= 128
        back = ParamFrame.decode(data)
        seed = back.to_seed()
        assert seed["eyeBlinkLeft"] == round(frame.weight("eyeBlinkLeft"), 4)
        assert seed["mouthOpen"] == round(frame.weight("jawOpen"), 4)
    assert np.percentile(d10_run.total_ms, 50) < 100  # sanity only; the bench measures speed


@pytest.fixture(scope="module")
def shared_runs(shared_faces: Path) -> dict[str, ClipRun]:
    """Every shared clip tracked once (2,600 frames: tens of seconds of MediaPipe, whose VIDEO
    mode keeps about one core busy), two at a time in spawned processes, started in the
    background when the session began (tests/conftest.py, tests/tracked_clips.py)."""
    assert sorted(SHARED_CLIPS_BY_LENGTH) == sorted(SHARED_CLIPS)
    runs = BACKGROUND.results(shared_clip_paths(shared_faces))
    return dict(zip(SHARED_CLIPS_BY_LENGTH, runs, strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("clip", SHARED_CLIPS)
def test_shared_clip_faces_and_expressions(shared_runs: dict[str, ClipRun], clip: str) -> None:
    run = shared_runs[clip]
    assert run.frames and all(f.face_present for f in run.frames)
    emitted = run.weights
    for name in ("eyeBlinkLeft", "eyeBlinkRight", "jawOpen"):
        i = BLENDSHAPE_INDEX[name]
        raw_max = np.nanmax(run.raw_weights[:, i])
        assert emitted[:, i].max() >= raw_max - 0.05, (clip, name)  # peaks visible after smoothing
    assert np.abs(emitted - run.raw_weights).mean(axis=0).max() <= 0.03


def make_noise_clip(path: Path, frames: int = 45) -> Path:
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (320, 240))
    assert writer.isOpened()
    for n in range(frames):
        img = (
            rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
            if n % 2
            else np.full((240, 320, 3), 128, np.uint8)
        )
        writer.write(img)
    writer.release()
    return path


def test_clip_without_a_face(tmp_path: Path) -> None:
    run = track_clip(make_noise_clip(tmp_path / "noface.mp4"))
    assert len(run.frames) == 45
    assert not any(f.face_present for f in run.frames)
    assert all(f.blendshapes == bytes(52) and f.head_rotation == (0, 0, 0) for f in run.frames)


def test_mirrored_clip_flips_yaw_and_mirror_mode_keeps_it_right(d10_run: ClipRun) -> None:
    """d10 flipped at the source (uncorrected): head yaw changes sign. With mirror=True (the
    tracker flips the image itself, then corrects) the frames match the plain clip's, within
    MediaPipe's own left-right asymmetry."""
    n = 90
    yaw = d10_run.rotation[:n, 1]
    flipped = track_clip(SAMPLE_CLIP, flip=True, limit=n)
    mirrored = track_clip(SAMPLE_CLIP, mirror=True, limit=n)
    assert np.corrcoef(yaw, flipped.rotation[:, 1])[0, 1] < -0.85
    assert np.corrcoef(yaw, mirrored.rotation[:, 1])[0, 1] > 0.85
    assert np.abs(mirrored.rotation[:, 1] - yaw).mean() < 0.02
    assert not any(f.flags & FrameFlags.MIRRORED for f in mirrored.frames)
    err_mirrored = np.abs(mirrored.weights - d10_run.weights[:n]).mean()
    assert err_mirrored < np.abs(flipped.weights - d10_run.weights[:n]).mean()
    # Flip at the source *and* mirror mode: the tracker sees the original image, then
    # "corrects" it - left/right swapped, as the options say.
    both = track_clip(SAMPLE_CLIP, flip=True, mirror=True, limit=n)
    assert np.corrcoef(yaw, both.rotation[:, 1])[0, 1] < -0.85


def wink_image() -> np.ndarray:
    """A real wink made from d10: its open-eyed frame 212 with the image's right half taken
    from frame 223 (mid-blink). The image's right shows the subject's own LEFT eye."""
    cap = cv2.VideoCapture(str(SAMPLE_CLIP))
    frames = [cap.read()[1] for _ in range(224)]
    cap.release()
    img = frames[212].copy()
    half = img.shape[1] // 2
    img[:, half:] = frames[223][:, half:]
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def track_still(rgb: np.ndarray, mirror: bool) -> ParamFrame:
    with Tracker(mirror=mirror, smoothing=SmoothingConfig(enabled=False)) as tracker:
        for k in range(3):
            frame = tracker.process(rgb, (k + 1) * 33_333_333)
    return frame


def test_left_is_the_subjects_own_left_and_mirroring_swaps_it() -> None:
    """The convention, on a real wink: the subject's left eye closed reads eyeBlinkLeft. The same
    image mirrored reads eyeBlinkRight (left and right swap). In mirror mode the tracker tracks
    the mirrored image and corrects it: eyeBlinkLeft again, and the correction is exactly
    ParamFrame.mirrored()'s permutation of the uncorrected frame."""
    wink = wink_image()
    mirrored = np.ascontiguousarray(wink[:, ::-1])
    plain = track_still(wink, mirror=False)
    assert plain.weight("eyeBlinkLeft") > 0.5 > plain.weight("eyeBlinkRight") + 0.3
    swapped = track_still(mirrored, mirror=False)
    assert swapped.weight("eyeBlinkRight") > swapped.weight("eyeBlinkLeft") + 0.3
    corrected = track_still(wink, mirror=True)
    assert corrected.weight("eyeBlinkLeft") > corrected.weight("eyeBlinkRight") + 0.3
    expected = swapped.mirrored()
    assert expected.flags & FrameFlags.MIRRORED and not corrected.flags & FrameFlags.MIRRORED
    diff = np.abs(np.array(list(expected.blendshapes)) - np.array(list(corrected.blendshapes)))
    assert diff.max() <= 1  # the same inference, permuted (1 LSB: float order of operations)
    assert corrected.head_rotation == pytest.approx(expected.head_rotation, abs=2e-3)
    assert corrected.head_translation == pytest.approx(expected.head_translation, abs=0.05)


def test_tracker_process_api_on_an_rgb_array() -> None:
    cap = cv2.VideoCapture(str(SAMPLE_CLIP))
    ok, bgr = cap.read()
    cap.release()
    assert ok
    with Tracker() as tracker:
        frame = tracker.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), 123_456_789_000)
        assert frame.face_present and frame.timestamp_us == 123_456_789
        assert tracker.times.inference > 0 and tracker.last_raw is not None
        blank = tracker.process(np.zeros((200, 200, 3), np.uint8), 123_500_000_000)
        assert not blank.face_present


# -- tracking loss, pause and emotion on synthetic parameters (no model needed) -----------------
def face(value: float = 0.5) -> RawParams:
    w = np.full(52, value)
    return RawParams(w, np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0, -40.0]))


def test_loss_holds_the_pose_for_the_grace_period_then_recovers() -> None:
    tracker = Tracker(load_model=False, grace_s=0.5, smoothing=SmoothingConfig(enabled=False))
    ms = 1_000_000
    assert tracker.process_raw(face(), 0).flags == FrameFlags.FACE_PRESENT
    held = tracker.process_raw(None, 100 * ms)
    assert held.flags == FrameFlags.HELD and not held.face_present
    assert held.head_rotation == pytest.approx((0.1, 0.2, 0.3), abs=1e-3)
    assert held.weight("jawOpen") == pytest.approx(0.5, abs=0.003)
    assert tracker.process_raw(None, 500 * ms).flags == FrameFlags.HELD
    lost = tracker.process_raw(None, 501 * ms)
    assert lost.flags == FrameFlags(0) and lost.blendshapes == bytes(52)
    back = tracker.process_raw(face(0.9), 600 * ms)
    assert back.face_present and back.weight("jawOpen") == pytest.approx(0.9, abs=0.003)


def test_paused_frames_carry_no_face_data() -> None:
    tracker = Tracker(load_model=False)
    tracker.process_raw(face(), 0)
    paused = tracker.paused_frame(10_000_000)
    assert paused.flags == FrameFlags.PAUSED
    assert paused.blendshapes == bytes(52) and paused.head_rotation == (0, 0, 0)
    assert paused.head_translation == (0, 0, 0) and paused.seq == 2


def test_emotion_preset_biases_the_right_channels() -> None:
    tracker = Tracker(load_model=False, smoothing=SmoothingConfig(enabled=False))
    tracker.set_emotion(Emotion.HAPPY, 1.0)
    frame = tracker.process_raw(face(0.1), 0)
    assert frame.emotion is Emotion.HAPPY and frame.emotion_weight == 1.0
    assert frame.weight("mouthSmileLeft") == pytest.approx(0.9, abs=0.005)
    assert frame.weight("jawOpen") == pytest.approx(0.1, abs=0.005)  # untouched
    tracker.set_emotion(Emotion.HAPPY, 0.5)
    assert tracker.process_raw(face(0.1), 1).weight("mouthSmileRight") == pytest.approx(
        0.5, abs=0.005
    )
    tracker.set_emotion(Emotion.SURPRISED, 1.0)
    assert tracker.process_raw(face(0.1), 2).weight("browInnerUp") == pytest.approx(0.9, abs=0.005)
    tracker.set_emotion(Emotion.NEUTRAL, 1.0)
    cleared = tracker.process_raw(face(0.1), 3)
    assert cleared.emotion is None and cleared.weight("mouthSmileLeft") == pytest.approx(
        0.1, abs=0.005
    )


def test_head_pose_signs_on_real_images(shared_faces: Path) -> None:
    """d12.jpg looks up and has turned toward the image's right (the subject's own left):
    pitch < 0 (+ = looking down), yaw > 0 (+ = turning to the subject's left)."""
    rgb = cv2.cvtColor(cv2.imread(str(shared_faces / "d12.jpg")), cv2.COLOR_BGR2RGB)
    frame = track_still(rgb, mirror=False)
    pitch, yaw, _roll = frame.head_rotation
    assert pitch < -0.1 and yaw > 0.2


def test_roll_sign_on_a_rotated_real_frame() -> None:
    """A d10 frame turned 15 degrees counter-clockwise on screen tips the crown toward the
    image's left, the subject's own right: roll drops by ~0.26 rad (+ = toward their left)."""
    cap = cv2.VideoCapture(str(SAMPLE_CLIP))
    bgr = cap.read()[1]
    cap.release()
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    turned = cv2.warpAffine(rgb, cv2.getRotationMatrix2D((w / 2, h / 2), 15, 1.0), (w, h))
    base = track_still(rgb, mirror=False).head_rotation[2]
    rolled = track_still(np.ascontiguousarray(turned), mirror=False).head_rotation[2]
    assert rolled - base == pytest.approx(-np.radians(15), abs=0.06)


def test_mediapipe_blendshape_order_is_the_wire_order() -> None:
    """RawParams relies on MediaPipe emitting its 52 categories in protocol order."""
    import mediapipe as mp

    from tracking.model import create_landmarker, load_model_bytes

    cap = cv2.VideoCapture(str(SAMPLE_CLIP))
    rgb = cv2.cvtColor(cap.read()[1], cv2.COLOR_BGR2RGB)
    cap.release()
    landmarker = create_landmarker(load_model_bytes())
    try:
        result = landmarker.detect_for_video(
            mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), 1
        )
    finally:
        landmarker.close()
    names = tuple(c.category_name for c in result.face_blendshapes[0])
    assert names == BLENDSHAPE_NAMES
    raw = RawParams.from_result(result)
    assert raw is not None
    assert raw.weights[BLENDSHAPE_INDEX["jawOpen"]] == pytest.approx(
        next(c.score for c in result.face_blendshapes[0] if c.category_name == "jawOpen")
    )
