"""The targets attacks run against: a real relay process, and a bystander call through it.

The bystander is two well-behaved clients in a room of their own, bouncing ICE-sized messages
off each other through the relay while an attack runs: the attack held only if they never
noticed (no error, no disconnect, round trips still fast).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from call.child import ChildProcess, module_argv
from protocol.events import Ready
from protocol.signaling import new_room_code
from protocol.stats import percentile, rounded

#: Round trips per second the bystander makes (well inside the relay's per-connection rate).
BYSTANDER_HZ = 5.0
ICE: dict[str, Any] = {
    "v": 1,
    "type": "ice",
    "candidate": "candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host",
    "sdp_mid": "0",
    "sdp_mline_index": 0,
}


@dataclass(slots=True)
class RelayProcess:
    child: ChildProcess
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def ws_url(self, room: str) -> str:
        return f"{self.url}/ws?room={room}"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""


@contextlib.asynccontextmanager
async def relay_process(*extra: str) -> AsyncIterator[RelayProcess]:
    """``python -m relay`` on a free loopback port, its log (stderr) in a temp file."""
    ports: list[int] = []

    def on_event(_source: str, event: object) -> None:
        if isinstance(event, Ready) and isinstance(event.info.get("port"), int):
            ports.append(int(event.info["port"]))

    with tempfile.TemporaryDirectory(prefix="avatarchat-attack-") as tmp:
        log_path = Path(tmp) / "relay.log"
        child = ChildProcess(
            "relay",
            module_argv("relay", "--host", "127.0.0.1", "--port", "0", *extra),
            on_event,
            log_path=log_path,
        )
        await child.start()
        try:
            await child.wait_ready(20)
            yield RelayProcess(child, ports[-1], log_path)
        finally:
            await child.stop()


async def open_client(relay: RelayProcess, room: str) -> ClientConnection:
    ws = await connect(relay.ws_url(room), compression=None, open_timeout=10)
    await ws.send(json.dumps({"v": 1, "type": "join", "room": room, "client": "attack/0"}))
    reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
    if reply.get("type") != "joined":
        raise RuntimeError(f"join refused: {reply}")
    return ws


async def recv_type(ws: ClientConnection, wanted: str, timeout: float = 5) -> dict[str, Any]:
    """The next message of type ``wanted`` (others, e.g. peer_joined, are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message.get("type") in (wanted, "error"):
                return message


@dataclass(slots=True)
class Bystander:
    """Two clients in their own room; ``round_trips_ms`` while it runs, ``failures`` if any."""

    round_trips_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        rt = self.round_trips_ms
        return {
            "bystander_rt": len(rt),
            "bystander_rt_p50_ms": rounded(percentile(rt, 50)),
            "bystander_rt_p99_ms": rounded(percentile(rt, 99)),
        }

    def ok(self, max_p50_ms: float = 50.0) -> bool:
        """No failure, and round trips as fast as a quiet relay's (generously)."""
        p50 = percentile(self.round_trips_ms, 50)
        return not self.failures and p50 is not None and p50 <= max_p50_ms


@contextlib.asynccontextmanager
async def bystander(relay: RelayProcess) -> AsyncIterator[Bystander]:
    state = Bystander()
    room = new_room_code()
    a = await open_client(relay, room)
    b = await open_client(relay, room)

    async def bounce() -> None:
        try:
            while True:
                start = time.perf_counter()
                await a.send(json.dumps(ICE))
                got = await recv_type(b, "ice")
                await b.send(json.dumps(ICE))
                back = await recv_type(a, "ice")
                if got.get("type") != "ice" or back.get("type") != "ice":
                    state.failures.append(f"bystander got {got.get('type')}/{back.get('type')}")
                    return
                state.round_trips_ms.append((time.perf_counter() - start) * 1000)
                await asyncio.sleep(1 / BYSTANDER_HZ)
        except Exception as e:  # the bystander noticed the attack: that is the finding
            state.failures.append(f"bystander: {type(e).__name__}: {e}")

    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(bounce())
        try:
            yield state
        finally:
            task.cancel()
    await a.close()
    await b.close()


def relay_alive(relay: RelayProcess) -> bool:
    """The relay process is still the one we started (it is never restarted)."""
    return relay.child.running
