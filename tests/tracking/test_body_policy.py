"""``--body auto`` turns the hand and pose models off when tracking stays below 30 fps because
of the work (tracking.body_policy), and the real loop says so once, in the user's language."""

from __future__ import annotations

import io
import json
import threading

import i18n
from protocol.channel import ChildChannel
from tracking.body_policy import BodyGovernor
from tracking.pipeline import Tracker
from tracking.runner import TrackingLoop
from tracking.sources import SyntheticSource


def feed(governor: BodyGovernor, reports: list[tuple[float, float, float, bool]]) -> list[bool]:
    return [governor.observe(*r) for r in reports]


def test_slow_and_busy_for_three_reports_after_the_warm_up_turns_the_body_off_once() -> None:
    g = BodyGovernor()
    said = feed(
        g,
        [
            (1.0, 10.0, 1.0, False),  # warm-up: models loading, the call starting
            (4.0, 10.0, 1.0, False),
            (6.0, 22.0, 0.95, False),
            (7.0, 23.0, 0.95, False),
            (8.0, 21.0, 0.9, False),  # third slow report in a row
            (9.0, 5.0, 1.0, False),
        ],
    )
    assert said == [False, False, False, False, True, False]
    assert g.done and g.measured_fps == 21.0


def test_a_good_report_a_pause_or_an_idle_loop_starts_the_count_again() -> None:
    g = BodyGovernor(warmup_s=0.0)
    said = feed(
        g,
        [
            (1.0, 20.0, 1.0, False),
            (2.0, 20.0, 1.0, False),
            (3.0, 29.5, 0.8, False),  # a 30 fps source measured with jitter: fine
            (4.0, 20.0, 1.0, False),
            (5.0, 20.0, 1.0, False),
            (6.0, 0.0, 0.0, True),  # paused: nothing runs, nothing counts
            (7.0, 20.0, 1.0, False),
            (8.0, 15.0, 0.2, False),  # a camera giving 15 fps in the dark: not our work
            (9.0, 20.0, 1.0, False),
            (10.0, 20.0, 1.0, False),
        ],
    )
    assert not any(said) and not g.done


def test_a_slower_source_sets_the_target() -> None:
    g = BodyGovernor(warmup_s=0.0, source_fps=15.0)
    assert not any(feed(g, [(t, 14.5, 1.0, False) for t in (1.0, 2.0, 3.0, 4.0)]))
    assert feed(g, [(t, 12.0, 1.0, False) for t in (5.0, 6.0, 7.0)])[-1]


def test_the_loop_turns_the_body_off_says_why_in_korean_and_keeps_tracking_the_face() -> None:
    """The real loop and tracker (body on, no models: the synthetic face), with a governor whose
    target no machine reaches, so the first report decides."""
    out = io.StringIO()
    channel = ChildChannel(commands_in=[], output=out)
    tracker = Tracker(load_model=False, body=True)
    governor = BodyGovernor(target_fps=1e9, slow_reports=1, warmup_s=0.0, busy_fraction=0.0)
    frames: list[object] = []
    loop = TrackingLoop(
        SyntheticSource(fps=200.0),
        tracker,
        channel=channel,
        duration_s=1.3,  # one 1 Hz report during the run, one at its end
        body_governor=governor,
        on_frame=frames.append,
    )
    i18n.set_language("ko")
    try:
        assert loop.run() == 0
    finally:
        i18n.set_language("en")
    channel.close()
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    off = [e for e in events if e.get("state") == "body_off"]
    assert len(off) == 1, events
    assert "1000000000" in off[0]["message"] and "추적" in off[0]["message"]
    assert tracker.body_tracker is None and loop.body_off == "slow"
    stats = [e["values"] for e in events if e["event"] == "stats"]
    assert stats[-1]["body"] is False and stats[-1]["body_off"] == "slow"
    assert 0.0 <= stats[0]["busy"] <= 1.0
    # The loop went on: frames after the body went off, and the state stays "running".
    assert len(frames) > 100
    states = [e["state"] for e in events if e["event"] == "status"]
    assert states == ["running", "body_off"]


def test_models_that_take_long_to_close_do_not_hold_up_the_face() -> None:
    """MediaPipe's close() blocked for 5.1 s in the soak's impaired call, and the face loop
    with it. Here the body models' close blocks until the test lets it go: ``disable_body``
    must return first (the face goes on), and ``close`` waits for it before the process ends."""
    tracker = Tracker(load_model=False, body=True)
    body = tracker.body_tracker
    assert body is not None
    release, closed = threading.Event(), threading.Event()

    def slow_close() -> None:
        release.wait(10)
        closed.set()

    body.close = slow_close  # type: ignore[method-assign]
    tracker.disable_body()
    assert tracker.body_tracker is None and not closed.is_set()  # returned while still closing
    release.set()
    tracker.close()
    assert closed.is_set()
