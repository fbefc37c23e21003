#!/usr/bin/env python3
"""Benchmark the tracking process's hot path on real clips.

For each clip: one unpaced pass (as fast as it goes, one process: decode + inference + params +
CBOR encode + ring write, exactly the child's loop) for FPS and per-stage times, then a pass
paced at 30 FPS for the CPU it costs (percent of one core, all threads of this process). The
smoothing lag is reported twice: the half-rise delay of each group's filter on a step, and the
delay that best aligns emitted with raw MediaPipe values on the clip itself.

    scripts/bench_tracking.py --source sample --json out.json
    scripts/bench_tracking.py --source all-shared --json out.json --cpu-seconds 5
    scripts/bench_tracking.py --body on --json out.json    # face + hands + pose

``--body on`` runs the hand and pose models beside the face (as ``python -m tracking --body on``)
and, by default, on the sample clip and ../shared's bodies/s29.mp4 (hands and upper body in
view); it adds ``hands_detected_ratio`` and ``pose_detected_ratio`` (share of the hand / pose
model's runs that found something), ``hand_turns_skipped_ratio`` (hand turns skipped because
the pose saw no wrist), ``frame_bytes_body_p99`` (encoded frame size) and ``body_ms_p50``.
With ``--body off`` (the default) the figures and keys are the face-only ones.

JSON: top level holds the figures over all clips (frames pooled) with the keys ``frames``,
``faces_detected``, ``fps_unpaced``, ``frame_ms_p50``, ``frame_ms_p95``, ``cpu_pct_at_30fps``,
``capture_ms_p50``, ``inference_ms_p50``, ``params_ms_p50``, ``encode_ms_p50``,
``ring_ms_p50``; ``clips`` holds the same keys per clip; ``smoothing_lag_ms`` the lag figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from protocol.ring import ShmRing
from protocol.stats import CpuMeter, percentile, rounded
from tracking.model import quiet_native_logs
from tracking.pipeline import Tracker
from tracking.runner import TrackingLoop
from tracking.smoothing import BLENDSHAPE_GROUPS, SmoothingConfig, lag_report
from tracking.sources import SAMPLE_CLIP, ClipSource
from tracking.stats import STAGES, FrameStats

REPO = Path(__file__).resolve().parent.parent

SHARED_FACES = Path(os.environ.get("AVATARCHAT_SHARED", REPO.parent / "shared")) / "testdata/faces"
SHARED_BODY_CLIP = SHARED_FACES.parent / "bodies" / "s29.mp4"
#: The paced pass skips its first second: model warm-up and the first detection are not steady.
WARMUP_S = 1.0


def clip_paths(specs: list[str]) -> list[Path]:
    paths: list[Path] = []
    for spec in specs:
        if spec == "sample":
            paths.append(SAMPLE_CLIP)
        elif spec == "bodies":
            if not SHARED_BODY_CLIP.is_file():
                raise SystemExit(f"no body clip at {SHARED_BODY_CLIP}")
            paths.append(SHARED_BODY_CLIP)
        elif spec == "all-shared":
            found = sorted(SHARED_FACES.glob("*.mp4"), key=lambda p: int("0" + p.stem[1:]))
            if not found:
                raise SystemExit(f"no clips in {SHARED_FACES}")
            paths.extend(found)
        else:
            paths.append(Path(spec))
    return paths


def fitted_lag_ms(raw: np.ndarray, out: np.ndarray, fps: float) -> float:
    """The delay d (ms, 0..150) that minimises |out(t) - raw(t - d)|^2, raw linearly
    interpolated: how late the emitted values are relative to MediaPipe's, on real motion."""
    t = np.arange(len(raw))
    best, best_err = 0.0, np.inf
    for d_ms in np.arange(0.0, 150.0, 1.0):
        shifted = np.interp(t - d_ms * fps / 1000.0, t, raw)
        err = float(np.mean((out[10:] - shifted[10:]) ** 2))
        if err < best_err:
            best, best_err = float(d_ms), err
    return best


