"""Events the call itself adds to its children's (:mod:`protocol.events`): a child started,
exited or failed, the local relay is up, the call is closed.

Front-ends receive ``on_event(source, event)``: ``source`` names who said it (``tracking``,
``peer``, ``render``, ``relay`` or ``call``) and ``event`` is one of :data:`CallEvent`. These
never cross a pipe, so they are plain dataclasses without a wire encoding.

Voice (issue 14) needs nothing of its own here: the networking process's ``voice_level``
(:class:`protocol.events.VoiceLevel`, about 10 Hz, for a level meter and the speaking
indicators) and the ``voice`` map in its ``stats`` reach the front-end like every child event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

from protocol.events import Event, flat

#: ``source`` of events the call itself emits.
CALL = "call"


@dataclass(frozen=True, slots=True)
class ChildStarted:
    """A child process was spawned (``restarts`` > 0 after a crash)."""

    pid: int
    restarts: int


@dataclass(frozen=True, slots=True)
class ChildExited:
    """A child process ended; ``restarting`` if the supervisor will start it again."""

    returncode: int
    restarting: bool


@dataclass(frozen=True, slots=True)
class ChildFailed:
    """A child died unexpectedly (or could not be restarted). ``fatal``: gone for good.
    ``message`` carries the last line the child wrote to stderr (often the exception)."""

    message: str
    fatal: bool


@dataclass(frozen=True, slots=True)
class RelayStarted:
    """The embedded relay listens: ``share_url`` is the address to give the other person.
    ``lan``: it listens on the LAN too; otherwise only people on this machine can join."""

    share_url: str
    port: int
    lan: bool = False


@dataclass(frozen=True, slots=True)
class CallClosed:
    """Every child is stopped and the rings are unlinked."""


LifecycleEvent: TypeAlias = ChildStarted | ChildExited | ChildFailed | RelayStarted | CallClosed
CallEvent: TypeAlias = Event | LifecycleEvent
EventCallback: TypeAlias = Callable[[str, CallEvent], None]


#: The call's own events under the names a flat record uses.
LIFECYCLE_NAMES: dict[type, str] = {
    ChildStarted: "started",
    ChildExited: "exited",
    ChildFailed: "error",
    RelayStarted: "relay_started",
    CallClosed: "closed",
}


def as_record(source: str, event: CallEvent) -> dict[str, Any]:
    """One event as a flat dict (``{"event": kind, "child": source, **fields}``) for scripts,
    soak reports and test assertions; :func:`protocol.events.flat` for child events. A failed
    child is an ``error`` with ``supervisor: true``."""
    if isinstance(event, ChildStarted | ChildExited | ChildFailed | RelayStarted | CallClosed):
        out = {"event": LIFECYCLE_NAMES[type(event)], **dataclasses.asdict(event)}
        if isinstance(event, ChildFailed):
            out["supervisor"] = True
    else:
        out = flat(event)
    out["child"] = source
    return out
