"""The window's tick rate follows the machine's load (render_window.pacing.AdaptiveRate): fewer
idle frames when the CPUs are saturated or the window cannot make its rate, the full rate again
once there is room; the pacer keeps presenting peer frames when due in between."""

from __future__ import annotations

import time

from render_window.pacing import (
    DUE,
    ECONOMY_FPS,
    ECONOMY_SYNC_FPS,
    TICK,
    AdaptiveRate,
    FramePacer,
)


def run(rate: AdaptiveRate, periods: list[tuple[float, float]]) -> list[bool]:
    """Feed (presented fps, CPUs' busy share) periods; which ones changed the mode."""
    return [rate.update(fps, busy) for fps, busy in periods]


def test_two_saturated_periods_economise_and_three_with_room_restore_the_full_rate() -> None:
    rate = AdaptiveRate(60.0)
    assert rate.fps(synced=False) == 60.0
    # One busy second is a spike, not saturation.
    assert run(rate, [(60, 0.95), (60, 0.5), (60, 0.95)]) == [False, False, False]
    assert run(rate, [(60, 0.97)]) == [True] and rate.economy
    assert rate.fps(synced=False) == ECONOMY_FPS
    assert rate.fps(synced=True) == ECONOMY_SYNC_FPS  # lip sync: the ticks carry the peer
    # The window's own saving lowers the load; between the two bounds it stays put.
    assert not any(run(rate, [(20, 0.85), (20, 0.8), (20, 0.6), (20, 0.6), (20, 0.8)]))
    assert run(rate, [(20, 0.5), (20, 0.5), (20, 0.5)]) == [False, False, True]
    assert not rate.economy and rate.fps(synced=False) == 60.0 and rate.switches == 2


def test_a_window_short_of_its_rate_economises_on_an_otherwise_idle_machine() -> None:
    """E.g. a large window on a slow GPU: drawing back to back helps nobody."""
    rate = AdaptiveRate(60.0)
    assert run(rate, [(40, 0.3), (41, 0.3)]) == [False, True]
    # A rate the full one never exceeds: economy does not raise it.
    slow = AdaptiveRate(10.0)
    run(slow, [(10, 1.0), (10, 1.0)])
    assert slow.economy and slow.fps(synced=False) == 10.0


def test_a_fixed_rate_never_changes_but_still_reports_the_load() -> None:
    rate = AdaptiveRate(60.0, enabled=False)
    assert not any(run(rate, [(30, 1.0)] * 5))
    assert rate.fps(synced=False) == 60.0 and rate.busy == 1.0


def test_the_measured_load_is_the_cpus_busy_share() -> None:
    rate = AdaptiveRate(60.0)
    rate.update(60.0)
    assert rate.busy is not None and 0.0 <= rate.busy <= 1.0


def test_a_slower_tick_keeps_the_full_rates_gap_for_a_due_peer_frame() -> None:
    """At 4 Hz slowed to 1 Hz: the next tick is a second after the frame started, while a peer
    frame due at once still waits only half of the full rate's period."""
    pacer = FramePacer(4.0)
    assert pacer.wait() == TICK
    started = time.perf_counter()
    pacer.set_fps(1.0)
    assert pacer.period == 1.0 and pacer.time_left() > 0.8
    assert pacer.wait(due=started) == DUE
    waited = time.perf_counter() - started
    assert 0.1 <= waited < 0.5, waited  # min gap 0.125 s (half of 1/4 s), not a whole second
    assert pacer.time_left() > 0.8  # re-anchored one (slow) period after the peer's frame