def unpaced_pass(
    path: Path, ring: ShmRing, max_frames: int | None, body: bool = False
) -> dict[str, Any]:
    source = ClipSource(path, loop=False, paced=False)
    source.open()
    raw_w, out_w, raw_r, out_r = [], [], [], []
    sizes: list[float] = []
    body_ms: list[float] = []
    stats = FrameStats(keep_all=True)
    writer = ring.writer()
    with Tracker(body=body) as tracker:

        def collect(frame: Any) -> None:
            if body:
                sizes.append(float(len(frame.encode())))
                body_ms.append(tracker.body_ms)
            if tracker.last_raw is not None and frame.face_present:
                raw_w.append(tracker.last_raw.weights)
                out_w.append(frame.weights())
                raw_r.append(tracker.last_raw.rotation)
                out_r.append(frame.head_rotation)

        loop = TrackingLoop(
            source, tracker, ring=writer, stats=stats, max_frames=max_frames, on_frame=collect
        )
        t0 = time.perf_counter()
        loop.run()
        wall = time.perf_counter() - t0
        bt = tracker.body_tracker
        body_counts = (
            (bt.hand_runs, bt.hand_hits, bt.pose_runs, bt.pose_hits, bt.hand_skips) if bt else None
        )
    writer.close()
    source.close()
    every = stats.all_values()
    result: dict[str, Any] = {
        "clip": path.name,
        "frames": stats.frames,
        "faces_detected": stats.faces,
        "fps_unpaced": round(stats.frames / wall, 1),
        "frame_ms_p50": rounded(percentile(every["total"], 50), 3),
        "frame_ms_p95": rounded(percentile(every["total"], 95), 3),
    }
    for stage in STAGES:
        result[f"{stage}_ms_p50"] = rounded(percentile(every[stage], 50), 3)
    if body_counts is not None:
        hand_runs, hand_hits, pose_runs, pose_hits, hand_skips = body_counts
        result["hands_detected_ratio"] = round(hand_hits / max(hand_runs, 1), 3)
        result["hand_turns_skipped_ratio"] = round(hand_skips / max(hand_runs + hand_skips, 1), 3)
        result["pose_detected_ratio"] = round(pose_hits / max(pose_runs, 1), 3)
        result["frame_bytes_body_p99"] = rounded(percentile(sizes, 99), 1)
        result["body_ms_p50"] = rounded(percentile(body_ms, 50), 3)
        result["_body_counts"] = body_counts
        result["_sizes"] = sizes
        result["_body_ms"] = body_ms
    lag: dict[str, float] = {}
    if len(raw_w) > 30:
        rw, ow = np.array(raw_w), np.array(out_w)
        for group, idx in BLENDSHAPE_GROUPS.items():
            # The group's most active channel carries the clearest motion to align.
            ch = idx[int(np.argmax(rw[:, idx].std(axis=0)))]
            lag[group] = fitted_lag_ms(rw[:, ch], ow[:, ch], source.fps)
        rr, orr = np.array(raw_r), np.array(out_r)
        ch = int(np.argmax(rr.std(axis=0)))
        lag["head_rotation"] = fitted_lag_ms(rr[:, ch], orr[:, ch], source.fps)
    result["_stats_all"] = every
    result["_lag"] = lag
    return result


