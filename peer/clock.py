"""Clock offset between this process and the peer, NTP-style, from ctl ping/pong.

Every frame carries the sender's CLOCK_MONOTONIC capture time; to turn that into an end-to-end
latency the receiver needs ``offset = remote_clock - local_clock``. One ping/pong exchange gives

    t1 (local send), t2 (remote receive), t3 (remote reply), t4 (local receive)
    rtt    = (t4 - t1) - (t3 - t2)
    offset = ((t2 - t1) + (t3 - t4)) / 2

The offset error is bounded by rtt/2 and by path asymmetry, and a sample whose ping or pong sat
in a queue has a large rtt *and* a biased offset, so we keep a window of recent samples and use
the offset of the one with the smallest rtt (the "min-RTT filter"). On one host both processes
share CLOCK_MONOTONIC, so the offset comes out at ~0 (the tests check that).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

from protocol.stats import percentile

#: 16 samples at 1 Hz: long enough to find an unqueued exchange, short enough to follow drift
#: (monotonic clocks on two hosts drift by tens of ppm: ~1 ms per minute at worst).
WINDOW = 16


@dataclass(frozen=True, slots=True)
class ClockSample:
    rtt_us: int
    offset_us: int


class ClockSync:
    """Min-RTT-filtered offset estimate; feed it ping/pong timestamps with :meth:`add`."""

    def __init__(self, window: int = WINDOW) -> None:
        self._samples: collections.deque[ClockSample] = collections.deque(maxlen=window)
        self.last_rtt_us: int | None = None

    def reset(self) -> None:
        """Forget everything (the peer process changed: its clock origin may be different)."""
        self._samples.clear()
        self.last_rtt_us = None

    def add(self, t1_us: int, t2_us: int, t3_us: int, t4_us: int) -> ClockSample | None:
        """Add one exchange; returns the sample, or None if it is impossible (negative rtt)."""
        rtt = (t4_us - t1_us) - (t3_us - t2_us)
        if rtt < 0 or t4_us < t1_us:
            return None  # a replayed or forged pong; ignore rather than poison the filter
        sample = ClockSample(rtt_us=rtt, offset_us=((t2_us - t1_us) + (t3_us - t4_us)) // 2)
        self._samples.append(sample)
        self.last_rtt_us = rtt
        return sample

    @property
    def ready(self) -> bool:
        return bool(self._samples)

    @property
    def offset_us(self) -> int:
        """remote_clock - local_clock in microseconds (0 until the first exchange)."""
        if not self._samples:
            return 0
        return min(self._samples, key=lambda s: s.rtt_us).offset_us

    @property
    def rtt_us(self) -> int | None:
        """Median rtt over the window (what a user would call "the" round-trip time), as the
        nearest-rank p50 of :mod:`protocol.stats` like every other reported figure."""
        p50 = percentile((s.rtt_us for s in self._samples), 50)
        return None if p50 is None else int(p50)

    def to_local_us(self, remote_us: int) -> int:
        """Map a timestamp on the peer's clock onto ours."""
        return remote_us - self.offset_us
