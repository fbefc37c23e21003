"""Frame pacing and frame-time statistics.

pyglet's ``clock.schedule_interval`` sleeps with coarse OS timers and drifts into alternating
16/33 ms frames (60/30 fps judder), so the window runs its own loop: work, flip, then wait for
the next deadline on ``time.perf_counter``, sleeping most of the way and spinning the last
stretch. Deadlines advance by a fixed period (no drift); after a long stall the schedule is
re-anchored instead of racing to catch up.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

#: Sleep until this close to the deadline, then spin: Linux wakes a sleeper within ~0.1 ms, so
#: spinning the last 0.5 ms keeps frames even. Not longer: on a loaded machine a wake-up that
#: is later than that is a lost time slice (several ms) no spin can cover, and every spun ms is
#: taken from tracking and networking (1.5 ms was ~9% of a core at 60 fps).
SPIN_S = 0.0005
#: Frame-time history for the percentile stats (about 2 s at 60 fps).
WINDOW = 120
#: Whole-run histogram of frame intervals: 0.1 ms bins up to 250 ms (longer ones land in the
#: last bin); constant memory however long a call lasts.
HIST_BIN_MS = 0.1
HIST_BINS = 2500


class FramePacer:
    """Fixed-rate deadlines: call :meth:`wait` once per frame after presenting."""

    def __init__(self, fps: float = 60.0) -> None:
        self.period = 1.0 / fps
        self._next = time.perf_counter() + self.period

    def wait(self) -> None:
        now = time.perf_counter()
        if now > self._next + self.period:
            # More than a whole frame late: re-anchor rather than fire a burst of frames.
            self._next = now + self.period
            return
        remaining = self._next - now
        if remaining > SPIN_S:
            time.sleep(remaining - SPIN_S)
        while time.perf_counter() < self._next:
            pass
        self._next += self.period

    def time_left(self) -> float:
        """Seconds until the next deadline (negative when late)."""
        return self._next - time.perf_counter()


class FrameStats:
    """Presented-frame intervals and per-frame work times over a sliding window."""

    def __init__(self) -> None:
        self._intervals: deque[float] = deque(maxlen=WINDOW)
        self._work: deque[float] = deque(maxlen=WINDOW)
        self._last_present: float | None = None
        self.frames = 0
        self._window_start = time.perf_counter()
        self._window_frames = 0
        self._hist = np.zeros(HIST_BINS, dtype=np.int64)

    def reset_run(self) -> None:
        """Start the whole-run percentiles afresh (e.g. after a benchmark's warm-up)."""
        self._hist[:] = 0

    def run_percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0..100) of all frame intervals since the last reset, ms."""
        total = int(self._hist.sum())
        if total == 0:
            return None
        k = int(np.searchsorted(np.cumsum(self._hist), q / 100.0 * total))
        return (min(k, HIST_BINS - 1) + 0.5) * HIST_BIN_MS

    def presented(self, at: float, work_s: float) -> None:
        """Record a flip at ``at`` (perf_counter) after ``work_s`` seconds of frame work."""
        if self._last_present is not None:
            interval = at - self._last_present
            self._intervals.append(interval)
            self._hist[min(HIST_BINS - 1, int(interval * 1000.0 / HIST_BIN_MS))] += 1
        self._last_present = at
        self._work.append(work_s)
        self.frames += 1
        self._window_frames += 1

    def work_p50(self, cap: float) -> float:
        """Median frame work (s) over the window, at most ``cap``; 0 before the first frame."""
        if not self._work:
            return 0.0
        return min(cap, float(np.median(self._work)))

    def snapshot(self) -> dict[str, float]:
        """fps since the last snapshot, frame interval p50/p99 and work-time p50/p99 (ms)."""
        now = time.perf_counter()
        span = now - self._window_start
        fps = self._window_frames / span if span > 0 else 0.0
        self._window_start, self._window_frames = now, 0
        out = {"fps": round(fps, 2)}
        if self._intervals:
            iv = np.asarray(self._intervals) * 1000.0
            out["frame_ms_p50"] = round(float(np.percentile(iv, 50)), 3)
            out["frame_ms_p99"] = round(float(np.percentile(iv, 99)), 3)
            out["frame_ms_max"] = round(float(iv.max()), 3)
        for q in (50, 99):
            value = self.run_percentile(q)
            if value is not None:
                out[f"run_frame_ms_p{q}"] = round(value, 2)
        if self._work:
            wk = np.asarray(self._work) * 1000.0
            out["work_ms_p50"] = round(float(np.percentile(wk, 50)), 3)
            out["work_ms_p99"] = round(float(np.percentile(wk, 99)), 3)
        return out
