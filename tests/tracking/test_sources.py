"""Frame sources: spec strings, looping, pacing, stills, synthetic frames, camera faults."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tracking.camera import CameraSource, list_cameras
from tracking.errors import CameraError, SourceError
from tracking.sources import (
    SAMPLE_CLIP,
    ClipSource,
    StillSource,
    SyntheticSource,
    parse_source,
)

STOP = threading.Event()


def test_spec_strings() -> None:
    assert isinstance(parse_source("sample"), ClipSource)
    assert isinstance(parse_source("synthetic"), SyntheticSource)
    cam = parse_source("camera:2")
    assert isinstance(cam, CameraSource) and cam.path == "/dev/video2"
    assert isinstance(parse_source("/dev/video1"), CameraSource)
    assert isinstance(parse_source("x/face.PNG"), StillSource)
    assert isinstance(parse_source("clip.mp4", paced=False), ClipSource)
    with pytest.raises(SourceError, match="unknown source"):
        parse_source("rtsp://example/stream")


def test_clip_loops_and_converts_to_rgb() -> None:
    source = ClipSource(SAMPLE_CLIP, paced=False, width=256, height=256, flip=True)
    source.open()
    cap = cv2.VideoCapture(str(SAMPLE_CLIP))
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, first_bgr = cap.read()
    cap.release()
    assert ok and source.fps == pytest.approx(30.0)
    first = source.read(STOP)
    assert first is not None and first.rgb is not None
    assert first.rgb.shape == (256, 256, 3) and first.rgb.flags["C_CONTIGUOUS"]
    expected = cv2.cvtColor(
        cv2.flip(cv2.resize(first_bgr, (256, 256), interpolation=cv2.INTER_AREA), 1),
        cv2.COLOR_BGR2RGB,
    )
    assert np.array_equal(first.rgb, expected)
    for _ in range(count + 5):  # past the end: it loops
        frame = source.read(STOP)
        assert frame is not None
    assert source.frames_read == count + 6
    source.close()


def test_unpaced_clip_has_media_time_and_ends_without_loop() -> None:
    source = ClipSource(SAMPLE_CLIP, paced=False, loop=False)
    times = []
    while (frame := source.read(STOP)) is not None:
        times.append(frame.media_ns)
    assert len(times) == 448
    steps = np.diff(times)
    assert np.all(np.abs(steps - 1e9 / 30) <= 1)  # the clip's own frame period, not wall time


def test_paced_clip_keeps_its_frame_rate() -> None:
    source = ClipSource(SAMPLE_CLIP, fps=50)
    stamps = [source.read(STOP).capture_ns for _ in range(16)]  # type: ignore[union-attr]
    elapsed = (stamps[-1] - stamps[0]) / 1e9
    assert 15 / 50 * 0.95 <= elapsed < 15 / 50 + 1.0  # upper bound generous: shared CI cores
    source.close()


def test_still_repeats_one_image(tmp_path: Path) -> None:
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), np.full((40, 60, 3), (10, 20, 30), np.uint8))
    source = StillSource(path, paced=False)
    a, b = source.read(STOP), source.read(STOP)
    assert a is not None and b is not None and a.rgb is b.rgb
    assert tuple(a.rgb[0, 0]) == (30, 20, 10)  # BGR on disk -> RGB for MediaPipe
    with pytest.raises(SourceError, match="cannot read image"):
        StillSource(tmp_path / "missing.png").open()


def test_synthetic_is_deterministic_and_smooth() -> None:
    a = SyntheticSource(paced=False)
    b = SyntheticSource(paced=False, flip=True)
    frames = [a.read(STOP) for _ in range(100)]
    flipped = [b.read(STOP) for _ in range(100)]
    yaws = np.array([f.raw.rotation[1] for f in frames])  # type: ignore[union-attr]
    assert np.max(np.abs(np.diff(yaws))) < 0.05
    assert np.allclose([f.raw.rotation[1] for f in flipped], -yaws)  # type: ignore[union-attr]
    blinks = [SyntheticSource.params_at(t / 30).weights[9] for t in range(0, 90)]
    assert max(blinks) > 0.95


def test_missing_clip_and_missing_camera_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="clip not found"):
        ClipSource(tmp_path / "none.mp4").open()
    with pytest.raises(CameraError, match="no camera at /dev/video63"):
        CameraSource(63).open()


def test_list_cameras_reads_names_from_sysfs(tmp_path: Path) -> None:
    for node, name, index in (
        ("video0", "HD Webcam", "0"),
        ("video1", "HD Webcam", "1"),
        ("video2", "Capture Card", "0"),
    ):
        (tmp_path / node).mkdir()
        (tmp_path / node / "name").write_text(name + "\n")
        (tmp_path / node / "index").write_text(index + "\n")
    cams = list_cameras(tmp_path)
    assert [(c.index, c.path, c.name) for c in cams] == [
        (0, "/dev/video0", "HD Webcam"),
        (2, "/dev/video2", "Capture Card"),
    ]
    assert list_cameras(tmp_path / "absent") == []


def test_pacer_does_not_burst_after_a_stall() -> None:
    from tracking.sources import Pacer

    pacer = Pacer(100)
    stop = threading.Event()
    pacer.wait(stop)
    time.sleep(0.1)  # a 10-frame stall (simulating a slow decode): the thing under test
    t0 = time.monotonic()
    for _ in range(3):
        pacer.wait(stop)
    assert time.monotonic() - t0 >= 0.015  # re-anchored: frames keep their spacing
