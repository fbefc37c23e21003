"""Loss, delay and jitter set on the routed lab are what a UDP flow between A and B sees."""

from __future__ import annotations

import statistics

import pytest

import netlab

pytestmark = pytest.mark.usefixtures("netns_ok")

#: Probes per measurement: at 10% loss per direction the round-trip loss is 19%, and with 600
#: probes its standard deviation is 1.6%, so +-6% is a > 3.5 sigma band.
PROBES = 600


def _ok(rtts: list[float | None]) -> list[float]:
    return [r for r in rtts if r is not None]


def test_clean_path_is_fast_and_lossless() -> None:
    with netlab.routed() as lab:
        rtts = lab.udp_rtts("a", "b", count=100)
    assert all(r is not None for r in rtts)
    assert statistics.median(_ok(rtts)) < 5


@pytest.mark.slow
@pytest.mark.netlab_needs(netlab.TUN_DEVICE)
def test_delay_and_jitter_both_directions() -> None:
    delay, jitter = 40.0, 10.0
    with netlab.routed(delay_ms=delay, jitter_ms=jitter) as lab:
        rtts = _ok(lab.udp_rtts("a", "b", count=300, interval_s=0.003))
        back = _ok(lab.udp_rtts("b", "a", count=50, interval_s=0.003))
        shim = lab.shim_stats()
        forwarded = shim["forwarded"]
    assert len(rtts) == 300 and len(back) == 50
    assert forwarded >= 2 * 350  # every probe and every echo went through the shim
    assert shim["late_ms_p99"] < 5  # released when due, even on a busy machine
    # Round trip = two independent one-way delays of 40 +- 10 ms (uniform).
    assert 2 * delay - 4 < statistics.median(rtts) < 2 * delay + 4
    assert 2 * delay - 4 < statistics.median(back) < 2 * delay + 4
    assert min(rtts) >= 2 * (delay - jitter) - 0.5
    assert max(rtts) <= 2 * (delay + jitter) + 10
    # Sum of two U(-10, 10): sd = 10 * sqrt(2/3) = 8.2 ms; jitter must be visible, not smoothed.
    assert 6 < statistics.stdev(rtts) < 11


@pytest.mark.slow
@pytest.mark.netlab_needs("iptables")
def test_loss_matches_probability_per_direction() -> None:
    loss = 0.10
    with netlab.routed(loss=loss) as lab:
        rtts = lab.udp_rtts("a", "b", count=PROBES, interval_s=0.002)
        lab.set_loss(0)
        clean = lab.udp_rtts("a", "b", count=100, interval_s=0.002)
    lost = sum(r is None for r in rtts) / PROBES
    expected = 1 - (1 - loss) ** 2
    assert abs(lost - expected) < 0.06, (lost, expected)
    assert all(r is not None for r in clean)  # set_loss(0) really removes the rules


@pytest.mark.netlab_needs("iptables")
def test_turn_split_loss_is_on_the_way_into_t() -> None:
    """turn_split loss: probes into T drop, T's replies do not (each relayed leg loses once)."""
    with netlab.turn_split() as lab:
        lab.set_loss(0.2)
        rtts = lab.udp_rtts("a", "t", count=400, interval_s=0.002)
    lost = sum(r is None for r in rtts) / len(rtts)
    assert abs(lost - 0.2) < 0.07, lost  # sd 2%: > 3 sigma
