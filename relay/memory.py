"""Giving memory back after a crowd leaves (issue 15, defect 12: 206 MB RSS after 5,000 clients
connected, joined and left).

Measured with ``scripts/relay_rss.py`` (5,000 clients from one address, connected, joined in
pairs and closed; a 2-core machine shared with other work). Without a reclaim: RSS 31 MB at
start, 205 MB held, 211-221 MB after they left, and it stayed there (idle, nothing allocates,
so nothing triggers a collection). By hand, 10 s after they left: ``gc.collect()`` brought it
from 211 to 147 MB and glibc's ``malloc_trim(0)`` to 134 MB. So the figure was three things:

* garbage cycles (about 65 MB): a finished connection leaves its task, coroutines, cancel
  scopes and exceptions with tracebacks in reference cycles, and CPython collects the oldest
  generation only after enough new allocations; an idle relay allocates nothing, so the
  garbage stayed. Reclaimable: :class:`Reclaimer` collects once the crowd has gone.
* free glibc heap (about 13 MB): ``malloc_trim(0)`` returns it; done in the same step.
* pymalloc arenas (the rest): e.g. 111 one-MiB arenas held alive by 12 MB of live objects
  scattered through them. CPython frees an arena only when it is entirely empty, so this
  cannot be returned without a restart. It is not a leak: the next crowd reuses it (a second
  round of 5,000 peaked at the same 205 MB), so RSS tracks the peak concurrency, not the
  number of clients ever served. That is fine for a relay sized for its peak; smaller
  per-connection state (relay/connection.py, relay/frames.py) lowers the peak itself.

With the :class:`Reclaimer` running (two rounds): 209 -> 115 MB and 221 -> 173 MB (156 MB
15 s later) at the reclaim, logged as ``memory reclaimed, RSS a -> b MB``. How much comes
back varies with how the survivors are spread over the arenas. With the smaller connections of
commit 85d85c5 as well: 145 MB held, 153 MB just after they left, 116 and 122 MB after the
reclaim in two rounds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
from collections.abc import Callable

import trio

log = logging.getLogger(__name__)

#: How often the connection count is sampled. A reclaim waits for two samples in a row that
#: show the crowd gone, so a connection's teardown (a few seconds for the closing handshake)
#: has finished and its objects are garbage by then.
CHECK_INTERVAL = 10.0
#: Departures below this are not worth a full collection (a pause of tens of ms per million
#: live objects).
MIN_DEPARTED = 1000


def _malloc_trim() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)``, or None elsewhere (musl, macOS)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    return lambda: trim(0)


def rss_mb() -> float:
    """This process's resident set in MiB (Linux ``/proc``; 0 where there is none)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def reclaim() -> None:
    """Collect garbage cycles, then hand glibc's free heap back to the kernel."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim()


class Reclaimer:
    """Watches the connection count; after at least ``min_departed`` connections have left and
    the count has fallen to half its peak or less (two samples in a row), reclaims once."""

    def __init__(self, count: Callable[[], int], *, on_reclaim: Callable[[], None] = reclaim,
                 interval: float = CHECK_INTERVAL, min_departed: int = MIN_DEPARTED) -> None:
        self._count = count
        self._on_reclaim = on_reclaim
        self._interval = interval
        self._min_departed = min_departed
        self.peak = 0
        self.reclaims = 0

    def _gone(self, now: int) -> bool:
        return self.peak - now >= self._min_departed and now <= self.peak // 2

    def check(self, seen_gone: bool) -> bool:
        """One sample; returns whether the crowd looked gone (for the next sample)."""
        now = self._count()
        if now > self.peak:
            self.peak = now
            return False
        if not self._gone(now):
            return False
        if seen_gone:
            before = rss_mb()
            self._on_reclaim()
            self.reclaims += 1
            log.info("%d connection(s) left since the peak of %d: memory reclaimed, RSS %.0f -> "
                     "%.0f MB", self.peak - now, self.peak, before, rss_mb())
            self.peak = now
            return False
        return True

    async def run(self) -> None:
        seen_gone = False
        while True:
            await trio.sleep(self._interval)
            seen_gone = self.check(seen_gone)
