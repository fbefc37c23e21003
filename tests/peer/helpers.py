"""Shared pieces of the call tests: a real relay process, event logs one can await, ring taps."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from call import Call, CallConfig, CallEvent, ChildProcess, as_record, module_argv
from protocol.frame import ParamFrame
from protocol.ring import ShmRing
from tests import session_relay

Event = dict[str, Any]
class EventLog:
    """Collects events and lets a test await a condition on them (re-checked on every event)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Condition()

    def __call__(self, source: str, event: CallEvent) -> None:
        self.events.append(as_record(source, event))
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def of(self, kind: str, child: str | None = "peer") -> list[Event]:
        return [
            e
            for e in self.events
            if e.get("event") == kind and (child is None or e.get("child") == child)
        ]

    def last_stats(self) -> Event | None:
        stats = self.of("stats")
        return stats[-1] if stats else None

    async def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        """Wait until ``predicate()`` is truthy (checked after each event); return its value."""

        async def waiter() -> Any:
            async with self._changed:
                while not (value := predicate()):
                    await self._changed.wait()
                return value

        try:
            return await asyncio.wait_for(waiter(), timeout)
        except TimeoutError:
            tail = [
                {k: e.get(k) for k in ("child", "event", "state", "message", "recv_hz")}
                for e in self.events[-8:]
            ]
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what}; {tail}"
            ) from None

    def mark(self) -> int:
        return len(self.events)

    def since(self, mark: int, kind: str, child: str | None = "peer") -> list[Event]:
        return [
            e
            for e in self.events[mark:]
            if e.get("event") == kind and (child is None or e.get("child") == child)
        ]


@dataclass
class Relay:
    child: ChildProcess
    port: int
    log: EventLog

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


async def start_relay(port: int = 0, *extra: str) -> Relay:
    log = EventLog()
    child = ChildProcess(
        "relay", module_argv("relay", "--host", "127.0.0.1", "--port", str(port), *extra), log
    )
    await child.start()
    await child.wait_ready(20)
    ready = log.of("ready", "relay")[-1]
    return Relay(child, int(ready["port"]), log)


@dataclass(frozen=True)
class SharedRelay:
    """The session's shared relay (tests/session_relay.py): an address only, not to be stopped."""

    port: int

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def relay_running(*extra: str) -> AsyncIterator[Relay | SharedRelay]:
    """A relay to call through: with no flags the session's shared one (each test's room code
    is its own, so calls never meet); with flags a fresh process, stopped afterwards."""
    if not extra:
        yield SharedRelay(session_relay.port())
        return
    relay = await start_relay(0, *extra)
    try:
        yield relay
    finally:
        await relay.child.stop()


@dataclass
class Side:
    name: str
    session: Call
    log: EventLog = field(default_factory=EventLog)

    def stats(self) -> Event:
        return self.log.last_stats() or {}

    def state(self) -> str:
        return self.session.state


@contextlib.asynccontextmanager
async def call_pair(
    relay_url: str,
    room: str,
    sources: tuple[str, str] = ("synthetic", "synthetic"),
    env: dict[str, str] | None = None,
    per_side: tuple[dict[str, Any], dict[str, Any]] = ({}, {}),
    **config: Any,
) -> AsyncIterator[tuple[Side, Side]]:
    """Two calls (the machinery of ``avatarchat call``) in one room; always closed."""
    sides: list[Side] = []
    try:
        for name, source, own in zip(("alice", "bob"), sources, per_side, strict=True):
            log = EventLog()
            cfg = CallConfig(
                relay=relay_url,
                room=room,
                source=source,
                name=name,
                env={**os.environ, **(env or {})},
                **{**config, **own},
            )
            session = Call(cfg, log)
            sides.append(Side(name, session, log))
            await session.start()
        yield sides[0], sides[1]
    finally:
        for side in sides:
            await side.session.close(hangup=False)


async def connected(*sides: Side, timeout: float = 30) -> None:
    for side in sides:
        await side.log.wait_for(
            lambda s=side: s.session.state == "connected" and (s.stats().get("recv_hz") or 0) > 0,
            timeout,
            f"{side.name} connected and receiving",
        )


class RingTap:
    """Records every frame it sees in a ring, keyed by seq (wake-up reader on the loop)."""

    def __init__(self, ring_name: str) -> None:
        self.ring = ShmRing.attach(ring_name)
        self.reader = self.ring.reader(wake=True)
        self.frames: dict[int, bytes] = {}
        asyncio.get_running_loop().add_reader(self.reader.fileno(), self._wake)

    def _wake(self) -> None:
        self.reader.drain()
        while (record := self.reader.read_latest()) is not None:
            self.frames[ParamFrame.decode(record.payload).seq] = record.payload

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.reader.fileno())
        self.reader.close()
        self.ring.close()
