"""The soak's arithmetic on synthetic calls (no namespaces): buckets, drift, gaps, delivery."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netlab import soak_report


@dataclass
class FakeSide:
    name: str
    frames: list[tuple[float, float, int]] = field(default_factory=list)
    stats: list[dict[str, Any]] = field(default_factory=list)
    ring_writes: int = 0
    peer_ready_at: float = 100.0
    connected_at: float = 101.0
    bad_payloads: int = 0
    tap: None = None
    errors: list[str] = field(default_factory=list)
    restarts: dict[str, int] = field(default_factory=dict)
    product: dict[str, Any] = field(default_factory=dict)


def _call(
    latency: Any,
    *,
    t0: float = 101.0,
    seconds: float = 120.0,
    hz: float = 30.0,
    drop_every: int = 0,
    hole: tuple[float, float] | None = None,
) -> dict[str, Any]:
    sides = [FakeSide("a"), FakeSide("b")]
    n = int(seconds * hz)
    for receiver in sides:
        for i in range(n + 3):  # a few frames arrive after t_end, while the trackers stop
            t = t0 + i / hz
            if (drop_every and i % drop_every == 0) or (hole and hole[0] <= t - t0 < hole[1]):
                continue
            receiver.frames.append((t, latency(t - t0), i))
        receiver.ring_writes = len(receiver.frames)
        receiver.stats.append({"frames_sent": n + 3, "reconnects": 0})
    return soak_report.call_result(
        0, sides, [], t0=t0, t_end=t0 + seconds + 0.004, connected=True, kind="direct",
        connect_limit_s=5.0, max_gap_s=2.0,
    )  # fmt: skip


def test_buckets_are_whole_minutes_and_drift_compares_first_and_last() -> None:
    res = _call(lambda t: 20.0 if t < 60 else 35.0, seconds=180)
    buckets = res["directions"]["a_to_b"]["per_bucket"]
    assert [b["t_s"] for b in buckets] == [0.0, 60.0, 120.0]  # no sliver bucket at 180 s
    assert res["latency_drift_ms"] == 15.0
    assert res["success"] and res["connect_s"] == 1.0


def test_short_call_uses_half_buckets() -> None:
    res = _call(lambda t: 10.0, seconds=30)
    assert res["bucket_s"] == 15.0
    assert len(res["directions"]["b_to_a"]["per_bucket"]) == 2
    assert res["latency_drift_ms"] == 0.0


def test_delivery_and_gaps() -> None:
    res = _call(lambda t: 10.0, seconds=60, drop_every=20)
    d = res["directions"]["a_to_b"]
    assert abs(d["delivered_ratio"] - 0.95) < 0.01
    assert d["max_gap_s"] < 0.1
    res = _call(lambda t: 10.0, seconds=60, hole=(20.0, 22.5))
    assert not res["success"]
    assert any("without frames" in f for f in res["failures"])
    assert 2.4 < res["directions"]["a_to_b"]["max_gap_s"] < 2.6


def test_summary_has_the_issue_keys() -> None:
    s = soak_report.summarize([_call(lambda t: 10.0, seconds=30),
                               soak_report.failed_call(1, "boom")], {}, command="x")  # fmt: skip
    for key in soak_report.HEADLINE:
        assert key in s
    assert (s["calls"], s["succeeded"]) == (2, 1)
    assert "_e2e" not in s["per_call"][0]


def test_report_for_many_calls_flags_drift_in_markdown_and_plots(tmp_path: Path) -> None:
    # Five calls (more than are drawn one by one); call 3 gets 15 ms slower after a minute.
    calls = [_call(lambda t: 10.0) for _ in range(5)]
    calls[3] = _call(lambda t: 10.0 if t < 60 else 25.0)
    for i, c in enumerate(calls):
        c["index"] = i
    summary = soak_report.summarize(calls, {}, command="python scripts/soak.py ...")
    assert summary["latency_drift_ms_max"] == 15.0
    written = soak_report.write_report(summary, tmp_path / "soak-x.json")
    names = sorted(p.name for p in written)
    assert names == sorted(
        f"soak-x{s}" for s in (".md", "-latency.png", "-drift.png", "-cpu.png", "-rss.png")
    )
    md = (tmp_path / "soak-x.md").read_text()
    assert "| latency drift max (ms) | 15.0 | < 10 | NO |" in md
    assert all(p.stat().st_size > 1000 for p in written)


def test_voice_calls_get_a_voice_table_per_direction() -> None:
    call = _call(lambda t: 10.0, seconds=30)
    call["voice"] = {
        "a_to_b": {"speech_correlation": 0.93, "mouth_to_ear_ms_p50": 52.0,
                   "mouth_to_ear_ms_p95": 71.5, "loss_pct": 0.0},
        "b_to_a": {"speech_correlation": 0.91, "loss_pct": 5.1},
    }  # fmt: skip
    table = soak_report._voice_table([call])
    assert table[1].startswith("| call | direction | speech correlation |")
    assert "| 0 | a>b | 0.93 | 52.0/71.5 | - | - | 0.0 | - | - |" in table
    assert "| 0 | b>a | 0.91 | -/- | - | - | 5.1 | - | - |" in table
    assert soak_report._voice_table([_call(lambda t: 10.0, seconds=30)]) == []
