"""The once-a-second ``stats`` event and the ``--stats-json`` file.

The event carries the per-second rates and counters of :class:`~peer.stats.CallStats` plus the
link's view: rtt and clock offset (:class:`~peer.clock.ClockSync`), the e2e (capture -> receive)
latency percentiles with their stage breakdown, the selected candidate pair type, the short
authentication string and this process's CPU (``cpu``, percent of one core). The JSON file holds
``{"latest": <that event>, "call": <whole-call percentiles and totals>}``, replaced atomically
each second so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from protocol.stats import CpuMeter

from .clock import ClockSync
from .connection import PeerLink
from .stats import CallStats

STATS_INTERVAL_S = 1.0


class StatsReport:
    def __init__(self, stats: CallStats, clock: ClockSync, path: str | None, room: str) -> None:
        self.stats = stats
        self.clock = clock
        self.path = path
        self.room_tag = room[:6]  # enough to tell calls apart; the code itself stays private
        self._last = 0.0
        self._cpu = CpuMeter()

    def _interval(self) -> float:
        now = time.monotonic()
        interval = now - self._last if self._last else STATS_INTERVAL_S
        self._last = now
        return interval

    def event(
        self,
        *,
        state: str,
        gen: int,
        link: PeerLink | None,
        relay_connected: bool,
        peer: str | None,
    ) -> dict[str, Any]:
        """Fields of one ``stats`` event (resets the per-second window)."""
        rtt = self.clock.rtt_us
        rtt_ms = rtt / 1000 if rtt is not None else None
        snap = self.stats.snapshot(self._interval())
        stages = self.stats.stages(rtt_ms)
        if snap["e2e_ms"] is not None:
            snap["e2e_ms"]["stages"] = stages
        pair = link.candidate_pair() if link is not None else None
        snap.update(
            state=state,
            gen=gen,
            rtt_ms=round(rtt_ms, 2) if rtt_ms is not None else None,
            clock_offset_ms=round(self.clock.offset_us / 1000, 3) if self.clock.ready else None,
            stages_ms=stages,
            candidate_pair=pair["type"] if pair else None,
            sas=link.sas() if link is not None else None,
            relay_connected=relay_connected,
            peer=peer,
            cpu=round(self._cpu.sample(), 1),
        )
        return snap

    def write_json(self, event: dict[str, Any]) -> str | None:
        """Replace the stats file; returns a problem description instead of raising."""
        if not self.path:
            return None
        doc = {"latest": event, "call": self.stats.whole_call(), "room": self.room_tag}
        tmp = f"{self.path}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(doc, f, indent=1, default=str)
            os.replace(tmp, self.path)
        except OSError as e:
            return f"cannot write {self.path}: {e.strerror}"
        return None
