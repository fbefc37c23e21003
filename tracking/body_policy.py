"""``--body auto`` decided by measurement: hands and pose off when tracking cannot keep 30 fps.

Tracking at 30 fps or more is a product target (the peer's avatar moves at the rate we track);
the hand and pose models add about 5 ms of CPU per frame on average (they take turns,
:mod:`tracking.body`). A core count says whether a machine *could* afford that, not whether it
does now: on a 2-core machine that also draws two 1280x720 windows (or runs a browser, a
compile...) the tracker is starved, falls below 30 fps, and its late frames add jitter that the
peer's window must cover with playout delay. So ``auto`` starts with the body on (when the
cores allow it) and the tracking loop feeds each 1 Hz report to :class:`BodyGovernor`, which
says when to turn the body off for the rest of the run:

- the measured rate stayed below the target for :data:`SLOW_REPORTS` reports in a row, after a
  warm-up (model loading, a call starting up);
- the loop was busy (time spent tracking over the report's wall time at least
  :data:`BUSY_FRACTION`): a camera that only delivers 15 fps in a dark room is slow on its own,
  and turning the body off would not help it;
- not while paused (no inference runs) and not when the source itself is slower than the target
  (then the target is the source's rate).

It never turns the body back on: a load that starved the tracker once tends to come back, and a
body that flickers on and off is worse than none. ``--body on`` keeps it on whatever the rate.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The product target (frames per second), and the margin under it that counts as "below":
#: a 30 fps source measures 29.x over a one-second report with ordinary jitter.
TARGET_FPS = 30.0
MARGIN = 0.9
#: Reports (about one a second) below the target in a row before the body goes off.
SLOW_REPORTS = 3
#: Seconds after the start during which nothing is decided (models load, the call sets up).
WARMUP_S = 5.0
#: The loop's busy share of the wall time that makes the tracker, not the source, the reason.
BUSY_FRACTION = 0.7


@dataclass
class BodyGovernor:
    """Decides from the tracker's own reports; :meth:`observe` returns True once, when the body
    should go off (the caller turns it off and says why)."""

    target_fps: float = TARGET_FPS
    slow_reports: int = SLOW_REPORTS
    warmup_s: float = WARMUP_S
    busy_fraction: float = BUSY_FRACTION
    #: The source's own rate (None: unknown, a camera that said nothing): a 25 fps clip can
    #: reach 25 fps, not 30.
    source_fps: float | None = None
    _slow: int = 0
    done: bool = False
    #: The rate that decided it (the last slow report's), for the message.
    measured_fps: float = 0.0

    @property
    def threshold(self) -> float:
        target = self.target_fps
        if self.source_fps:
            target = min(target, self.source_fps)
        return target * MARGIN

    def observe(self, elapsed_s: float, fps: float, busy: float, paused: bool) -> bool:
        """One report: ``elapsed_s`` since the loop started, the report's ``fps`` and ``busy``
        share (0..1). True exactly once: now is the time to turn the body off."""
        if self.done or paused or elapsed_s < self.warmup_s:
            self._slow = 0 if paused else self._slow
            return False
        if fps < self.threshold and busy >= self.busy_fraction:
            self._slow += 1
            self.measured_fps = fps
        else:
            self._slow = 0
        if self._slow >= self.slow_reports:
            self.done = True
            return True
        return False
