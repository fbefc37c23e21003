"""The one percentile definition and the shared sample accumulator (protocol.stats)."""

from __future__ import annotations

import math
import random

import pytest

from protocol.stats import (
    CpuMeter,
    Series,
    latency_ms,
    percentile,
    percentile_sorted,
    summarize,
)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([float(v) for v in range(1, 101)], 99) == 99.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    # Always a sample that happened: p99 of a short window is its maximum, p0 its minimum.
    assert percentile([1.0, 2.0, 10.0], 99) == 10.0
    assert percentile([5.0, 1.0], 0) == 1.0
    # numpy's default (linear) would say 1.5 and 9.84 here: not the same statistic.
    assert percentile([1.0, 2.0], 50) == 1.0
    assert percentile_sorted([1.0, 2.0, 3.0, 4.0], 75) == 3.0


def test_summarize_and_rounding() -> None:
    assert summarize([]) is None
    assert summarize([1.234, 5.678], digits=1) == {"p50": 1.2, "p99": 5.7}
    assert summarize([1.0, 2.0, 3.0], qs=(50, 95)) == {"p50": 2.0, "p95": 3.0}


def test_series_windows_match_percentile_of_the_same_samples() -> None:
    rng = random.Random(7)
    values = [rng.expovariate(0.1) for _ in range(2_000)]
    s = Series(window=50, long=500)
    for v in values:
        s.add(v)
    assert s.values() == values[-50:]
    assert s.values(whole=True) == values[-500:]  # arrival order across the ring's wrap
    assert s.count() == 50 and s.count(whole=True) == 500
    for q in (0, 1, 50, 90, 99, 100):
        assert s.p(q) == percentile(values[-50:], q)
        assert s.p(q, whole=True) == percentile(values[-500:], q)
    assert s.max(whole=True) == max(values[-500:])
    assert s.summary(whole=True) == summarize(values[-500:])


def test_series_without_long_window_and_resets() -> None:
    s = Series(window=4, long=0)
    for v in (1.0, 2.0, math.nan, math.inf, 3.0):
        s.add(v)
    assert s.values() == [1.0, 2.0, 3.0]  # non-finite samples are dropped
    assert s.summary(whole=True) is None and s.p(50, whole=True) is None
    s.clear_recent()
    assert s.summary() is None and s.max() is None
    t = Series(window=4, long=10)
    t.add(5.0)
    t.clear_long()
    assert t.p(50, whole=True) is None and t.p(50) == 5.0


def test_latency_ms_rejects_implausible_clocks() -> None:
    assert latency_ms(1_000_000, 21_000_000) == 20.0
    assert latency_ms(21_000_000, 1_000_000) == 0.0  # -20 ms: offset error, clamped
    assert latency_ms(100_000_000, 0) is None  # -100 ms: a bad clock, not a latency
    assert latency_ms(0, 120 * 10**9) is None


def test_cpu_meter_counts_busy_time() -> None:
    meter = CpuMeter()
    x = 0
    for i in range(300_000):
        x += i
    assert meter.sample() == pytest.approx(100.0, abs=60.0)
