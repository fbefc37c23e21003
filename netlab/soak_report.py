"""Soak results: per-call measurements, the run's summary against the issue's goals, Markdown
and PNG plots. Split from ``scripts/soak.py`` so the numbers can be re-rendered from JSON
(``python -m netlab.soak_report OUT/soak.json``) without re-running calls; in the ``netlab``
package so the script and its tests import it without editing ``sys.path``.

Definitions (why each is computed this way):

- Latency: per frame, ring write time at the receiver - capture time at the sender (one shared
  CLOCK_MONOTONIC), so percentiles are exact, not averages of per-second windows; they are
  :func:`protocol.stats.percentile`'s nearest-rank ones, like every process's own figures.
- Buckets: "per minute" = buckets of ``min(60 s, call length / 2)``, so a short CI call still
  has a first and a last bucket; drift = |p99 of the last bucket - p99 of the first|.
- RSS growth: mean RSS in the last bucket - mean RSS in the first bucket, per process.
- Delivered ratio: frames written to the receiver's ring / frames the sender's peer sent.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from protocol.stats import percentile

#: Keys the issue requires in the JSON (also printed by soak.py).
HEADLINE = (
    "calls",
    "succeeded",
    "e2e_ms_p50",
    "e2e_ms_p99",
    "delivered_ratio_min",
    "rss_growth_mb_max",
    "latency_drift_ms_max",
)
#: Goals from issue 6 (and ARCHITECTURE.md's targets), checked in the Markdown summary.
GOAL_E2E_P99_MS = 120.0
GOAL_DELIVERED_IMPAIRED = 0.93
GOAL_DRIFT_MS = 10.0
GOAL_RSS_GROWTH_MB = 10.0
GOAL_CLIENT_CPU = 60.0
#: Plot resolution (seconds per point).
SERIES_BIN_S = 5.0


def _r(v: float | None, nd: int = 2) -> float | None:
    return None if v is None else round(v, nd)


def _last_stats(side: Any) -> dict[str, Any]:
    return side.stats[-1] if side.stats else {}


def call_result(
    index: int,
    sides: list[Any],
    samples: list[dict[str, Any]],
    *,
    t0: float,
    t_end: float,
    connected: bool,
    kind: str,
    connect_limit_s: float,
    max_gap_s: float,
) -> dict[str, Any]:
    """Everything measured in one call (``sides``: :class:`netlab.soak_probes.Side`, a then b)."""
    a, b = sides
    duration = max(t_end - t0, 1e-6)
    bucket = min(60.0, duration / 2)
    # Whole buckets only (the stop takes a few ms past the nominal end): a sliver of a bucket
    # at the end would hold a handful of frames and make the drift meaningless.
    nbuckets = max(1, int(duration / bucket + 0.5))
    failures: list[str] = []
    ready = [s.peer_ready_at for s in sides]
    connect_s = (
        max(s.connected_at for s in sides) - max(ready) if connected and all(ready) else None
    )
    if connect_s is None:
        failures.append("never connected")
    elif connect_s > connect_limit_s:
        failures.append(f"connected after {connect_s:.1f} s")
    directions: dict[str, Any] = {}
    all_e2e: list[float] = []
    for sender, receiver in ((a, b), (b, a)):
        key = f"{sender.name}_to_{receiver.name}"
        frames = [f for f in receiver.frames if f[0] >= t0]
        e2e = [f[1] for f in frames]
        all_e2e += e2e
        times = [f[0] for f in frames if f[0] <= t_end]
        gaps = [y - x for x, y in itertools.pairwise(times)]
        if times:
            gaps.append(t_end - times[-1])
        sent = _last_stats(sender).get("frames_sent") or 0
        delivered = receiver.ring_writes / sent if sent else 0.0
        per_bucket = []
        for k in range(nbuckets):
            lo = t0 + k * bucket
            hi = t0 + (k + 1) * bucket if k < nbuckets - 1 else math.inf  # last one: to the end
            vals = [f[1] for f in frames if lo <= f[0] < hi]
            per_bucket.append(
                {
                    "t_s": round(k * bucket, 1),
                    "frames": len(vals),
                    "p50": _r(percentile(vals, 50)),
                    "p99": _r(percentile(vals, 99)),
                }
            )
        p99s = [x["p99"] for x in per_bucket if x["p99"] is not None]
        series = []
        for k in range(math.ceil(duration / SERIES_BIN_S)):
            lo = t0 + k * SERIES_BIN_S
            vals = [f[1] for f in frames if lo <= f[0] < lo + SERIES_BIN_S]
            if vals:
                series.append(
                    [round(k * SERIES_BIN_S, 1), _r(percentile(vals, 50)), _r(percentile(vals, 99))]
                )
        max_gap = max(gaps) if gaps else None
        if not frames:
            failures.append(f"{key}: no frames")
        elif max_gap is not None and max_gap > max_gap_s:
            failures.append(f"{key}: {max_gap:.1f} s without frames")
        directions[key] = {
            "frames_sent": sent,
            "frames_delivered": receiver.ring_writes,
            "delivered_ratio": _r(delivered, 4),
            "first_frame_s": _r(times[0] - t0) if times else None,
            "max_gap_s": _r(max_gap, 3),
            "e2e_ms": {
                "p50": _r(percentile(e2e, 50)),
                "p99": _r(percentile(e2e, 99)),
                "max": _r(max(e2e) if e2e else None),
            },
            "per_bucket": per_bucket,
            "drift_ms": _r(abs(p99s[-1] - p99s[0])) if len(p99s) >= 2 else None,
            "series": series,  # [t_s, p50, p99] per SERIES_BIN_S
            # the peers' own counters: why a frame did not arrive
            "send_dropped_backlog": _last_stats(sender).get("send_dropped"),
            "seq_gaps": _last_stats(receiver).get("seq_gaps"),
            "stale_frames": _last_stats(receiver).get("stale_frames"),
            "bad_payloads": receiver.bad_payloads,
            "ring_missed": receiver.tap.missed if receiver.tap else None,
        }
    procs = _proc_summary(samples, t0, bucket, nbuckets)
    client_cpu = {
        s.name: round(sum(v["cpu_mean"] for k, v in procs.items() if k.endswith(f"-{s.name}")), 1)
        for s in sides
    }
    last = {s.name: _last_stats(s) for s in sides}
    return {
        "index": index,
        "topology": kind,
        "success": not failures,
        "failures": failures,
        "connect_s": _r(connect_s),
        "duration_s": _r(duration, 1),
        "bucket_s": _r(bucket, 1),
        "directions": directions,
        "e2e_ms": {"p50": _r(percentile(all_e2e, 50)), "p99": _r(percentile(all_e2e, 99))},
        "latency_drift_ms": max((d["drift_ms"] or 0.0) for d in directions.values()),
        "processes": procs,
        "rss_growth_mb_max": max((p["rss_growth_mb"] for p in procs.values()), default=None),
        "client_cpu_percent": client_cpu,
        "recoveries": {
            "reconnects": {n: st.get("reconnects", 0) for n, st in last.items()},
            "restarts": {s.name: s.restarts for s in sides},
        },
        "candidate_pair": {n: st.get("candidate_pair") for n, st in last.items()},
        "rtt_ms": {n: st.get("rtt_ms") for n, st in last.items()},
        # the product's own call-long percentiles: capture -> receive from the networking
        # process, capture -> present from the render window (with --windows)
        "product_e2e_ms": {s.name: s.product.get("e2e_ms") for s in sides},
        "product_e2e_present_ms": {s.name: s.product.get("e2e_present_ms") for s in sides},
        "errors": [e for s in sides for e in s.errors][:20],
        "_e2e": all_e2e,  # pooled by summarize(); not written
    }


def _proc_summary(
    samples: list[dict[str, Any]], t0: float, bucket: float, nbuckets: int
) -> dict[str, Any]:
    names = sorted({n for s in samples for n in s["proc"]})
    out: dict[str, Any] = {}
    for name in names:
        rows = [(s["t"] - t0, s["proc"][name]) for s in samples if name in s["proc"]]
        rows = [(t, v) for t, v in rows if t >= 0] or rows
        buckets = []
        for k in range(nbuckets):
            hi = (k + 1) * bucket if k < nbuckets - 1 else math.inf
            vals = [v for t, v in rows if k * bucket <= t < hi]
            if vals:
                buckets.append(
                    {
                        "t_s": round(k * bucket, 1),
                        "cpu": round(statistics.mean(v["cpu"] for v in vals), 1),
                        "rss_mb": round(statistics.mean(v["rss_mb"] for v in vals), 2),
                    }
                )
        growth = buckets[-1]["rss_mb"] - buckets[0]["rss_mb"] if len(buckets) >= 2 else 0.0
        out[name] = {
            "cpu_mean": round(statistics.mean(v["cpu"] for _, v in rows), 1) if rows else 0.0,
            "cpu_max": max((v["cpu"] for _, v in rows), default=0.0),
            "rss_mb_last": rows[-1][1]["rss_mb"] if rows else None,
            "rss_growth_mb": round(growth, 2),
            "per_bucket": buckets,
            "series": [[round(t, 1), v["cpu"], v["rss_mb"]] for t, v in rows],
        }
    return out


def failed_call(index: int, error: str) -> dict[str, Any]:
    """A call that could not even be run (lab, relay or a child failed to start)."""
    return {
        "index": index, "topology": None, "success": False, "failures": [error[:500]],
        "connect_s": None, "duration_s": 0.0, "bucket_s": None, "directions": {},
        "e2e_ms": {"p50": None, "p99": None}, "latency_drift_ms": 0.0, "processes": {},
        "rss_growth_mb_max": None, "client_cpu_percent": {},
        "recoveries": {"reconnects": {}, "restarts": {}}, "candidate_pair": {}, "rtt_ms": {},
        "product_e2e_ms": {}, "product_e2e_present_ms": {}, "errors": [error[:500]], "_e2e": [],
    }  # fmt: skip


def _jsonable(value: Any) -> Any:
    """argparse values as JSON: paths as text, CPU sets as sorted lists."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return value


