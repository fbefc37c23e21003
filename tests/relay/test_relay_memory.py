"""The relay gives a departed crowd's garbage back (issue 15, defect 12; figures in
relay/memory.py): once, after the crowd has gone, not while it is there or trickling out."""

from __future__ import annotations

import gc

import pytest
import trio
import trio.testing

from relay.memory import Reclaimer, reclaim, rss_mb


def _reclaimer(counts: list[int], **kw: int) -> tuple[Reclaimer, list[int]]:
    done: list[int] = []
    it = iter(counts)
    current = [0]

    def count() -> int:
        current[0] = next(it, current[0])
        return current[0]

    return Reclaimer(count, on_reclaim=lambda: done.append(current[0]), **kw), done


def test_reclaims_once_after_two_samples_show_the_crowd_gone() -> None:
    counts = [10, 3000, 5000, 4000, 100, 90, 80, 80, 80]
    r, done = _reclaimer(counts, min_departed=1000)
    seen = False
    for _ in counts:
        seen = r.check(seen)
    assert done == [90]  # 100 looked gone, 90 confirmed it; then quiet
    assert r.reclaims == 1 and r.peak == 90  # the new baseline


def test_small_departures_and_half_full_relays_are_left_alone() -> None:
    for counts in ([300, 10, 10, 10],  # fewer than min_departed left
                   [5000, 3000, 3000, 3000]):  # 2,000 left but more than half remain
        r, done = _reclaimer(counts, min_departed=1000)
        seen = False
        for _ in counts:
            seen = r.check(seen)
        assert done == []


@pytest.mark.trio
async def test_run_samples_on_its_interval(autojump_clock: trio.testing.MockClock) -> None:
    r, done = _reclaimer([2000, 0, 0], min_departed=1000)
    with trio.move_on_after(35):
        await r.run()  # samples at 10, 20, 30 s
    assert done == [0]


def test_reclaim_collects_cycles_and_trims() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    gc.disable()
    try:
        for _ in range(1000):
            Node()
        reclaim()
        assert not any(isinstance(o, Node) for o in gc.get_objects())
    finally:
        gc.enable()
    assert rss_mb() > 0
