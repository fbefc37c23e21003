"""A clip tracked frame by frame through the real tracker (MediaPipe), shared by the tracking
tests and the render-window tests: the vendored d10 clip is tracked once per session
(``d10_run`` in tests/conftest.py), not once per test module that needs its frames."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from protocol.frame import ParamFrame
from tracking.pipeline import Tracker
from tracking.sources import ClipSource


@dataclass
class ClipRun:
    """A clip tracked frame by frame: what MediaPipe said (raw) and what we emitted."""

    frames: list[ParamFrame]
    raw_weights: np.ndarray  # (n, 52), NaN rows where no face
    raw_rotation: np.ndarray  # (n, 3)
    raw_translation: np.ndarray  # (n, 3)
    total_ms: list[float]

    @property
    def weights(self) -> np.ndarray:
        return np.array([f.weights() for f in self.frames])

    @property
    def rotation(self) -> np.ndarray:
        return np.array([f.head_rotation for f in self.frames])

    @property
    def translation(self) -> np.ndarray:
        return np.array([f.head_translation for f in self.frames])


def track_clip(
    path: Path, *, flip: bool = False, mirror: bool = False, limit: int | None = None
) -> ClipRun:
    """Run a clip once, unpaced, through a fresh tracker (no calibration, default smoothing)."""
    source = ClipSource(path, loop=False, paced=False, flip=flip)
    source.open()
    stop = threading.Event()
    frames: list[ParamFrame] = []
    raw_w: list[np.ndarray] = []
    raw_r: list[np.ndarray] = []
    raw_t: list[np.ndarray] = []
    total: list[float] = []
    with Tracker(mirror=mirror) as tracker:
        while limit is None or len(frames) < limit:
            captured = source.read(stop)
            if captured is None:
                break
            frames.append(tracker.process_captured(captured))
            raw = tracker.last_raw
            raw_w.append(raw.weights if raw is not None else np.full(52, np.nan))
            raw_r.append(raw.rotation if raw is not None else np.full(3, np.nan))
            raw_t.append(raw.translation if raw is not None else np.full(3, np.nan))
            total.append(tracker.times.total)
    source.close()
    return ClipRun(frames, np.array(raw_w), np.array(raw_r), np.array(raw_t), total)
