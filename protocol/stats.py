"""One percentile definition and one sample accumulator for every process and every report.

Tracking, networking and the render window each report latencies and stage times, and the
benchmarks and the soak report summarise them again. A p99 must mean the same thing in all of
them, so they all use :func:`percentile` and :class:`Series` from here.

The percentile is **nearest-rank**: the ``q``-th percentile of ``n`` samples is the smallest
sample with at least ``q`` % of the samples at or below it (sorted, 1-based rank
``ceil(q / 100 * n)``). Why this one rather than numpy's default linear interpolation:

- it is always a value that happened (a real frame's latency), never a blend of two frames;
- it is defined and sensible for small windows (the p99 of 50 samples is their maximum -- the
  honest answer -- where interpolation invents a value between the two largest);
- it is what the networking process and the soak report have always used, so the published
  soak and benchmark figures stay comparable.

Interpolated percentiles from numpy differ from it by up to one sample gap (most visible at p99
of short windows), which is why the processes must not mix the two.

A :class:`Series` holds one quantity (milliseconds, by convention) in two windows: ``recent``,
the last ``window`` samples (what a live status line wants: a hiccup shows up, then ages out),
and the long window, the last ``long`` samples kept *sorted* as they arrive (insertion into a
sorted array is a memmove; at 30-60 samples a second it costs microseconds), so a call-long
percentile is a lookup, not a sort of tens of thousands of values on a render or event-loop
thread. Both windows are bounded, so memory stays constant however long a call lasts.
"""

from __future__ import annotations

import math
import time
from array import array
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable, Sequence

#: Recent window: about 10 s of frames at 30 Hz.
LATENCY_WINDOW = 300
#: Long (call-long) window: about 20 minutes at 30 Hz, 10 at 60 Hz; a longer call keeps its most
#: recent part. Two arrays of doubles: ~0.6 MB when full.
LONG_WINDOW = 36_000
#: A latency outside this range (ms) means an unsynchronised or bogus clock: not recorded.
#: Slightly negative values are clock-offset error on a fast path and are recorded as 0.
SANE_LATENCY_MS = (-50.0, 60_000.0)
#: The percentiles a summary reports.
SUMMARY_QS = (50, 99)


def percentile_sorted(ordered: Sequence[float], q: float) -> float | None:
    """Nearest-rank ``q``-th percentile (0..100) of already sorted values; None when empty."""
    n = len(ordered)
    if n == 0:
        return None
    rank = max(1, math.ceil(q / 100.0 * n))
    return float(ordered[min(rank, n) - 1])


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank ``q``-th percentile (0..100) of ``values``; None when there are none."""
    return percentile_sorted(sorted(values), q)


def rounded(value: float | None, digits: int = 2) -> float | None:
    """``round`` that lets None (no samples) through."""
    return None if value is None else round(value, digits)


def summarize(
    values: Iterable[float], qs: Sequence[int] = SUMMARY_QS, digits: int = 2
) -> dict[str, float | None] | None:
    """``{"p50": .., "p99": ..}`` (keys from ``qs``) of ``values``; None when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    return {f"p{q}": rounded(percentile_sorted(ordered, q), digits) for q in qs}


def latency_ms(start_ns: int, end_ns: int) -> float | None:
    """``end - start`` in ms (both CLOCK_MONOTONIC ns on this host), or None when it is not
    plausible (see :data:`SANE_LATENCY_MS`); small negatives become 0."""
    ms = (end_ns - start_ns) / 1e6
    if not SANE_LATENCY_MS[0] < ms < SANE_LATENCY_MS[1]:
        return None
    return max(ms, 0.0)


class Series:
    """One quantity's recent window and sorted long window (see the module docstring).

    ``long=0`` keeps no long window (a live figure only, no per-sample sorting cost).
    Non-finite samples are ignored: one NaN would poison every later percentile.
    """

    __slots__ = ("_arrival", "_head", "_long_cap", "_sorted", "recent")

    def __init__(self, window: int = LATENCY_WINDOW, long: int = LONG_WINDOW) -> None:
        self.recent: deque[float] = deque(maxlen=window)
        self._long_cap = long
        self._arrival = array("d")  # long window in arrival order; a circular buffer when full
        self._head = 0  # oldest entry of _arrival once it is full
        self._sorted = array("d")  # the same values, sorted

    def add(self, value: float) -> None:
        if not math.isfinite(value):
            return
        self.recent.append(value)
        cap = self._long_cap
        if not cap:
            return
        if len(self._arrival) < cap:
            self._arrival.append(value)
        else:
            old = self._arrival[self._head]
            self._arrival[self._head] = value
            self._head = (self._head + 1) % cap
            del self._sorted[bisect_left(self._sorted, old)]
        insort(self._sorted, value)

    def count(self, *, whole: bool = False) -> int:
        return len(self._sorted) if whole else len(self.recent)

    def p(self, q: float, *, whole: bool = False) -> float | None:
        """Nearest-rank percentile of the recent (or long) window; None when it is empty."""
        if whole:
            return percentile_sorted(self._sorted, q)
        return percentile(self.recent, q)

    def max(self, *, whole: bool = False) -> float | None:
        if whole:
            return self._sorted[-1] if self._sorted else None
        return max(self.recent) if self.recent else None

    def summary(
        self, *, whole: bool = False, qs: Sequence[int] = SUMMARY_QS, digits: int = 2
    ) -> dict[str, float | None] | None:
        """``{"p50": .., "p99": ..}`` of one window (keys from ``qs``); None when empty."""
        if whole:
            if not self._sorted:
                return None
            return {f"p{q}": rounded(percentile_sorted(self._sorted, q), digits) for q in qs}
        return summarize(self.recent, qs, digits)

    def values(self, *, whole: bool = False) -> list[float]:
        """The samples of one window in arrival order (for pooling across runs)."""
        if not whole:
            return list(self.recent)
        return self._arrival[self._head :].tolist() + self._arrival[: self._head].tolist()

    def clear_recent(self) -> None:
        """Start a new recent window (for reports that cover "since the last report")."""
        self.recent.clear()

    def clear_long(self) -> None:
        """Start the long window afresh (e.g. after a benchmark's warm-up)."""
        self._arrival = array("d")
        self._sorted = array("d")
        self._head = 0


class CpuMeter:
    """Percent of one core used by this process (all threads) since the previous sample."""

    def __init__(self) -> None:
        self._cpu = time.process_time()
        self._wall = time.monotonic()

    def sample(self) -> float:
        cpu, wall = time.process_time(), time.monotonic()
        elapsed = wall - self._wall
        pct = 100.0 * (cpu - self._cpu) / elapsed if elapsed > 0 else 0.0
        self._cpu, self._wall = cpu, wall
        return pct
