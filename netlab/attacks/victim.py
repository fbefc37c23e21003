"""The victim of a peer attack: a real ``avatarchat call`` process, run as a user runs it.

Its stdout is what the user's terminal would show (checked for control characters), its
``--stats-json`` file is what it counted, and its pack cache is a temp folder (checked for what
outlives the call)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avatars.pack import CACHE_ENV
from protocol.signaling import ROOM_ENV


@dataclass(slots=True)
class Victim:
    output: bytearray = field(default_factory=bytearray)
    stats_path: Path = Path()
    cache: Path = Path()
    returncode: int | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace")

    def packs_on_disk(self) -> list[Path]:
        return list(self.cache.rglob("avatar.toml"))

    async def wait_in_room(self, timeout: float = 60) -> None:
        async with asyncio.timeout(timeout):
            while b"waiting" not in self.output and b"signaling" not in self.output:
                await asyncio.sleep(0.1)


@asynccontextmanager
async def victim_call(relay_url: str, room: str, seconds: float) -> AsyncIterator[Victim]:
    """Start the victim (a synthetic camera, ``seconds`` of call) and collect what it showed;
    on exit, wait for it to end and read its stats."""
    with tempfile.TemporaryDirectory(prefix="avatarchat-victim-") as tmp:
        victim = Victim(stats_path=Path(tmp) / "stats.json", cache=Path(tmp) / "cache")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli",
            "call",
            "--relay",
            relay_url,
            "--source",
            "synthetic",
            "--name",
            "victim",
            "--duration",
            str(seconds),
            "--stats-json",
            str(victim.stats_path),
            env={**os.environ, ROOM_ENV: room, CACHE_ENV: str(victim.cache)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        stdout = proc.stdout

        async def read() -> None:
            while chunk := await stdout.read(65536):
                victim.output.extend(chunk)

        async with asyncio.TaskGroup() as tg:
            tg.create_task(read())
            try:
                yield victim
            finally:
                # Hang up the way a user does (Ctrl-C / SIGTERM): the call ends cleanly and the
                # networking process writes its final stats.
                if proc.returncode is None:
                    proc.terminate()
                async with asyncio.timeout(30):
                    victim.returncode = await proc.wait()
        if victim.stats_path.exists():
            victim.stats = json.loads(victim.stats_path.read_text()).get("latest", {})
