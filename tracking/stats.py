"""Per-stage timing, FPS and CPU figures for the 1 Hz ``stats`` event and the benchmark.

Stages, in frame order: ``capture`` (decode + colour conversion after the frame became
available), ``inference`` (MediaPipe), ``params`` (pose, mirror, calibration, smoothing, emotion,
quantisation), ``encode`` (CBOR) and ``ring`` (shared-memory write + wake-ups). Beside them,
``body_ms`` (the hand and pose models' mean time per frame - they take turns, most frames run
neither - after the frame is out: not on the frame's path, but on the CPU) and ``busy`` (the
share of the report's wall time spent on frames rather than waiting for the source: near 1 when
the tracker, not the camera, sets the rate; what
:class:`tracking.body_policy.BodyGovernor` reads).

The samples live in :class:`protocol.stats.Series` and the percentiles are its nearest-rank ones,
so a tracking p95 means what a networking or render p99 means. The report covers the frames
since the previous report (the recent window is cleared after each one); the benchmark keeps a
long window of every frame (up to :data:`protocol.stats.LONG_WINDOW`) for its percentiles.
"""

from __future__ import annotations

import time
from dataclasses import fields

from protocol.stats import LONG_WINDOW, CpuMeter, Series, rounded

from .pipeline import StageTimes

STAGES = tuple(f.name for f in fields(StageTimes))
#: Recent-window capacity: more than one report's worth of frames at up to 60 fps.
REPORT_WINDOW = 256


class FrameStats:
    """Counts frames and keeps per-stage times: a window for the periodic report and, with
    ``keep_all``, a long window of every frame for the benchmark's percentiles."""

    def __init__(self, keep_all: bool = False) -> None:
        self.frames = 0
        self.faces = 0
        self.keep_all = keep_all
        long = LONG_WINDOW if keep_all else 0
        self.series: dict[str, Series] = {
            s: Series(window=REPORT_WINDOW, long=long) for s in (*STAGES, "total")
        }
        self._window_start = time.monotonic()
        self._window_frames = 0
        self._busy_s = 0.0
        self._body_ms: list[float] = []
        self.cpu = CpuMeter()

    def record(
        self, times: StageTimes, face: bool, *, busy_s: float = 0.0, body_ms: float | None = None
    ) -> None:
        """One frame: its stage times, whether a face was found, the loop's wall time on it
        (``busy_s``, body included) and the body models' time on it (None: body off)."""
        self._busy_s += busy_s
        if body_ms is not None:
            self._body_ms.append(body_ms)
        self.frames += 1
        self.faces += int(face)
        self._window_frames += 1
        for stage in STAGES:
            self.series[stage].add(getattr(times, stage))
        self.series["total"].add(times.total)

    def all_values(self) -> dict[str, list[float]]:
        """Every recorded frame's times per stage (``keep_all``), for pooling across runs."""
        return {s: series.values(whole=True) for s, series in self.series.items()}

    def report(self) -> dict[str, object]:
        """Figures for the frames since the last report (then a new window starts); a
        percentile is None when no frame arrived in the window."""
        now = time.monotonic()
        elapsed = now - self._window_start
        out: dict[str, object] = {
            "fps": round(self._window_frames / elapsed, 2) if elapsed > 0 else 0.0,
            "frames": self.frames,
            "faces": self.faces,
            "stage_ms": {s: rounded(v.p(50), 3) for s, v in self.series.items()},
            "frame_ms_p95": rounded(self.series["total"].p(95), 3),
            "body_ms": rounded(sum(self._body_ms) / len(self._body_ms), 3)
            if self._body_ms
            else None,
            "busy": round(min(1.0, self._busy_s / elapsed), 3) if elapsed > 0 else 0.0,
            "cpu": round(self.cpu.sample(), 1),
        }
        for series in self.series.values():
            series.clear_recent()
        self._body_ms.clear()
        self._window_start = now
        self._window_frames = 0
        self._busy_s = 0.0
        return out
