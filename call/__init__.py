"""One running call: the single owner of its child processes, rings, routing and local relay.

``tui/`` and ``cli/`` are front-ends over this package; they never import the process packages
(``tracking``, ``peer``, ``render_window``, ``relay``) themselves. The API:

- :class:`CallConfig`: what the call is (room, relay or "" for an embedded one, source, ...).
- :class:`Call`: ``start``/``wait_ready``/``close``, commands (``chat``, ``pause``, ...), and
  ``on_event(source, event)`` for every child event (:mod:`protocol.events`) and the call's own
  (:mod:`call.events`).
- :class:`LocalRelay`: the embedded relay on its own (``avatarchat demo`` shares one between
  two calls); :class:`SharedRelay`: one for a front-end's whole life (the TUI's).
- :class:`CallError` and its subclasses.
- :func:`list_audio_devices`, :func:`check_mic`, :func:`check_speaker`: sound devices by name
  and the microphone/speaker specs (:mod:`call.audio`).
"""

from .audio import AudioDevices, check_mic, check_speaker, list_audio_devices
from .child import ChildProcess, module_argv
from .config import CallConfig
from .errors import CallConfigError, CallError, RelayStartError, SupervisorError
from .events import (
    CALL,
    CallClosed,
    CallEvent,
    ChildExited,
    ChildFailed,
    ChildStarted,
    EventCallback,
    RelayStarted,
    as_record,
)
from .local_relay import LocalRelay, SharedRelay
from .session import Call

__all__ = [
    "CALL",
    "AudioDevices",
    "Call",
    "CallClosed",
    "CallConfig",
    "CallConfigError",
    "CallError",
    "CallEvent",
    "ChildExited",
    "ChildFailed",
    "ChildProcess",
    "ChildStarted",
    "EventCallback",
    "LocalRelay",
    "RelayStartError",
    "RelayStarted",
    "SharedRelay",
    "SupervisorError",
    "as_record",
    "check_mic",
    "check_speaker",
    "list_audio_devices",
    "module_argv",
]
