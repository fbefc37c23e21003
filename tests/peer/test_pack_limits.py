"""What a peer can make us download and keep (issue 15, defect 5), at the handler, real packs.

A peer switching to a new pack every few seconds used to put 47 MB in our cache in 50 s, kept
forever. Now: at most MAX_RECEIVED_PACKS_PER_CALL distinct packs and MAX_RECEIVED_BYTES_PER_CALL
bytes per call (refusals counted and said once, the call goes on), and the packs received live
in a per-call folder deleted at the end of the call -- or a dead process's folder at the next
start -- unless the user asked to keep them (then the bounded LRU cache).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from avatars import load_pack, pack_bytes
from avatars.received import CALLS_DIR, KEEP_ENV, CallPackDir, sweep_abandoned
from netlab.attacks.peer_attacks import pack_chunks
from peer import pack_inbox
from peer.clock import ClockSync
from peer.stats import CallStats
from protocol import ctl
from protocol.events import Error, PeerAvatar
from tests.avatars.packkit import write_valid_pack

Pack = tuple[str, bytes]  # (content hash, deterministic zip)


def distinct_packs(base: Path, n: int) -> list[Pack]:
    """``n`` valid packs differing in their display name (so in their content hash)."""
    out = []
    for i in range(n):
        root = write_valid_pack(base / f"pack{i}")
        manifest = root / "avatar.toml"
        manifest.write_text(manifest.read_text().replace('name = "Testy"', f'name = "P{i}"', 1))
        pack = load_pack(root)
        out.append((pack.content_hash, pack_bytes(pack)))
    assert len({digest for digest, _ in out}) == n
    return out


chunks = pack_chunks


class Victim:
    """A real CtlHandler receiving packs from a scripted peer; installs run as real tasks."""

    def __init__(self, cache: Path, keep: bool = False) -> None:
        from peer.ctl_handler import CtlHandler, LocalAvatar

        self.stats = CallStats()
        self.events: list[Any] = []
        self.sent: list[ctl.CtlMessage] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.handler = CtlHandler(
            name="victim",
            avatar=LocalAvatar(ref="aria", id="aria"),
            emit=self.events.append,
            stats=self.stats,
            clock=ClockSync(),
            start=self._start,
            cache_dir=cache,
        )
        self.handler.inbox.keep = keep
        self.handler.attach(lambda d: self.sent.append(ctl.parse_ctl(d)) or True, lambda: 0)

    def _start(self, coro: Coroutine[Any, Any, None]) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(coro))

    def requests(self) -> list[str]:
        return [m.hash for m in self.sent if isinstance(m, ctl.AvatarRequest)]

    async def offer(self, i: int, digest: str, data: bytes) -> None:
        """The peer switches to pack ``i``; if we ask for it, it sends it; installs finish."""
        asked = len(self.requests())
        self.handler.handle(ctl.AvatarSwitch(avatar_id=f"custom{i}", avatar_hash=digest).encode())
        if len(self.requests()) > asked:
            for chunk in chunks(digest, data):
                self.handler.handle(chunk)
        await asyncio.gather(*self.tasks)

    def shown(self, i: int) -> list[str]:
        return [
            e.ref
            for e in self.events
            if isinstance(e, PeerAvatar) and e.avatar_id == f"custom{i}" and not e.pending
        ]


def _packs_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("avatar.toml")] if path.exists() else []


def test_the_seventh_distinct_pack_is_refused_counted_and_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cap = pack_inbox.MAX_RECEIVED_PACKS_PER_CALL
    packs = distinct_packs(tmp_path / "src", cap + 3)
    cache = tmp_path / "cache"

    async def scenario() -> Victim:
        victim = Victim(cache)
        for i, (digest, data) in enumerate(packs):
            await victim.offer(i, digest, data)
        # The peer switches back to one it sent: found in this call's folder, not fetched again.
        await victim.offer(0, *packs[0])
        return victim

    with caplog.at_level(logging.WARNING, logger="peer.pack_inbox"):
        victim = asyncio.run(scenario())
    assert victim.requests() == [d for d, _ in packs[:cap]]
    for i in range(cap):
        ref = Path(victim.shown(i)[-1])
        assert ref.parent.parent == cache / CALLS_DIR  # cache/calls/call-*/<hash>
        assert load_pack(ref).content_hash == packs[i][0]
    for i in range(cap, cap + 3):  # refused: drawn with the built-in, not pending forever
        assert victim.shown(i) == ["aria"]
    assert len(victim.shown(0)) == 2 and victim.shown(0)[0] == victim.shown(0)[1]
    assert victim.stats.avatar_transfers_refused == 3
    snap = victim.stats.snapshot(1.0)
    assert snap["avatar_transfers_refused"] == 3
    assert snap["avatar_bytes_received"] == sum(len(d) for _, d in packs[:cap])
    assert sum(isinstance(e, Error) for e in victim.events) == 1  # said once, counted after
    assert len([r for r in caplog.records if "not downloading" in r.getMessage()]) == 1
    assert len(_packs_under(cache)) == cap
    # The call ends: every pack it received is gone, nothing else was written.
    victim.handler.close()
    assert _packs_under(cache) == []
    assert list((cache / CALLS_DIR).iterdir()) == []


def test_the_byte_budget_refuses_a_pack_before_its_first_byte_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packs = distinct_packs(tmp_path / "src", 4)
    size = len(packs[0][1])
    monkeypatch.setattr(pack_inbox, "MAX_RECEIVED_BYTES_PER_CALL", int(size * 2.5))

    async def scenario() -> Victim:
        victim = Victim(tmp_path / "cache")
        for i, (digest, data) in enumerate(packs):
            await victim.offer(i, digest, data)
        return victim

    victim = asyncio.run(scenario())
    assert len(victim.requests()) == 3  # the third is asked for: 2 packs < 2.5 packs' budget
    assert victim.handler.inbox.bytes_received == len(packs[0][1]) + len(packs[1][1])
    assert victim.shown(2) == [] and victim.shown(3) == ["aria"]
    assert victim.stats.avatar_transfers_refused == 2
    assert len(_packs_under(tmp_path / "cache")) == 2
    victim.handler.close()


def test_kept_packs_go_to_the_bounded_cache_and_outlive_the_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import avatars.cache

    monkeypatch.setattr(avatars.cache, "MAX_CACHE_PACKS", 3)
    packs = distinct_packs(tmp_path / "src", 5)
    cache = tmp_path / "cache"

    async def scenario() -> Victim:
        victim = Victim(cache, keep=True)
        for i, (digest, data) in enumerate(packs):
            await victim.offer(i, digest, data)
        return victim

    victim = asyncio.run(scenario())
    victim.handler.close()
    kept = sorted(p.name for p in cache.iterdir() if p.name != CALLS_DIR)
    assert len(kept) == 3 and packs[4][0] in kept  # LRU-capped, the newest (drawn) one kept
    # The option is the user's: read from the environment by default.
    monkeypatch.setenv(KEEP_ENV, "1")
    assert pack_inbox.PackInbox(
        send=lambda _m: True, emit=lambda _e: None, stats=CallStats(),
        start=lambda c: c.close(), cache_dir=cache,
    ).keep  # fmt: skip


def test_a_killed_calls_folder_is_swept_at_the_next_start(tmp_path: Path) -> None:
    """SIGKILL leaves the folder; the next networking process removes it, not a live one's."""
    cache = tmp_path / "cache"
    code = (
        "import sys, time; from pathlib import Path; from avatars.received import CallPackDir; "
        "p = CallPackDir(Path(sys.argv[1])).ensure(); (p / ('ab' * 32)).mkdir(); "
        "print(p, flush=True); time.sleep(120)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(cache)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        folder = Path(child.stdout.readline().strip())
        assert folder.is_dir()
        mine = CallPackDir(cache)
        own = mine.ensure()
        assert sweep_abandoned(cache) == 0 and folder.is_dir()  # its owner is alive
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        assert sweep_abandoned(cache) == 1
        assert not folder.exists() and own.is_dir()  # ours (alive) is kept
        mine.close()
        assert list((cache / CALLS_DIR).iterdir()) == []
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
