"""The call screen's stats model, fed with payloads built by the children's own stats code.

Why not hand-written dicts: the model must read exactly the fields the children send, so these
payloads come from the functions that build them (tracking's ``FrameStats.report``, the
networking process's ``StatsReport.event``, the render window's ``FrameStats.snapshot``). A child
that renames a field breaks these tests instead of leaving the call screen showing "-".
"""

from __future__ import annotations

import time
from typing import Any, cast

import pytest

from peer.clock import ClockSync
from peer.connection import PeerLink
from peer.report import StatsReport
from peer.stats import CallStats
from render_window.motion import Shown
from render_window.pacing import FrameStats as RenderStats
from tracking.pipeline import StageTimes
from tracking.stats import FrameStats as TrackingStats
from tui.stats_model import METRIC_KEYS, VOICE_KEYS, StatsModel

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV


class _Link:
    """The two PeerLink methods the stats report reads (a real link needs a real call)."""

    def candidate_pair(self) -> dict[str, str]:
        return {"type": "host", "local": "10.0.0.1:5000", "remote": "10.0.0.2:6000"}

    def sas(self) -> str:
        return "123 456"


def tracking_values() -> dict[str, Any]:
    stats = TrackingStats()
    time.sleep(0.02)
    for _ in range(3):
        stats.record(StageTimes(capture=1.0, inference=9.0, params=0.5), face=True)
    return dict(stats.report())


def peer_values(*, e2e: bool = True) -> dict[str, Any]:
    stats, clock = CallStats(), ClockSync()
    clock.add(t1_us=0, t2_us=600, t3_us=700, t4_us=1300)  # rtt 1.2 ms
    for seq in range(1, 31):
        stats.on_sent(90)
        stats.on_received(92, seq)
        if e2e:
            stats.e2e.add(20.0 + seq % 3)
    report = StatsReport(stats, clock, None, "room-code")
    link = cast(PeerLink, _Link())
    return report.event(state="connected", gen=1, link=link, relay_connected=True, peer="Bo")


def render_values(*, present: bool = True) -> dict[str, Any]:
    stats = RenderStats()
    t = time.perf_counter()
    for i in range(30):
        stats.presented(t + i / 60, 0.004)
    if present:
        base = time.monotonic_ns()
        for i in range(20):
            stats.shown(Shown(i, base, base / 1e9 + 0.01), base + 48_000_000)
    return stats.snapshot()


def test_every_metric_comes_from_the_field_its_child_sends() -> None:
    model = StatsModel(history=4)
    model.peer_connected = True
    tracking, peer, render = tracking_values(), peer_values(), render_values()
    model.ingest("tracking", tracking)
    model.ingest("peer", peer)
    model.ingest("render", render)
    model.set("cpu", 12.0)
    # The voice figures (issue 14) come from the networking process's ``voice`` map, which
    # only a call with an audio track reports: tests/tui/test_voice.py feeds them.
    shown = [k for k in METRIC_KEYS if k not in VOICE_KEYS]
    assert all(model.current[k] is not None for k in shown), model.current
    assert model.current["track_fps"] == tracking["fps"]
    assert model.current["render_fps"] == render["fps"]
    assert model.current["send_hz"] == peer["send_hz"] and model.text("recv_hz") == "30.0 Hz"
    assert model.text("bytes") == "92 B"
    assert model.text("rtt") == "1.2 ms"
    # Latency: the window's capture -> present, not the networking process's capture -> receive.
    assert model.text("latency") == "48.0 ms"
    assert model.extras == {"path": "host", "sas": "123 456"}
    for _ in range(6):
        model.sample()
    assert list(model.history["latency"]) == [48.0] * 4


def test_latency_falls_back_to_receive_without_a_window_figure() -> None:
    model = StatsModel()
    model.peer_connected = True
    model.ingest("peer", peer_values())
    assert model.text("latency") == "21.0 ms"  # capture -> receive, nearest-rank p50
    # A window that has no figure yet (no clock offset) does not hide the receive latency.
    model.ingest("render", render_values(present=False))
    assert model.text("latency") == "21.0 ms"
    model.ingest("render", render_values())
    assert model.text("latency") == "48.0 ms"
    model.forget("render")  # the window stopped
    assert model.text("latency") == "21.0 ms" and model.text("render_fps") == "-"


def test_unknown_figures_show_a_dash() -> None:
    model = StatsModel()
    model.peer_connected = True
    model.ingest("peer", peer_values(e2e=False))
    assert model.text("latency") == "-"
    model.forget("peer")
    assert model.text("rtt") == "-" and model.text("send_hz") == "-"
    values = peer_values()
    values["rtt_ms"] = float("nan")
    model.ingest("peer", values)
    assert model.text("rtt") == "-"
    # Fields of another child are never taken: tracking has an "fps", so does the window.
    model.ingest("tracking", {"fps": 30.0, "rtt_ms": 5.0, "e2e_present_ms": {"p50": 1.0}})
    assert model.text("rtt") == "-" and model.text("render_fps") == "-"


def test_figures_that_no_longer_apply_show_a_dash() -> None:
    """After the peer leaves, the last RTT and latency are not shown as if current; while
    paused, Send is 0 and says why; a child that stopped reporting shows "-"."""
    now = [100.0]
    model = StatsModel(clock=lambda: now[0])
    model.peer_connected = True
    model.ingest("peer", peer_values())
    model.ingest("tracking", tracking_values())
    assert model.text("rtt") == "1.2 ms" and model.text("recv_hz") == "30.0 Hz"
    model.peer_connected = False  # peer left or lost
    for key in ("recv_hz", "bytes", "rtt", "latency"):
        assert model.text(key) == "-", key
    assert model.text("send_hz") == "30.0 Hz"  # what we send is still ours to report
    model.sample()
    assert model.history["rtt"][-1] == 0.0
    model.peer_connected = True
    model.paused = True
    assert model.text("send_hz") == "0 (paused)" and model.value("send_hz") == 0.0
    model.paused = False
    now[0] += 3.5  # three reports missed
    assert model.text("rtt") == "-" and model.text("track_fps") == "-"
    model.ingest("tracking", tracking_values())
    assert model.text("track_fps") != "-" and model.text("rtt") == "-"


def test_a_render_window_saving_cpu_says_so_beside_its_rate() -> None:
    """On a saturated machine the window draws idle frames at 20 Hz on purpose (AdaptiveRate):
    the figure says why instead of reading as a fault, and stops saying it once back."""
    model = StatsModel()
    values = render_values()
    model.ingest("render", {**values, "economy": True})
    assert model.text("render_fps").endswith("fps (saving CPU)"), model.text("render_fps")
    model.ingest("render", {**values, "economy": False})
    assert "saving" not in model.text("render_fps") and model.text("render_fps") != "-"
    model.ingest("render", {**values, "economy": True})
    model.forget("render")
    assert model.text("render_fps") == "-" and not model.render_economy


def test_every_figure_says_what_it_measures() -> None:
    from tui.stats_model import METRICS

    assert all(m.explain and len(m.explain) <= 60 for m in METRICS)
    assert "core" in next(m for m in METRICS if m.key == "cpu").label
