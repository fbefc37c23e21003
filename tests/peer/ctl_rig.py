"""A real :class:`peer.ctl_handler.CtlHandler` on its own, with what it says collected: the
events it emits and the ctl bytes it sends. For the tests that drive the ctl protocol by hand
(gestures, refused transfers), without a call around it."""

from __future__ import annotations

from pathlib import Path

from peer.clock import ClockSync
from peer.ctl_handler import CtlHandler, LocalAvatar
from peer.stats import CallStats


def ctl_handler(cache_dir: Path) -> tuple[CtlHandler, list[object], list[bytes], CallStats]:
    """(handler, its events, the ctl bytes it sent, its stats), attached to a link that takes
    every send; the hello it sends on attaching is already cleared from the list. Background
    work is refused (closed unrun): nothing these tests drive needs it."""
    events: list[object] = []
    sent: list[bytes] = []
    stats = CallStats()
    handler = CtlHandler(
        name="me",
        avatar=LocalAvatar(ref="aria", id="aria"),
        emit=events.append,
        stats=stats,
        clock=ClockSync(),
        start=lambda coro: coro.close(),
        cache_dir=cache_dir,
    )
    handler.attach(lambda d: sent.append(d) or True, lambda: 0)
    sent.clear()  # the hello
    return handler, events, sent, stats
