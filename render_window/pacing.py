"""Frame pacing, frame-time statistics and capture -> present latency.

pyglet's ``clock.schedule_interval`` sleeps with coarse OS timers and drifts into alternating
16/33 ms frames (60/30 fps judder), so the window runs its own loop: work, flip, then wait for
the next deadline on ``time.perf_counter``, sleeping most of the way and spinning the last
stretch. Deadlines advance by a fixed period (no drift); after a long stall the schedule is
re-anchored instead of racing to catch up.

Presenting when a peer frame shows: a fixed 60 Hz clock makes a peer frame wait up to a whole
period (16.7 ms, ~8 ms on average) for the next tick after the moment it could first be seen -
the largest single wait on the no-voice capture -> present path. That moment is when the motion's
playout clock reaches the frame (:meth:`render_window.motion.Motion.next_shown_at`): on arrival
when it is late for the playout clock, otherwise a moment computable as soon as it has arrived.
So the pacer also takes a ``due`` time and wakes on the remote ring's wake-up socket (the caller
then reads the ring and asks again with the new due time); it starts a frame at ``due`` when that
comes before the next tick, no sooner than ``MIN_GAP`` of a period after the previous frame
started (a stream of frames cannot run the window at more than twice the display rate), then
re-anchors the clock one period after that frame: the ticks that show interpolated motion
between frames follow the frames' phase.

A saturated machine (:class:`AdaptiveRate`): a window that cannot make 60 fps used to draw back
to back (every frame later than a whole period re-anchors and starts the next at once), taking
every cycle the scheduler gave it from the tracker and the networking process, whose late and
irregular frames then cost the peer's window playout delay (three times the jitter). When the
machine's CPUs are nearly all busy, or the window's own frames come late, the ticks slow to
:data:`ECONOMY_FPS` (idle life and the voice's mouth still move) while a peer frame is still
presented when it is due; back at full rate once the machine has room again.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import psutil

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
#: Earliest start of a frame for a peer frame (DUE) after the previous frame started, as a
#: fraction of the period. Half a period: a frame waits at most ~8 ms for the window (not 16.7), and
#: two presents are never closer than that (llvmpipe drawing is ~5-10 ms a frame here anyway).
MIN_GAP = 0.5
#: Tick rate on a saturated machine: idle life (breath, blinks, sway) reads as smooth at 20 Hz,
#: and the peer's frames (up to the tracker's 30 Hz) are presented when due besides. With the
#: voice's lip sync (a fixed clock, no presents on arrival) or no peer ring the rate is
#: :data:`ECONOMY_SYNC_FPS`, so a 30 Hz peer is not shown at 20.
ECONOMY_FPS = 20.0
ECONOMY_SYNC_FPS = 30.0
#: Share of all CPUs busy (one stats period, about 1 s) at or above which the machine counts as
#: saturated, and under which it has room again; apart so the window's own saving (it then uses
#: less) does not flip it back at once.
SATURATED = 0.90
RELAXED = 0.75
#: Periods in a row needed to economise, and (at first) to go back to full rate; the latter
#: doubles up to the maximum while the machine keeps saturating again soon after, and is reset
#: once the full rate has held this many periods.
ENTER_PERIODS = 2
LEAVE_PERIODS = 3
MAX_LEAVE_PERIODS = 60
RESET_LEAVE_AFTER = 30
#: The window cannot make its rate when it presented less than this share of it in a period.
#: Half: a window drawing 40-50 fps on an idle machine looks smoother than economy's ticks, so
#: it keeps drawing; one under 30 (a large window on a slow GPU) gains nothing over the economy
#: ticks plus the peer's frames presented when due, and its back-to-back frames cost the rest.
SHORT_OF_RATE = 0.5


class Wakeable(Protocol):
    """What :meth:`FramePacer.wait` needs of a ring reader opened with ``wake=True``."""

    def wait(self, timeout: float | None) -> bool: ...


#: What ended a :meth:`FramePacer.wait`.
TICK, DUE, ARRIVAL = "tick", "due", "arrival"


class FramePacer:
    """Fixed-rate deadlines: call :meth:`wait` once per frame after presenting."""

    def __init__(self, fps: float = 60.0) -> None:
        self.period = 1.0 / fps
        #: From the full rate, whatever the tick rate becomes (:meth:`set_fps`).
        self.min_gap = self.period * MIN_GAP
        now = time.perf_counter()
        self._next = now + self.period
        #: When the current frame started (the previous :meth:`wait` returned TICK or DUE).
        self._started = now
        #: Frames started early for a peer frame (DUE), for stats and tests.
        self.early = 0

    def wait(self, wake: Wakeable | None = None, due: float | None = None) -> str:
        """Wait for the next frame's start: the next tick (TICK), or ``due`` (perf_counter s)
        if that is sooner (DUE; no sooner than ``min_gap`` after this frame started), or, with
        ``wake``, a write into the ring (ARRIVAL: nothing started; read the ring, call again)."""
        now = time.perf_counter()
        if now > self._next + self.period:
            # More than a whole frame late: re-anchor rather than fire a burst of frames.
            self._started, self._next = now, now + self.period
            return TICK
        deadline, early = self._next, False
        if due is not None:
            due = max(due, self._started + self.min_gap)
            if due < deadline:
                deadline, early = due, True
        if wake is not None and wake.wait(max(0.0, deadline - SPIN_S - now)):
            return ARRIVAL
        self._sleep_until(deadline)
        if early:
            self._started = max(deadline, time.perf_counter())
            self._next = self._started + self.period
            self.early += 1
            return DUE
        self._started = self._next
        self._next += self.period
        return TICK

    def set_fps(self, fps: float) -> None:
        """Tick at ``fps`` from the next deadline on (:class:`AdaptiveRate`); the gap allowed
        between a frame and a peer frame due after it stays the full rate's."""
        period = 1.0 / fps
        if period != self.period:
            self._next = self._started + period
            self.period = period

    @staticmethod
    def _sleep_until(deadline: float) -> None:
        remaining = deadline - time.perf_counter()
        if remaining > SPIN_S:
            time.sleep(remaining - SPIN_S)
        while time.perf_counter() < deadline:
            pass

    def time_left(self) -> float:
        """Seconds until the next deadline (negative when late)."""
        return self._next - time.perf_counter()


