"""A peer flooding ``AvatarRequest`` for our own pack (issue 15, defect 1).

Inside the ctl rate limit (a burst of 550, then more) each request used to zip the pack again and
start one more transfer holding its own copy of the bytes: CPU pegged, RSS grew by hundreds of
MB, the params stream starved and nothing was counted. Now the zip is built once per avatar, one
transfer runs at a time, duplicates and requests over the cap are refused and counted, and the
bytes sent stay about one pack's worth per allowed transfer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from peer.clock import ClockSync
from peer.stats import CallStats
from protocol import ctl

PACK_SIZE = 5 * ctl.AVATAR_CHUNK_BYTES + 123


def _victim(
    digest: str, stats: CallStats, tasks: list[asyncio.Task[None]], cache_dir: Path
) -> Any:
    """A real CtlHandler announcing pack ``digest``; its background work runs as real tasks
    collected in ``tasks`` (the test awaits them)."""
    from peer.ctl_handler import CtlHandler, LocalAvatar

    def start(coro: Coroutine[Any, Any, None]) -> None:
        tasks.append(asyncio.get_running_loop().create_task(coro))

    return CtlHandler(
        name="victim",
        avatar=LocalAvatar(ref="custom", id="custom", hash=digest, pack=object()),
        emit=lambda _e: None,
        stats=stats,
        clock=ClockSync(),
        start=start,
        cache_dir=cache_dir,
    )


def test_avatar_request_flood_zips_once_and_sends_one_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import avatars.pack
    from peer import ctl_handler

    zips = 0
    lock = threading.Lock()
    pack = bytes(range(256)) * (PACK_SIZE // 256) + b"z" * (PACK_SIZE % 256)

    def fake_pack_bytes(_pack: object) -> bytes:
        nonlocal zips
        with lock:
            zips += 1
        return bytes(pack)  # a fresh copy each time, like zipping does

    monkeypatch.setattr(avatars.pack, "pack_bytes", fake_pack_bytes)
    digest = "cd" * 32
    sent: list[bytes] = []
    stats = CallStats()

    async def scenario() -> tuple[int, int]:
        tasks: list[asyncio.Task[None]] = []

        handler = _victim(digest, stats, tasks, tmp_path)
        handler.attach(lambda d: sent.append(d) or True, lambda: 0)
        request = ctl.AvatarRequest(hash=digest).encode()
        # The burst: all of it arrives while the first transfer is being prepared.
        for _ in range(550):
            handler.handle(request)
        burst_tasks = len(tasks)
        await asyncio.gather(*tasks)
        # Then the sustained part: more requests, each after the previous transfer finished.
        for _ in range(90):
            handler.handle(request)
            await asyncio.gather(*tasks)
        return burst_tasks, len(tasks)

    burst_tasks, all_tasks = asyncio.run(scenario())

    chunks = [m for m in map(ctl.parse_ctl, sent) if isinstance(m, ctl.AvatarChunk)]
    # Transfers never interleave: chunks come as whole runs 0..total-1, one after another.
    runs: list[bytes] = []
    current: list[bytes] = []
    for chunk in chunks:
        assert chunk.index == len(current), "two transfers interleaved"
        current.append(chunk.data)
        if len(current) == chunk.total:
            runs.append(b"".join(current))
            current = []
    assert not current
    assert zips == 1, f"the pack was zipped {zips} times"
    assert burst_tasks == 1, f"{burst_tasks} transfers started for one burst"
    allowed = ctl_handler.MAX_PACK_TRANSFERS_PER_MINUTE
    assert all_tasks <= allowed
    # The legitimate first request got the whole pack.
    assert runs and runs[0] == pack
    assert all(run == pack for run in runs)
    assert 1 <= len(runs) <= allowed
    assert sum(len(c.data) for c in chunks) <= allowed * PACK_SIZE
    # Every request that did not start a transfer is counted and reported (the few over the
    # ctl rate limit as bad_ctl, the rest as refused avatar requests).
    assert stats.avatar_requests_refused + stats.bad_ctl == 550 + 90 - len(runs)
    assert stats.avatar_requests_refused >= 500
    assert stats.snapshot(1.0)["avatar_requests_refused"] == stats.avatar_requests_refused


def test_a_request_on_a_new_link_waits_for_the_stale_transfer_then_gets_the_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import avatars.pack

    zips: list[int] = []
    pack = b"p" * PACK_SIZE

    def fake_pack_bytes(_pack: object) -> bytes:
        zips.append(1)
        return pack

    monkeypatch.setattr(avatars.pack, "pack_bytes", fake_pack_bytes)
    digest = "ef" * 32
    stats = CallStats()

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        tasks: list[asyncio.Task[None]] = []
        old: list[bytes] = []
        new: list[bytes] = []
        backed_up = [True]

        handler = _victim(digest, stats, tasks, tmp_path)
        handler.attach(lambda d: old.append(d) or True, lambda: 10**9 if backed_up[0] else 0)
        request = ctl.AvatarRequest(hash=digest).encode()
        handler.handle(request)
        handler.handle(request)  # duplicate while the first is stuck behind a full channel
        await asyncio.sleep(0.05)
        # The link is rebuilt; the peer asks again on the new one.
        handler.attach(lambda d: new.append(d) or True, lambda: 0)
        handler.handle(request)
        handler.handle(request)  # duplicate of the waiting one
        backed_up[0] = False
        while any(not t.done() for t in tasks):
            await asyncio.gather(*tasks)
        return old, new

    old, new = asyncio.run(scenario())
    old_chunks = [m for m in map(ctl.parse_ctl, old) if isinstance(m, ctl.AvatarChunk)]
    new_chunks = [m for m in map(ctl.parse_ctl, new) if isinstance(m, ctl.AvatarChunk)]
    assert old_chunks == []  # the stale transfer stopped before sending anything
    assert b"".join(c.data for c in new_chunks) == pack
    assert [c.index for c in new_chunks] == list(range(new_chunks[0].total))
    assert len(zips) == 1
    assert stats.avatar_requests_refused == 2
