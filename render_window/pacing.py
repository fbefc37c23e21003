"""Frame pacing, frame-time statistics and capture -> present latency.

pyglet's ``clock.schedule_interval`` sleeps with coarse OS timers and drifts into alternating
16/33 ms frames (60/30 fps judder), so the window runs its own loop: work, flip, then wait for
the next deadline on ``time.perf_counter``, sleeping most of the way and spinning the last
stretch. Deadlines advance by a fixed period (no drift); after a long stall the schedule is
re-anchored instead of racing to catch up.
"""

from __future__ import annotations

import time
from typing import Any

from protocol.stats import CpuMeter, Series, latency_ms, rounded

from .motion import Shown

#: Sleep until this close to the deadline, then spin: Linux wakes a sleeper within ~0.1 ms, so
#: spinning the last 0.5 ms keeps frames even. Not longer: on a loaded machine a wake-up that
#: is later than that is a lost time slice (several ms) no spin can cover, and every spun ms is
#: taken from tracking and networking (1.5 ms was ~9% of a core at 60 fps).
SPIN_S = 0.0005
#: Frame-time history for the live percentiles (about 2 s at 60 fps). The whole-run ones use
#: the Series' long window (10 minutes at 60 fps; a longer run keeps its most recent part).
WINDOW = 120


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
    """What the window reports about itself: presented-frame intervals, per-frame work, and
    capture -> present latency of the peer's frames, each a :class:`protocol.stats.Series`
    (nearest-rank percentiles, the same as every other process's).

    Latency is measured here, where the present happens: the networking process writes each
    frame's capture time, already mapped onto this host's CLOCK_MONOTONIC, into the ring slot,
    so ``present_ns - capture_ns`` needs no clock of ours to synchronise and no per-frame
    event round trip through the parent.

    A/V skew (lip sync): while the peer's voice plays (``peer_delay_ms`` > 0, the audio's
    capture -> playout delay from :class:`protocol.commands.SetPeerDelay`), every presented
    frame shows the peer as captured at some instant ``C`` (our clock; interpolated between
    frames); the audio captured at ``C`` plays at ``C + peer_delay_ms``; the skew is
    ``present - (C + peer_delay_ms)`` (+ the face is late, - it is early).
    """

    def __init__(self) -> None:
        self._intervals = Series(window=WINDOW)
        self._work = Series(window=WINDOW, long=0)
        self._e2e_present = Series()
        self._ring_to_present = Series(long=0)
        self._av_skew = Series()
        self._av_skew_signed = Series()
        self._video_delay = Series()
        #: The peer's audio capture -> playout delay (ms), 0 without voice.
        self.peer_delay_ms = 0.0
        self._last_present: float | None = None
        self.frames = 0
        self._window_start = time.perf_counter()
        self._window_frames = 0
        self._cpu = CpuMeter()

    def reset_run(self) -> None:
        """Start the whole-run percentiles afresh (e.g. after a benchmark's warm-up)."""
        self._intervals.clear_long()
        self._e2e_present.clear_long()
        self._av_skew.clear_long()
        self._av_skew_signed.clear_long()
        self._video_delay.clear_long()

    def run_percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0..100) of all frame intervals since the last reset, ms."""
        return self._intervals.p(q, whole=True)

    def presented(self, at: float, work_s: float) -> None:
        """Record a flip at ``at`` (perf_counter) after ``work_s`` seconds of frame work."""
        if self._last_present is not None:
            self._intervals.add((at - self._last_present) * 1000.0)
        self._last_present = at
        self._work.add(work_s * 1000.0)
        self.frames += 1
        self._window_frames += 1

    def shown(self, frame: Shown, present_ns: int) -> None:
        """A peer frame's parameters reached the screen at ``present_ns`` (CLOCK_MONOTONIC).

        Ring -> present is recorded for the same frames as capture -> present (those whose
        capture time is known), so it is a breakdown of that figure, not of another sample.
        """
        e2e = latency_ms(frame.capture_ns, present_ns) if frame.capture_ns else None
        if e2e is None:
            return
        self._e2e_present.add(e2e)
        self._ring_to_present.add(max(0.0, present_ns / 1e6 - frame.arrival * 1000.0))

    def lip(self, present_ns: int, shown_ns: int) -> None:
        """A presented frame showed the peer as captured at ``shown_ns`` (see above)."""
        if self.peer_delay_ms > 0.0 and shown_ns:
            video = (present_ns - shown_ns) / 1e6
            skew = video - self.peer_delay_ms
            self._video_delay.add(video)
            self._av_skew.add(abs(skew))
            self._av_skew_signed.add(skew)

    def work_p50(self, cap: float) -> float:
        """Median frame work (s) over the window, at most ``cap``; 0 before the first frame."""
        p50 = self._work.p(50)
        return 0.0 if p50 is None else min(cap, p50 / 1000.0)

    def snapshot(self) -> dict[str, Any]:
        """The window's ``stats`` figures (see render_window/README.md for each key)."""
        now = time.perf_counter()
        span = now - self._window_start
        fps = self._window_frames / span if span > 0 else 0.0
        self._window_start, self._window_frames = now, 0
        out: dict[str, Any] = {"fps": round(fps, 2), "cpu": round(self._cpu.sample(), 1)}
        iv = self._intervals
        if iv.count():
            out["frame_ms_p50"] = rounded(iv.p(50), 3)
            out["frame_ms_p99"] = rounded(iv.p(99), 3)
            out["frame_ms_max"] = rounded(iv.max(), 3)
        if iv.count(whole=True):
            out["run_frame_ms_p50"] = rounded(iv.p(50, whole=True))
            out["run_frame_ms_p99"] = rounded(iv.p(99, whole=True))
        if self._work.count():
            out["work_ms_p50"] = rounded(self._work.p(50), 3)
            out["work_ms_p99"] = rounded(self._work.p(99), 3)
        out["e2e_present_ms"] = self._e2e_present.summary()
        out["run_e2e_present_ms"] = self._e2e_present.summary(whole=True)
        out["ring_to_present_ms"] = self._ring_to_present.summary(digits=3)
        out["av_skew_ms"] = self._av_skew.summary(qs=(50, 95, 99))
        out["run_av_skew_ms"] = self._av_skew.summary(whole=True, qs=(50, 95, 99))
        out["run_av_skew_signed_ms"] = self._av_skew_signed.summary(whole=True, qs=(5, 50, 95))
        out["run_peer_video_delay_ms"] = self._video_delay.summary(whole=True, qs=(5, 50, 95))
        return out
