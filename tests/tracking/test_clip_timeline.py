"""A clip on a timeline shared with its audio (``--clip-epoch-ns``): frame ``k`` is the clip's
frame for instant ``epoch + k / fps``, so a tracker that starts late skips what it missed
instead of showing the clip behind the voice the networking process plays."""

from __future__ import annotations

import threading
import time

import numpy as np

from call.config import CallConfig
from tracking.sources import SAMPLE_CLIP, ClipSource, parse_source


def _frames(source: ClipSource, count: int) -> list[np.ndarray]:
    stop = threading.Event()
    out = []
    for _ in range(count):
        frame = source.read(stop)
        assert frame is not None and frame.rgb is not None
        out.append(frame.rgb)
    return out


def test_a_late_start_skips_to_the_frame_of_now() -> None:
    reference = ClipSource(SAMPLE_CLIP, paced=False)
    reference.open()
    fps = reference.fps
    frames = _frames(reference, 40)
    reference.close()

    late = parse_source("sample", clip_epoch_ns=time.monotonic_ns() - 10**9)
    assert isinstance(late, ClipSource)
    late.open()
    first = _frames(late, 1)[0]
    late.close()
    # one second late: about fps frames skipped, and the frame shown is that instant's
    assert fps - 3 <= late.frames_skipped <= fps + 8, late.frames_skipped
    shown = late.frames_skipped
    diffs = [float(np.abs(first.astype(np.int16) - f.astype(np.int16)).mean()) for f in frames]
    assert int(np.argmin(diffs)) == shown
    assert late.stats() == {"clip_frames_skipped": shown}


def test_an_epoch_ahead_waits_for_it() -> None:
    epoch = time.monotonic_ns() + 200_000_000
    source = parse_source("sample", clip_epoch_ns=epoch)
    assert isinstance(source, ClipSource)
    frame = source.read(threading.Event())
    source.close()
    assert frame is not None and frame.capture_ns >= epoch
    assert source.frames_skipped == 0


def test_the_call_gives_both_children_one_timeline() -> None:
    config = CallConfig(room="r", source="sample", mic="clip")
    tracker = config.tracking_argv("ring-l")
    peer = config.peer_argv("ws://127.0.0.1:1", "ring-l", "ring-r")
    epoch = tracker[tracker.index("--clip-epoch-ns") + 1]
    assert peer[peer.index("--clip-epoch-ns") + 1] == epoch
    # a restarted child rejoins the same timeline
    again = config.tracking_argv("ring-l")
    assert again[again.index("--clip-epoch-ns") + 1] == epoch
    # no clip audio, no timeline
    assert "--clip-epoch-ns" not in CallConfig(room="r", source="sample").tracking_argv("x")
    assert "--clip-epoch-ns" not in CallConfig(room="r", mic="clip", voice=False).tracking_argv("x")
