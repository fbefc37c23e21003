"""Per-stage timing, FPS and CPU figures for the 1 Hz ``stats`` event and the benchmark.

Stages, in frame order: ``capture`` (decode + colour conversion after the frame became
available), ``inference`` (MediaPipe), ``params`` (pose, mirror, calibration, smoothing, emotion,
quantisation), ``encode`` (CBOR) and ``ring`` (shared-memory write + wake-ups).
"""

from __future__ import annotations

import time
from dataclasses import fields

import numpy as np

from .pipeline import StageTimes

STAGES = tuple(f.name for f in fields(StageTimes))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


class CpuMeter:
    """Percent of one core used by this process (all threads) since the last call."""

    def __init__(self) -> None:
        self._cpu = time.process_time()
        self._wall = time.monotonic()

    def sample(self) -> float:
        cpu, wall = time.process_time(), time.monotonic()
        elapsed = wall - self._wall
        pct = 100.0 * (cpu - self._cpu) / elapsed if elapsed > 0 else 0.0
        self._cpu, self._wall = cpu, wall
        return pct


class FrameStats:
    """Counts frames and keeps per-stage times: a window for the periodic report and, with
    ``keep_all``, every frame for the benchmark's percentiles."""

    def __init__(self, keep_all: bool = False) -> None:
        self.frames = 0
        self.faces = 0
        self.keep_all = keep_all
        self.all: dict[str, list[float]] = {s: [] for s in (*STAGES, "total")}
        self._window: dict[str, list[float]] = {s: [] for s in (*STAGES, "total")}
        self._window_start = time.monotonic()
        self._window_frames = 0
        self.cpu = CpuMeter()

    def record(self, times: StageTimes, face: bool) -> None:
        self.frames += 1
        self.faces += int(face)
        self._window_frames += 1
        values = {s: getattr(times, s) for s in STAGES}
        values["total"] = times.total
        for stage, value in values.items():
            self._window[stage].append(value)
            if self.keep_all:
                self.all[stage].append(value)

    def report(self) -> dict[str, object]:
        """Figures for the window since the last report (then a new window starts)."""
        now = time.monotonic()
        elapsed = now - self._window_start
        window = self._window
        out: dict[str, object] = {
            "fps": round(self._window_frames / elapsed, 2) if elapsed > 0 else 0.0,
            "frames": self.frames,
            "faces": self.faces,
            "stage_ms": {s: round(percentile(v, 50), 3) for s, v in window.items()},
            "frame_ms_p95": round(percentile(window["total"], 95), 3),
            "cpu": round(self.cpu.sample(), 1),
        }
        self._window = {s: [] for s in window}
        self._window_start = now
        self._window_frames = 0
        return out
