"""Live call statistics: the numbers behind the call screen's sparklines.

Children report ``stats`` events about once a second, each with its own field names; this module
maps them onto the seven metrics the call screen shows and keeps a short history per metric. It is
plain Python (no Textual) so the mapping is unit-tested on its own, and the screen only samples
it on a timer (5 Hz) -- sampling more often than children report makes the sparklines move
smoothly and shows a stalled child as a flat line instead of a frozen one.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: 5 Hz sampling x 24 s of history fits a sparkline ~60-120 cells wide.
HISTORY = 120


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    label: str
    unit: str
    child: str  # which child reports it ("" = computed by the TUI)
    fields: tuple[str, ...]  # candidate field names, first present wins
    decimals: int = 0


METRICS: tuple[Metric, ...] = (
    Metric("track_fps", "Tracking", "fps", "tracking", ("fps", "track_fps", "frames_per_s"), 1),
    Metric("render_fps", "Render", "fps", "render", ("fps", "render_fps", "present_fps"), 1),
    Metric("send_hz", "Send", "Hz", "peer", ("send_hz", "tx_hz", "sent_hz", "params_tx_hz"), 1),
    Metric(
        "recv_hz", "Receive", "Hz", "peer", ("recv_hz", "rx_hz", "received_hz", "params_rx_hz"), 1
    ),
    Metric(
        "bytes",
        "Bytes/frame",
        "B",
        "peer",
        ("bytes_per_frame", "frame_bytes", "tx_bytes_per_frame"),
    ),
    Metric("rtt", "RTT", "ms", "peer", ("rtt_ms", "rtt"), 1),
    Metric(
        "latency",
        "Latency",
        "ms",
        "peer",
        ("e2e_present_ms", "latency_ms", "e2e_ms"),
        1,
    ),
    Metric("cpu", "CPU", "%", "", ()),
)
#: Header extras: path = the selected ICE candidate type (host/srflx/relay), sas = the short
#: authentication string derived from both DTLS fingerprints.
EXTRAS: dict[str, tuple[str, ...]] = {"path": ("path", "candidate_pair"), "sas": ("sas",)}
METRIC_KEYS = tuple(m.key for m in METRICS)


def _number(value: Any) -> float | None:
    if isinstance(value, dict):  # a percentile summary: {"p50": .., "p99": ..}
        value = value.get("p50", value.get("median"))
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _lookup(event: dict[str, Any], names: Iterable[str]) -> float | None:
    """First candidate field found at the top level or one level down (e.g. ``params.send_hz``)."""
    for name in names:
        if name in event:
            found = _number(event[name])
            if found is not None:
                return found
    for value in event.values():
        if isinstance(value, dict):
            found = _lookup(value, names)
            if found is not None:
                return found
    return None


class StatsModel:
    """Latest value per metric plus a sampled history."""

    def __init__(self, history: int = HISTORY) -> None:
        self.current: dict[str, float | None] = dict.fromkeys(METRIC_KEYS)
        self.history: dict[str, deque[float]] = {k: deque(maxlen=history) for k in METRIC_KEYS}
        #: Free-form extras the header shows (path, SAS) when a child puts them in stats.
        self.extras: dict[str, str] = {}

    def ingest(self, event: dict[str, Any]) -> None:
        """Take one child ``stats`` event (with ``child`` set by the supervisor)."""
        child = event.get("child", "")
        for metric in METRICS:
            if metric.child and metric.child == child:
                value = _lookup(event, metric.fields)
                if value is not None:
                    self.current[metric.key] = value
        for key, names in EXTRAS.items():
            for name in names:
                value = event.get(name)
                if isinstance(value, str) and value:
                    self.extras[key] = value
                    break

    def set(self, key: str, value: float | None) -> None:
        self.current[key] = value

    def forget(self, child: str) -> None:
        """A child stopped: its metrics are unknown until it reports again."""
        for metric in METRICS:
            if metric.child == child:
                self.current[metric.key] = None

    def sample(self) -> None:
        """Append the current values to the histories (missing = 0, a visible dip)."""
        for key in METRIC_KEYS:
            value = self.current[key]
            self.history[key].append(value if value is not None else 0.0)

    def text(self, key: str) -> str:
        metric = next(m for m in METRICS if m.key == key)
        value = self.current[key]
        if value is None:
            return "-"
        return f"{value:.{metric.decimals}f} {metric.unit}"