class AdaptiveRate:
    """The tick rate for the machine's load (see the module docstring): full, or economy when
    the CPUs have been nearly all busy (or the window short of its rate) for
    :data:`ENTER_PERIODS` stats periods. Back to full when the load *with the full rate's
    frames added back* (the window's own CPU per frame times the frames it skips) stays under
    :data:`RELAXED` for a while: judged on the load alone, the window's own saving would send it
    straight back into saturation, and out again, every few seconds. That while starts at
    :data:`LEAVE_PERIODS` and doubles (up to :data:`MAX_LEAVE_PERIODS`) each time the machine
    saturates again soon after, as when two windows on one machine both return at once.
    ``enabled=False`` keeps the full rate (``--fixed-rate``: benchmarks of the renderer)."""

    def __init__(self, fps: float, *, enabled: bool = True, cpus: int | None = None) -> None:
        self.full = fps
        self.enabled = enabled
        self.economy = False
        self.cpus = cpus or psutil.cpu_count() or 1
        #: Mode changes so far (stats, tests).
        self.switches = 0
        #: The CPUs' busy share over the last period (0..1), None before the first.
        self.busy: float | None = None
        #: In economy: the load expected at the full rate (0..1), as last judged.
        self.projected: float | None = None
        self.leave_periods = LEAVE_PERIODS
        self._run = 0
        #: Periods at full rate since the last economy (none yet: as if it had always held).
        self._full_for = RESET_LEAVE_AFTER + 1
        self._cpu = CpuMeter()
        psutil.cpu_percent()  # the first call only starts the interval

    def fps(self, ticks_only: bool) -> float:
        """The tick rate now; ``ticks_only``: nothing is presented on arrival (the voice's lip
        sync holds the peer, or no peer ring), so the ticks alone show the peer's frames."""
        if not self.economy:
            return self.full
        return min(self.full, ECONOMY_SYNC_FPS if ticks_only else ECONOMY_FPS)

    def update(
        self,
        fps: float,
        *,
        work_ms: float | None = None,
        cpu_pct: float | None = None,
        busy: float | None = None,
    ) -> bool:
        """Once a stats period: ``fps`` the frames the window presented per second in it,
        ``work_ms`` its median frame work (a window whose frame takes longer than
        :data:`SHORT_OF_RATE` of the full rate allows stays economical, whatever the CPUs say: a
        slow GPU); ``cpu_pct`` this
        process's CPU (% of one core) and ``busy`` the CPUs' busy share since the last call
        (default: both measured here). True when the mode changed."""
        own = self._cpu.sample()
        cpu_pct = own if cpu_pct is None else cpu_pct
        self.busy = psutil.cpu_percent() / 100.0 if busy is None else busy
        if not self.enabled:
            return False
        if not self.economy:
            self._full_for += 1
            if self._full_for > RESET_LEAVE_AFTER:
                self.leave_periods = LEAVE_PERIODS  # it held: the load has really gone
            pressed = self.busy >= SATURATED or fps < SHORT_OF_RATE * self.full
            self._run = self._run + 1 if pressed else 0
            if self._run < ENTER_PERIODS:
                return False
            if self._full_for <= self._run + RESET_LEAVE_AFTER // 2:
                # Saturated again soon after going back: wait longer next time.
                self.leave_periods = min(MAX_LEAVE_PERIODS, self.leave_periods * 2)
            self.economy, self._run = True, 0
        else:
            per_frame = cpu_pct / 100.0 / fps if fps > 0 else 0.0
            extra = per_frame * max(0.0, self.full - fps) / self.cpus
            self.projected = self.busy + extra
            fits = work_ms is None or work_ms < 1000.0 / (SHORT_OF_RATE * self.full)
            self._run = self._run + 1 if self.projected < RELAXED and fits else 0
            if self._run < self.leave_periods:
                return False
            self.economy, self._run, self._full_for = False, 0, 0
        self.switches += 1
        return True


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
        # Its parts, whole-run too (the benchmark's breakdown of capture -> present).
        self._ring_to_present = Series()
        self._playout_hold = Series()
        self._present_lag = Series()
        self._flip = Series(window=WINDOW, long=0)
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
        for part in (self._ring_to_present, self._playout_hold, self._present_lag):
            part.clear_long()

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
        if frame.due:
            # ring -> present = the playout clock's hold + the window's wait, draw and flip.
            self._playout_hold.add(max(0.0, (frame.due - frame.arrival) * 1000.0))
            self._present_lag.add(max(0.0, present_ns / 1e6 - frame.due * 1000.0))

    def flipped(self, flip_s: float) -> None:
        """The swap's own time this frame (part of the work; llvmpipe copies the frame to X)."""
        self._flip.add(flip_s * 1000.0)

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
        out["playout_hold_ms"] = self._playout_hold.summary(digits=3)
        out["present_lag_ms"] = self._present_lag.summary(digits=3)
        for key, part in (
            ("ring_to_present", self._ring_to_present),
            ("playout_hold", self._playout_hold),
            ("present_lag", self._present_lag),
        ):
            out[f"run_{key}_ms"] = part.summary(whole=True, digits=3)
        if self._flip.count():
            out["flip_ms_p50"] = rounded(self._flip.p(50), 3)
        out["av_skew_ms"] = self._av_skew.summary(qs=(50, 95, 99))
        out["run_av_skew_ms"] = self._av_skew.summary(whole=True, qs=(50, 95, 99))
        out["run_av_skew_signed_ms"] = self._av_skew_signed.summary(whole=True, qs=(5, 50, 95))
        out["run_peer_video_delay_ms"] = self._video_delay.summary(whole=True, qs=(5, 50, 95))
        return out