def paced_cpu(path: Path, ring: ShmRing, seconds: float, body: bool = False) -> float:
    """Percent of one core while tracking ``path`` paced at 30 FPS for ``seconds``."""
    source = ClipSource(path, loop=True, paced=True, fps=30.0)
    source.open()
    writer = ring.writer()
    stop = threading.Event()
    with Tracker(body=body) as tracker:
        TrackingLoop(source, tracker, ring=writer, duration_s=WARMUP_S, stop=stop).run()
        meter = CpuMeter()
        TrackingLoop(source, tracker, ring=writer, duration_s=seconds, stop=stop).run()
        cpu = meter.sample()
    writer.close()
    source.close()
    return round(cpu, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        help="a clip path, 'sample' or 'all-shared' (repeatable; default sample)",
    )
    parser.add_argument("--json", metavar="OUT", help="write the figures as JSON here")
    parser.add_argument(
        "--cpu-seconds",
        type=float,
        default=5.0,
        help="length of the paced 30 FPS pass per clip (0 skips it)",
    )
    parser.add_argument("--max-frames", type=int, help="cap the unpaced pass per clip")
    parser.add_argument(
        "--body",
        choices=("on", "off"),
        default="off",
        help="also track hands and upper body (default sources: sample and bodies/s29)",
    )
    args = parser.parse_args(argv)
    quiet_native_logs()
    body = args.body == "on"
    default = ["sample", "bodies"] if body and SHARED_BODY_CLIP.is_file() else ["sample"]
    paths = clip_paths(args.source or default)

    clips: list[dict[str, Any]] = []
    with ShmRing.create("bench") as ring:
        for path in paths:
            result = unpaced_pass(path, ring, args.max_frames, body)
            result["cpu_pct_at_30fps"] = (
                paced_cpu(path, ring, args.cpu_seconds, body) if args.cpu_seconds > 0 else None
            )
            clips.append(result)

    pooled: dict[str, list[float]] = {k: [] for k in clips[0]["_stats_all"]}
    for c in clips:
        for k, v in c.pop("_stats_all").items():
            pooled[k].extend(v)
    cpus = [c["cpu_pct_at_30fps"] for c in clips if c["cpu_pct_at_30fps"] is not None]
    frames = sum(c["frames"] for c in clips)
    summary: dict[str, Any] = {
        "frames": frames,
        "faces_detected": sum(c["faces_detected"] for c in clips),
        "fps_unpaced": round(frames / sum(c["frames"] / c["fps_unpaced"] for c in clips), 1),
        "frame_ms_p50": rounded(percentile(pooled["total"], 50), 3),
        "frame_ms_p95": rounded(percentile(pooled["total"], 95), 3),
        "cpu_pct_at_30fps": round(float(np.mean(cpus)), 1) if cpus else None,
    }
    for stage in STAGES:
        summary[f"{stage}_ms_p50"] = rounded(percentile(pooled[stage], 50), 3)
    if body:
        counts = np.sum([c.pop("_body_counts") for c in clips], axis=0)
        sizes = [v for c in clips for v in c.pop("_sizes")]
        body_ms = [v for c in clips for v in c.pop("_body_ms")]
        summary["hands_detected_ratio"] = round(float(counts[1]) / max(float(counts[0]), 1), 3)
        summary["pose_detected_ratio"] = round(float(counts[3]) / max(float(counts[2]), 1), 3)
        turns = float(counts[0] + counts[4])
        summary["hand_turns_skipped_ratio"] = round(float(counts[4]) / max(turns, 1), 3)
        summary["frame_bytes_body_p99"] = rounded(percentile(sizes, 99), 1)
        summary["body_ms_p50"] = rounded(percentile(body_ms, 50), 3)
    fitted: dict[str, list[float]] = {}
    for c in clips:
        for group, ms in c.pop("_lag").items():
            fitted.setdefault(group, []).append(ms)
    summary["smoothing_lag_ms"] = {
        "step_30fps": lag_report(SmoothingConfig(), 30.0),
        "fitted_on_clips_median": {g: percentile(v, 50) for g, v in fitted.items()},
    }
    summary["clips"] = {c["clip"]: c for c in clips}
    summary["cpu_count"] = os.cpu_count()

    cols = [
        "frames",
        "faces_detected",
        "fps_unpaced",
        "frame_ms_p50",
        "frame_ms_p95",
        "cpu_pct_at_30fps",
        *[f"{s}_ms_p50" for s in STAGES],
    ]
    short = ["frames", "faces", "fps", "p50ms", "p95ms", "cpu%30", *[s[:5] for s in STAGES]]
    if body:
        cols += ["hands_detected_ratio", "pose_detected_ratio", "frame_bytes_body_p99"]
        short += ["hands", "pose", "bytes99"]
    print(f"{'clip':<10}" + "".join(f"{h:>9}" for h in short))
    for row in [*clips, {"clip": "ALL", **summary}]:
        print(f"{row['clip']:<10}" + "".join(f"{_fmt(row[c]):>9}" for c in cols))
    print("smoothing lag (ms):", json.dumps(summary["smoothing_lag_ms"]))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    sys.exit(main())
