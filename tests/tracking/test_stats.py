"""The tracking child's stage statistics use protocol.stats' nearest-rank percentiles."""

from __future__ import annotations

from protocol.stats import percentile
from tracking.pipeline import StageTimes
from tracking.stats import STAGES, FrameStats


def test_report_is_nearest_rank_over_the_frames_since_the_last_report() -> None:
    stats = FrameStats(keep_all=True)
    totals = []
    for i in range(1, 21):
        times = StageTimes(capture=1.0, inference=float(i), params=0.5, encode=0.1, ring=0.05)
        stats.record(times, face=i % 2 == 0)
        totals.append(times.total)
    report = stats.report()
    assert report["frames"] == 20 and report["faces"] == 10
    stage_ms = report["stage_ms"]
    assert isinstance(stage_ms, dict) and set(stage_ms) == {*STAGES, "total"}
    assert stage_ms["inference"] == 10.0  # nearest rank: the 10th of 20, not 10.5
    assert report["frame_ms_p95"] == round(percentile(totals, 95) or 0.0, 3)
    # The next report covers only the frames since this one.
    after = stats.report()
    assert after["frame_ms_p95"] is None and after["frames"] == 20
    # The benchmark's long window still has every frame, in order.
    assert stats.all_values()["inference"] == [float(i) for i in range(1, 21)]
