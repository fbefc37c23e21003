"""Soak plots: latency, drift, CPU and RSS per call, as small PNGs beside the Markdown summary.

Split from ``netlab/soak_report.py`` (which computes the figures) so each stays short; plotting
needs matplotlib, which only the test extra installs, so the report imports this lazily.
"""

from __future__ import annotations

import logging
import statistics
from pathlib import Path
from typing import Any

from PIL import Image

from netlab.soak_report import GOAL_DRIFT_MS, GOAL_E2E_P99_MS, SERIES_BIN_S

log = logging.getLogger(__name__)

#: Palette size of the stored plots: enough for matplotlib's ten line colours with their
#: anti-aliased edges, small enough to keep a plot near 10 KB.
PNG_COLORS = 32

#: Above this many calls the plots show the spread across calls instead of one line per call
#: (a 20-call run would otherwise be 80 latency lines under a legend that hides them).
MAX_CALLS_DRAWN_SEPARATELY = 3


def plots(summary: dict[str, Any], stem: Path) -> list[Path]:
    """Latency, drift, CPU and RSS plots beside ``stem``; none without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.info("matplotlib is not installed: no plots for %s", stem.name)
        return []
    calls = summary["per_call"]
    out = []
    fig, ax = plt.subplots(figsize=(9, 4))
    if len(calls) <= MAX_CALLS_DRAWN_SEPARATELY:
        for r in calls:
            for key, d in r["directions"].items():
                if d["series"]:
                    t = [x[0] for x in d["series"]]
                    ax.plot(t, [x[2] for x in d["series"]], lw=0.8,
                            label=f"call {r['index']} {key} p99")  # fmt: skip
                    ax.plot(t, [x[1] for x in d["series"]], lw=0.8, ls="--",
                            label=f"call {r['index']} {key} p50")  # fmt: skip
    else:
        _spread(ax, calls)
    ax.axhline(GOAL_E2E_P99_MS, color="red", lw=0.8, ls=":", label="120 ms goal")
    ax.set(xlabel="seconds since connected", ylabel="end-to-end latency (ms)",
           title=f"Latency per {SERIES_BIN_S:.0f} s ({len(calls)} calls)")  # fmt: skip
    _legend(ax)
    out.append(_save(fig, stem, "latency"))
    out.append(_drift_plot(plt, calls, stem))
    for metric, col, label in (("cpu", 1, "CPU (% of one core)"), ("rss", 2, "RSS (MB)")):
        fig, ax = plt.subplots(figsize=(9, 4))
        colors: dict[str, Any] = {}
        for r in calls:
            for name, p in r["processes"].items():
                if p["series"]:
                    # One colour per process role, labelled once, so 20 calls stay readable.
                    first = name not in colors
                    color = colors.setdefault(name, f"C{len(colors) % 10}")
                    ax.plot([x[0] for x in p["series"]], [x[col] for x in p["series"]],
                            lw=0.8, color=color, alpha=0.8 if len(calls) > 1 else 1.0,
                            label=name if first else None)  # fmt: skip
        ax.set(xlabel="seconds since connected", ylabel=label,
               title=f"{label} per process ({len(calls)} calls overlaid)")  # fmt: skip
        _legend(ax)
        out.append(_save(fig, stem, metric))
    plt.close("all")
    return out


def _spread(ax: Any, calls: list[dict[str, Any]]) -> None:
    """Median and range across every call and direction, per time bin."""
    p50s: dict[float, list[float]] = {}
    p99s: dict[float, list[float]] = {}
    for r in calls:
        for d in r["directions"].values():
            for t, p50, p99 in d["series"] or []:
                p50s.setdefault(t, []).append(p50)
                p99s.setdefault(t, []).append(p99)
    # The bin that starts at the call's end holds a few frames only: leave it out of the plot.
    end = max((r["duration_s"] or 0.0) for r in calls)
    ts = [t for t in sorted(p99s) if t + SERIES_BIN_S <= end + 1.0]
    if not ts:
        return
    ax.fill_between(ts, [min(p99s[t]) for t in ts], [max(p99s[t]) for t in ts],
                    color="C0", alpha=0.2, label="p99, range over calls")  # fmt: skip
    ax.plot(ts, [statistics.median(p99s[t]) for t in ts], color="C0", lw=1.2,
            label="p99, median over calls")  # fmt: skip
    ax.plot(ts, [statistics.median(p50s[t]) for t in ts], color="C1", lw=1.2, ls="--",
            label="p50, median over calls")  # fmt: skip


def _drift_plot(plt: Any, calls: list[dict[str, Any]], stem: Path) -> Path:
    """Per call and direction: p99 of the first and the last bucket, the drift goal's inputs."""
    fig, ax = plt.subplots(figsize=(9, 4))
    labels, firsts, lasts, drifts = [], [], [], []
    for r in calls:
        for key, d in r["directions"].items():
            if d["drift_ms"] is not None:  # set exactly when there are two buckets with a p99
                buckets = [b for b in d["per_bucket"] if b["p99"] is not None]
                labels.append(f"{r['index']} {key.replace('_to_', '>')}")
                firsts.append(buckets[0]["p99"])
                lasts.append(buckets[-1]["p99"])
                drifts.append(d["drift_ms"])
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], firsts, width=0.4, label="first bucket p99")
    ax.bar([x + 0.2 for x in xs], lasts, width=0.4, label="last bucket p99")
    for x, a, b, drift in zip(xs, firsts, lasts, drifts, strict=True):
        if drift > GOAL_DRIFT_MS:
            ax.annotate("!", (x, max(a, b)), ha="center", va="bottom", color="red")
    ax.set_xticks(list(xs), labels, rotation=90, fontsize=6)
    ax.set(
        ylabel="e2e p99 (ms)",
        xlabel="call, direction",
        title=f"Drift: first vs last bucket p99 (! = more than {GOAL_DRIFT_MS:.0f} ms apart)",
    )
    _legend(ax)
    return _save(fig, stem, "drift")


def _legend(ax: Any) -> None:
    handles, _labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=6, ncol=2, loc="upper right")


def _save(fig: Any, stem: Path, what: str) -> Path:
    path = stem.with_name(f"{stem.name}-{what}.png")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    shrink_png(path)
    return path


def shrink_png(path: Path, colors: int = PNG_COLORS) -> None:
    """Re-encode ``path`` as a palette PNG of ``colors`` colours, in place.

    Octree quantisation without dithering keeps every line colour of a matplotlib plot
    distinct and the text crisp, at about a fifth of the bytes of the RGBA file (docs/bench
    stays small)."""
    with Image.open(path) as im:
        rgba = im.convert("RGBA")
    quantized = rgba.quantize(colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    quantized.save(path, optimize=True)
