"""What the soak (``scripts/soak.py``) measures at each client: every frame written to the
receiving peer's ring, the call's events, and the CPU and RSS of its processes.

Split from the script so the probes can be read (and type-checked, as ``netlab`` is) apart
from the orchestration of namespaces, relays and calls around them; :mod:`netlab.soak_report`
turns what they collect into the summary.
"""

from __future__ import annotations

import mmap
import os
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from call import Call, CallEvent, as_record
from protocol.errors import DecodeError
from protocol.frame import ParamFrame
from protocol.ring import HEADER_BYTES, SHM_DIR, SLOT_HEADER_BYTES, SLOT_META, slot_crc

#: psutil sampling period (CPU is the delta of CPU time over this period).
PROC_SAMPLE_S = 2.0
_U64 = struct.Struct("<Q")


class RingTap:
    """Reads every new slot of a ring (read-only mmap; the documented layout in protocol/ring).

    ``RingReader`` returns only the newest record; the soak needs each frame's latency."""

    def __init__(self, name: str) -> None:
        with open(os.path.join(SHM_DIR, name), "rb") as f:
            self.mm = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        self.slots, self.slot_size = struct.unpack_from("<II", self.mm, 8)
        self.next_number = 0
        self.missed = 0

    @property
    def write_count(self) -> int:
        return int(_U64.unpack_from(self.mm, 16)[0])

    def poll(self) -> list[tuple[int, bytes]]:
        """(written_ns, payload) of each slot completed since the last poll."""
        count = self.write_count
        out = []
        if count - self.next_number > self.slots:
            self.missed += count - self.slots - self.next_number
            self.next_number = count - self.slots
        for n in range(self.next_number, count):
            at = HEADER_BYTES + (n % self.slots) * self.slot_size
            seq1 = _U64.unpack_from(self.mm, at)[0]
            size, _res, crc, written_ns, capture_ns = SLOT_META.unpack_from(self.mm, at + 8)
            payload = bytes(self.mm[at + SLOT_HEADER_BYTES : at + SLOT_HEADER_BYTES + size])
            if seq1 != 2 * n + 2 or _U64.unpack_from(self.mm, at)[0] != seq1:
                self.missed += 1
            elif slot_crc(capture_ns, payload) == crc:
                out.append((int(written_ns), payload))
        self.next_number = count
        return out

    def close(self) -> None:
        self.mm.close()


@dataclass
class Side:
    """One client of a call and what was measured at its receiving end."""

    name: str  # "a" or "b"
    session: Call = field(init=False)
    tap: RingTap | None = None
    ring_writes: int = 0  # frames the receiving peer wrote to its remote ring (final count)
    peer_ready_at: float | None = None
    connected_at: float | None = None
    stats: list[dict[str, Any]] = field(default_factory=list)  # peer stats events (+ "rx_t")
    frames: list[tuple[float, float, int]] = field(default_factory=list)  # (t, e2e_ms, seq)
    bad_payloads: int = 0
    errors: list[str] = field(default_factory=list)
    restarts: dict[str, int] = field(default_factory=dict)
    #: the product's own call-long figures (``--stats-json`` "call"), to set beside ours
    product: dict[str, Any] = field(default_factory=dict)
    #: the render window's latest ``stats`` (with --windows): its capture -> present
    render_stats: dict[str, Any] = field(default_factory=dict)

    def on_event(self, source: str, event: CallEvent) -> None:
        ev = as_record(source, event)
        now = time.monotonic()
        child, kind = ev.get("child"), ev.get("event")
        if child == "peer" and kind == "ready" and self.peer_ready_at is None:
            self.peer_ready_at = now
        elif child == "peer" and kind == "status" and ev.get("state") == "connected":
            self.connected_at = self.connected_at or now
        elif child == "peer" and kind == "stats":
            self.stats.append({**ev, "rx_t": now})
        elif child == "render" and kind == "stats":
            self.render_stats = ev
        elif kind == "started" and child and ev.get("restarts"):
            self.restarts[child] = int(ev["restarts"])
        elif kind == "error":
            self.errors.append(f"{child}: {ev.get('message')}"[:300])

    def poll_ring(self) -> None:
        if self.tap is None:
            return
        for written_ns, payload in self.tap.poll():
            try:
                frame = ParamFrame.decode(payload)
            except DecodeError:
                self.bad_payloads += 1
                continue
            e2e_ms = (written_ns / 1000 - frame.timestamp_us) / 1000
            self.frames.append((written_ns / 1e9, e2e_ms, frame.seq))


class ProcSampler:
    """CPU (% of one core) and RSS (MB) of named processes, sampled every PROC_SAMPLE_S."""

    def __init__(self) -> None:
        self.samples: list[dict[str, Any]] = []  # {"t", "proc": {name: {"cpu", "rss_mb"}}}
        self._last: dict[str, tuple[int, float, float]] = {}  # name -> (pid, t, cpu_s)

    def sample(self, pids: dict[str, int | None]) -> None:
        now = time.monotonic()
        row: dict[str, dict[str, float]] = {}
        for name, pid in pids.items():
            if not pid:
                continue
            try:
                p = psutil.Process(pid)
                times, rss = p.cpu_times(), p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            cpu_s = times.user + times.system
            last = self._last.get(name)
            self._last[name] = (pid, now, cpu_s)
            if last is None or last[0] != pid:  # first sample or restarted: no delta yet
                continue
            row[name] = {
                "cpu": round(100 * (cpu_s - last[2]) / max(now - last[1], 1e-6), 1),
                "rss_mb": round(rss / 2**20, 2),
            }
        if row:
            self.samples.append({"t": now, "proc": row})
