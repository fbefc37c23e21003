"""Parent <-> child control channel: one JSON object per line on the child's stdin/stdout.

The TUI (or a headless ``avatarchat call``) spawns the tracking, networking and render
processes and talks to each over its pipes. Children write *events* to stdout and read
*commands* from stdin; stderr is free-form logging. Lines are capped so a confused child cannot
make its parent buffer without bound.

Event:   ``{"event": "stats", "t": <monotonic s>, ...fields}``
Command: ``{"cmd": "recalibrate", ...fields}``

Common events: ``ready`` (the child is up; carries e.g. ring names), ``status`` (a human-readable
``message`` plus a machine-readable ``state``), ``stats`` (about once a second), ``error``
(``message``, ``fatal``), ``bye``. Common commands: ``quit``. Each package documents its own.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .errors import DecodeError

#: Generous for a stats line with a stage breakdown; bounds a misbehaving child.
MAX_CONTROL_LINE = 64 * 1024


def event_line(event: str, **fields: Any) -> str:
    """One event as a newline-terminated JSON line (``t`` = monotonic seconds, added here)."""
    payload: dict[str, Any] = {"event": event, "t": round(time.monotonic(), 6)}
    payload.update(fields)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str) + "\n"


def command_line(cmd: str, **fields: Any) -> str:
    payload: dict[str, Any] = {"cmd": cmd}
    payload.update(fields)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False) + "\n"


def parse_line(line: str | bytes, key: str) -> dict[str, Any]:
    """Parse one control line; ``key`` is ``"event"`` or ``"cmd"``. Raises DecodeError."""
    if len(line) > MAX_CONTROL_LINE:
        raise DecodeError(f"control line of {len(line)} bytes exceeds {MAX_CONTROL_LINE}")
    try:
        data = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DecodeError(f"control line is not JSON: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get(key), str):
        raise DecodeError(f"control line must be an object with a string {key!r}")
    return data