def summarize(
    results: list[dict[str, Any]], config: dict[str, Any], command: str
) -> dict[str, Any]:
    """The run's headline figures (the issue's required keys) plus every call."""
    pooled = [x for r in results for x in r.get("_e2e", [])]
    results = [{k: v for k, v in r.items() if k != "_e2e"} for r in results]
    ratios = [d["delivered_ratio"] for r in results for d in r["directions"].values()]
    growth = [r["rss_growth_mb_max"] for r in results if r["rss_growth_mb_max"] is not None]
    cpu = [c for r in results for c in r["client_cpu_percent"].values()]
    cfg = {k: _jsonable(v) for k, v in config.items()}
    return {
        "calls": len(results),
        "succeeded": sum(r["success"] for r in results),
        "e2e_ms_p50": _r(percentile(pooled, 50)),
        "e2e_ms_p99": _r(percentile(pooled, 99)),
        "e2e_ms_p99_worst_call": max((r["e2e_ms"]["p99"] or 0 for r in results), default=None),
        "delivered_ratio_min": min(ratios, default=None),
        "rss_growth_mb_max": max(growth, default=None),
        "latency_drift_ms_max": max((r["latency_drift_ms"] for r in results), default=None),
        "connect_s_max": max((r["connect_s"] or 0 for r in results), default=None),
        "max_gap_s": max(
            (d["max_gap_s"] or 0 for r in results for d in r["directions"].values()), default=None
        ),
        "client_cpu_percent_max": max(cpu, default=None),
        "recoveries": sum(sum(r["recoveries"]["reconnects"].values()) for r in results),
        "frames": len(pooled),
        "command": command,
        "config": cfg,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "per_call": results,
    }


