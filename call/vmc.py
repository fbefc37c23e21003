"""Our tracking to a VMC receiver without a call: the tracker and the VMC sender, nothing else.

``avatarchat vmc send`` drives VSeeFace, Warudo, VNyan & co. with avatarchat's tracking. It is
the call's machinery cut down: one ring (created and unlinked here), the tracking process
writing it, and ``peer.vmc_send`` reading it and sending one OSC bundle per frame to the one
address given. Both children are supervised (restarted after a crash) like a call's. In a call
the same sender runs as :class:`call.Call`'s fourth child when ``CallConfig.vmc_to`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from protocol.events import Stats
from protocol.ring import ShmRing, sweep_stale_segments

from .child import ChildProcess, module_argv
from .config import check_vmc_source, check_vmc_target
from .events import CallEvent, EventCallback

log = logging.getLogger(__name__)


class VmcBridge:
    """Tracking -> local ring -> VMC sender. ``start``/``wait_ready``/``close``; every child
    event goes to ``on_event(name, event)`` ("tracking" or "vmc")."""

    def __init__(
        self,
        to: str,
        *,
        source: str = "sample",
        on_event: EventCallback | None = None,
        tracking_args: list[str] | None = None,
        env: dict[str, str] | None = None,
        log_dir: str | None = None,
    ) -> None:
        self.to = to
        self.source = source
        self._on_event = on_event or (lambda _name, _event: None)
        self.tracking_args = list(tracking_args or [])
        self.env = env
        self.log_dir = Path(log_dir) if log_dir else None
        self.ring: ShmRing | None = None
        self.children: dict[str, ChildProcess] = {}
        #: Each child's last ``stats`` event.
        self.stats: dict[str, Stats] = {}

    async def start(self) -> None:
        """Check the address (CallConfigError), create the ring, start both children."""
        check_vmc_target(self.to)
        check_vmc_source(self.source)
        sweep_stale_segments()
        self.ring = ShmRing.create("local")
        name = self.ring.name
        argvs = {
            "tracking": module_argv(
                "tracking", "--source", self.source, "--ring", name, *self.tracking_args
            ),
            "vmc": module_argv("peer.vmc_send", "--ring", name, "--to", self.to),
        }
        try:
            for child, argv in argvs.items():
                log_path = self.log_dir / f"{child}.log" if self.log_dir else None
                self.children[child] = ChildProcess(
                    child, argv, self._route, restart=True, env=self.env, log_path=log_path
                )
                await self.children[child].start()
        except BaseException:
            await self.close()
            raise

    async def wait_ready(self, timeout: float = 60.0) -> None:
        await asyncio.gather(*(c.wait_ready(timeout) for c in self.children.values()))

    @property
    def ended(self) -> bool:
        """A child is gone for good (a bad address, a source that ended)."""
        return any(c.finished for c in self.children.values())

    def _route(self, source: str, event: CallEvent) -> None:
        if isinstance(event, Stats):
            self.stats[source] = event
        try:
            self._on_event(source, event)
        except Exception:
            log.exception("VMC event callback failed")

    async def close(self) -> None:
        """Stop the children (tracker first, so the sender sends its last frame) and unlink
        the ring. Safe to call twice."""
        for name in ("tracking", "vmc"):
            child = self.children.pop(name, None)
            if child is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(child.stop())
        if self.ring is not None:
            self.ring.close()
            self.ring = None
