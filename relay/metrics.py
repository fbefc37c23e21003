"""Process-wide counters and their Prometheus text exposition (format 0.0.4).

Plain integers bumped by the hub and the connections; trio runs everything on one thread, so
no locks. Gauges (connections, rooms) are read from the hub at scrape time rather than kept
twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from protocol.signaling import ErrorCode

#: Rejection reasons beyond the protocol's error codes (things that never reach a JSON reply).
REASON_SLOW_CONSUMER = "slow_consumer"
REASON_PONG_TIMEOUT = "pong_timeout"
REASON_HANDSHAKE_TIMEOUT = "handshake_timeout"
REASON_BAD_HTTP = "bad_http"
REASON_FORBIDDEN_ORIGIN = "forbidden_origin"
REASON_NOT_FOUND = "not_found"
#: A message arrived in more WebSocket frames than ``relay.frames.MAX_FRAGMENTS``.
REASON_TOO_MANY_FRAGMENTS = "too_many_fragments"
#: What a per-address rate (relay.limits) refused: new connections (HTTP 429 before the
#: upgrade) and room creations (a ``rate_limited`` error to the join).
RATE_CONNECTIONS = "connections"
RATE_ROOMS = "rooms"


@dataclass(slots=True)
class Metrics:
    connections_total: int = 0
    http_requests_total: int = 0
    frames_received_total: int = 0
    messages_relayed_total: int = 0
    bytes_relayed_total: int = 0
    rooms_created_total: int = 0
    turn_credentials_total: int = 0
    #: Pong deadlines missed by peers that were visibly alive (kept; a sign of overload).
    pongs_late_total: int = 0
    rejections: Counter[str] = field(default_factory=Counter)
    relayed_by_type: Counter[str] = field(default_factory=Counter)
    #: Refusals by a per-address rate, by what was refused (RATE_CONNECTIONS, RATE_ROOMS).
    #: They also count under ``rejections{reason="rate_limited"}``, with per-connection frame
    #: floods; this says which rate it was.
    rate_limited: Counter[str] = field(default_factory=Counter)

    def reject(self, reason: ErrorCode | str) -> None:
        self.rejections[str(reason)] += 1

    def render(self, gauges: dict[str, tuple[str, Callable[[], int]]]) -> str:
        """Prometheus text; ``gauges`` maps metric name -> (help, getter)."""
        out: list[str] = []

        def metric(name: str, kind: str, doc: str, samples: list[tuple[str, int]]) -> None:
            out.append(f"# HELP {name} {doc}")
            out.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                out.append(f"{name}{labels} {value}")

        for name, (doc, getter) in gauges.items():
            metric(name, "gauge", doc, [("", getter())])
        metric("avatarchat_relay_connections_total", "counter",
               "WebSocket connections accepted", [("", self.connections_total)])
        metric("avatarchat_relay_http_requests_total", "counter",
               "plain HTTP requests (/healthz, /metrics)", [("", self.http_requests_total)])
        metric("avatarchat_relay_frames_received_total", "counter",
               "text frames received from clients", [("", self.frames_received_total)])
        metric("avatarchat_relay_messages_relayed_total", "counter",
               "frames forwarded to the other peer",
               [(f'{{type="{t}"}}', n) for t, n in sorted(self.relayed_by_type.items())]
               or [('{type="offer"}', 0)])
        metric("avatarchat_relay_bytes_relayed_total", "counter",
               "bytes of frames forwarded", [("", self.bytes_relayed_total)])
        metric("avatarchat_relay_rooms_created_total", "counter",
               "rooms opened", [("", self.rooms_created_total)])
        metric("avatarchat_relay_turn_credentials_total", "counter",
               "TURN credentials issued", [("", self.turn_credentials_total)])
        metric("avatarchat_relay_pongs_late_total", "counter",
               "pong deadlines missed by peers that were sending (kept, not dropped)",
               [("", self.pongs_late_total)])
        metric("avatarchat_relay_rate_limited_total", "counter",
               "new connections and room creations refused by the per-address rates",
               [(f'{{what="{w}"}}', self.rate_limited[w]) for w in (RATE_CONNECTIONS, RATE_ROOMS)])
        metric("avatarchat_relay_rejections_total", "counter",
               "frames or connections refused, by reason",
               [(f'{{reason="{r}"}}', n) for r, n in sorted(self.rejections.items())]
               or [('{reason="none"}', 0)])
        return "\n".join(out) + "\n"