def _goals(s: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(what, measured, target, met) rows for the Markdown table."""
    impaired = bool(s["config"].get("loss"))
    limit = float(s["config"].get("connect_limit", 5.0))
    delayed = bool(s["config"].get("delay"))

    def row(what: str, val: Any, target: str, ok: bool | None) -> tuple[str, str, str, bool | None]:
        return what, "-" if val is None else str(val), target, ok

    def lt(v: Any, lim: float) -> bool | None:
        return None if v is None else v < lim

    return [
        row(
            "calls succeeded", f"{s['succeeded']}/{s['calls']}", "all", s["succeeded"] == s["calls"]
        ),
        # The 50 ms aim is for an unimpaired path; with added delay it is information only.
        row(
            "e2e p50 (ms)",
            s["e2e_ms_p50"],
            "-" if delayed else "< 50 (aim)",
            None if delayed else lt(s["e2e_ms_p50"], 50),
        ),
        row(
            "e2e p99 (ms)",
            s["e2e_ms_p99"],
            f"< {GOAL_E2E_P99_MS:.0f}",
            lt(s["e2e_ms_p99"], GOAL_E2E_P99_MS),
        ),
        row(
            "delivered ratio min",
            s["delivered_ratio_min"],
            f">= {GOAL_DELIVERED_IMPAIRED}" if impaired else "~1.0",
            None
            if s["delivered_ratio_min"] is None
            else s["delivered_ratio_min"] >= (GOAL_DELIVERED_IMPAIRED if impaired else 0.99),
        ),
        row(
            "latency drift max (ms)",
            s["latency_drift_ms_max"],
            f"< {GOAL_DRIFT_MS:.0f}",
            lt(s["latency_drift_ms_max"], GOAL_DRIFT_MS),
        ),
        row(
            "RSS growth max (MB)",
            s["rss_growth_mb_max"],
            f"< {GOAL_RSS_GROWTH_MB:.0f}",
            lt(s["rss_growth_mb_max"], GOAL_RSS_GROWTH_MB),
        ),
        row(
            "client CPU max (% of a core)",
            s["client_cpu_percent_max"],
            f"< {GOAL_CLIENT_CPU:.0f}",
            lt(s["client_cpu_percent_max"], GOAL_CLIENT_CPU),
        ),
        row(
            "connect time max (s)",
            s["connect_s_max"],
            f"<= {limit:g}",
            lt(s["connect_s_max"], limit + 1e-4),
        ),
        row("longest gap without frames (s)", s["max_gap_s"], "<= 2", lt(s["max_gap_s"], 2.0001)),
    ]


#: Per direction of a ``--voice`` call: what was heard against what was said (netlab.voice_call).
VOICE_COLUMNS = (
    ("speech correlation", "speech_correlation"),
    ("mouth-to-ear p50/p95 ms", ("mouth_to_ear_ms_p50", "mouth_to_ear_ms_p95")),
    ("audio delay ms (reported)", "audio_delay_ms"),
    ("jitter buffer ms", "jitter_buffer_ms"),
    ("loss %", "loss_pct"),
    ("concealed %", "concealed_pct"),
    ("underruns", "underruns"),
)


def _voice_table(per_call: list[dict[str, Any]]) -> list[str]:
    """The voice figures of each call and direction (none without ``--voice``)."""
    rows = [
        (r["index"], direction, figures)
        for r in per_call
        for direction, figures in sorted((r.get("voice") or {}).items())
        if isinstance(figures, dict)
    ]
    if not rows:
        return []
    out = [
        "",
        "| call | direction | " + " | ".join(name for name, _ in VOICE_COLUMNS) + " |",
        "|---|---|" + "---|" * len(VOICE_COLUMNS),
    ]
    for index, direction, f in rows:
        cells = []
        for _, key in VOICE_COLUMNS:
            if isinstance(key, tuple):
                cells.append("/".join(str(f.get(k, "-")) for k in key))
            else:
                cells.append(str(f.get(key, "-")))
        out.append(f"| {index} | {direction.replace('_to_', '>')} | " + " | ".join(cells) + " |")
    return out


def write_report(summary: dict[str, Any], json_path: Path) -> list[Path]:
    """Markdown summary and PNG plots beside ``json_path``; returns the files written."""
    from netlab.soak_plots import plots  # matplotlib only when plotting (the test extra)

    stem = json_path.with_suffix("")
    pngs = plots(summary, stem)
    cfg = summary["config"]
    lines = [
        f"# Soak: {json_path.stem}",
        "",
        f"Command: `{summary['command']}`  ",
        f"Finished: {summary['finished']}  ",
        f"Network: loss {cfg.get('loss', 0)}% per direction, delay {cfg.get('delay', 0)} "
        f"+- {cfg.get('jitter', 0)} ms, TURN-only: {bool(cfg.get('turn_only'))}, "
        f"windows: {bool(cfg.get('windows'))}; {summary['frames']} frames measured.",
        "",
        # A hand-written remark kept in the JSON (how the run was stopped, what else ran).
        *([f"Note: {summary['note']}", ""] if summary.get("note") else []),
        "| figure | measured | target | met |",
        "|---|---|---|---|",
    ]
    for what, val, target, ok in _goals(summary):
        lines.append(
            f"| {what} | {val} | {target} | {'-' if ok is None else 'yes' if ok else 'NO'} |"
        )
    lines += [
        "",
        "| call | ok | path | connect s | e2e p50/p99 ms | delivered a>b, b>a | "
        "max gap s | drift ms | RSS growth MB | client CPU % | failures |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary["per_call"]:
        d = list(r["directions"].values())
        if not d:
            lines.append(f"| {r['index']} | NO | - | - | - | - | - | - | - | - | "
                         f"{'; '.join(r['failures'])} |")  # fmt: skip
            continue
        pair = "/".join(str(v) for v in r["candidate_pair"].values())
        cpu = "/".join(str(v) for v in r["client_cpu_percent"].values())
        lines.append(
            f"| {r['index']} | {'yes' if r['success'] else 'NO'} | {r['topology']} {pair} | "
            f"{r['connect_s']} | {r['e2e_ms']['p50']}/{r['e2e_ms']['p99']} | "
            f"{d[0]['delivered_ratio']}, {d[1]['delivered_ratio']} | "
            f"{max(x['max_gap_s'] or 0 for x in d)} | {r['latency_drift_ms']} | "
            f"{r['rss_growth_mb_max']} | {cpu} | "
            f"{'; '.join(r['failures'])} |"
        )
    lines += _voice_table(summary["per_call"])
    lines += ["", *[f"![{p.stem}]({p.name})" for p in pngs], ""]
    md = stem.with_suffix(".md")
    md.write_text("\n".join(lines))
    return [md, *pngs]


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        p = Path(arg)
        print("\n".join(str(x) for x in write_report(json.loads(p.read_text()), p)))
