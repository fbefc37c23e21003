"""Call statistics: rates, sizes, loss, gaps, bad frames and latency percentiles.

The networking process emits one ``stats`` event per second built by :meth:`CallStats.snapshot`.
Rates and loss are over the last second (what a user watching a status line wants), counters
are cumulative, and latency percentiles are over a sliding window of recent frames (so a hiccup
shows up and then ages out) -- the cumulative call-long percentiles go into ``--stats-json``.
Percentiles and windows are :mod:`protocol.stats`' (nearest-rank), the same as every process's.

Latency model (all times on this host's CLOCK_MONOTONIC, the sender's mapped by clock offset):
``e2e`` = receive time - sender capture time. Stage breakdown (p50, ms):
``tx_capture_to_ring`` (our tracker: camera frame to ring slot, our own frames),
``tx_ring_to_send`` (ring slot to DataChannel send, our own frames), ``net_one_way`` (rtt/2) and
``rx_recv_to_ring`` (receive to the remote ring write here). What happens after the remote ring
is the render window's to measure: it reads the mapped capture time from the ring slot and
reports capture -> present (``e2e_present_ms``) in its own ``stats`` event.
"""

from __future__ import annotations

from typing import Any

from protocol.stats import Series, rounded


class CallStats:
    """Counters for one networking process (they survive reconnects within the call)."""

    def __init__(self) -> None:
        # cumulative
        self.frames_sent = 0
        self.frames_received = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.send_dropped_backlog = 0  # not sent: the channel was backed up
        self.send_dropped_closed = 0  # not sent: no open channel
        self.bad_frames = 0  # failed to decode or validate
        self.oversize_frames = 0
        self.throttled_frames = 0  # dropped by the receive rate limit
        self.stale_frames = 0  # arrived after a newer one (unordered channel)
        self.seq_gaps = 0  # frames the peer sent that never arrived (from seq numbers)
        self.bad_ctl = 0
        self.avatar_requests_refused = 0  # pack requests refused: duplicate or over the cap
        self.avatar_transfers_refused = 0  # the peer's packs not downloaded: per-call limits
        self.avatar_bytes_received = 0  # pack chunk bytes the peer sent us
        self.reconnects = 0
        # per-second window
        self._win_sent = 0
        self._win_received = 0
        self._win_bytes_received = 0
        self._win_gaps = 0
        self._last_rx_seq: int | None = None
        # Frames the rate limit dropped before decoding (so their seq was never read) since the
        # last accepted frame: they arrived, so the hole they leave is not network loss.
        self._throttled_since_last = 0
        # latency series (ms); only e2e keeps a call-long window
        self.e2e = Series()
        self.tx_capture_to_ring = Series(long=0)
        self.tx_ring_to_send = Series(long=0)
        self.rx_recv_to_ring = Series(long=0)

    # -- updates ---------------------------------------------------------------------------
    def on_sent(self, size: int) -> None:
        self.frames_sent += 1
        self.bytes_sent += size
        self._win_sent += 1

    def on_received(self, size: int, seq: int) -> bool:
        """Count a valid frame; returns False if it is older than one already received."""
        last = self._last_rx_seq
        if last is not None:
            delta = (seq - last) % (1 << 32)
            if delta == 0 or delta > (1 << 31):
                self.stale_frames += 1
                return False
            if delta > 1:
                gap = delta - 1 - min(delta - 1, self._throttled_since_last)
                self.seq_gaps += gap
                self._win_gaps += gap
        self._throttled_since_last = 0
        self._last_rx_seq = seq
        self.frames_received += 1
        self.bytes_received += size
        self._win_received += 1
        self._win_bytes_received += size
        return True

    def on_throttled(self) -> None:
        """A frame dropped by the receive rate limit: counted as throttled, not as a gap."""
        self.throttled_frames += 1
        self._throttled_since_last += 1

    def reset_sequence(self) -> None:
        """The peer restarted (its seq starts over): do not count that as a gap."""
        self._last_rx_seq = None

    # -- reporting -------------------------------------------------------------------------
    def snapshot(self, interval_s: float) -> dict[str, Any]:
        """The per-second part of a ``stats`` event; resets the window counters."""
        interval = max(interval_s, 1e-6)
        expected = self._win_received + self._win_gaps
        out: dict[str, Any] = {
            "send_hz": round(self._win_sent / interval, 1),
            "recv_hz": round(self._win_received / interval, 1),
            "bytes_per_frame": (
                round(self._win_bytes_received / self._win_received, 1)
                if self._win_received
                else None
            ),
            "loss": round(self._win_gaps / expected, 4) if expected else 0.0,
            "frames_sent": self.frames_sent,
            "frames_received": self.frames_received,
            "seq_gaps": self.seq_gaps,
            "bad_frames": self.bad_frames,
            "oversize_frames": self.oversize_frames,
            "throttled_frames": self.throttled_frames,
            "stale_frames": self.stale_frames,
            "send_dropped": self.send_dropped_backlog,
            "bad_ctl": self.bad_ctl,
            "avatar_requests_refused": self.avatar_requests_refused,
            "avatar_transfers_refused": self.avatar_transfers_refused,
            "avatar_bytes_received": self.avatar_bytes_received,
            "reconnects": self.reconnects,
            "e2e_ms": self.e2e.summary(),  # the report adds its "stages" breakdown
        }
        self._win_sent = self._win_received = self._win_bytes_received = self._win_gaps = 0
        return out

    def stages(self, rtt_ms: float | None) -> dict[str, float | None]:
        return {
            "tx_capture_to_ring": rounded(self.tx_capture_to_ring.p(50)),
            "tx_ring_to_send": rounded(self.tx_ring_to_send.p(50)),
            "net_one_way": rounded(rtt_ms / 2) if rtt_ms is not None else None,
            "rx_recv_to_ring": rounded(self.rx_recv_to_ring.p(50), 3),
        }

    def whole_call(self) -> dict[str, Any]:
        """Call-long percentiles for ``--stats-json`` and benchmarks."""
        return {
            "e2e_ms": self.e2e.summary(whole=True),
            "frames_sent": self.frames_sent,
            "frames_received": self.frames_received,
            "bytes_received": self.bytes_received,
        }
