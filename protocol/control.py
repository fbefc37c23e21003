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
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import IO, Any

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


def read_commands(
    lines: Iterable[str],
    put: Callable[[dict[str, Any]], None],
    on_invalid: Callable[[DecodeError], None],
    eof_reason: str,
) -> None:
    """A child's stdin loop: each non-blank line parsed as a command and passed to ``put``
    (a bad one to ``on_invalid``); at EOF or a read error, ``quit`` with ``eof_reason``."""
    try:
        for line in lines:
            if not line.strip():
                continue
            try:
                put(parse_line(line, "cmd"))
            except DecodeError as e:
                on_invalid(e)
    except (OSError, ValueError):
        pass  # stdin closed under us: same as EOF
    put({"cmd": "quit", "reason": eof_reason})


def drain(
    q: queue.Queue[dict[str, Any]] | queue.SimpleQueue[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Everything queued right now, without blocking (a loop's once-per-iteration pickup)."""
    out: list[dict[str, Any]] = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out


def read_events(stream: IO[str]) -> queue.Queue[dict[str, Any]]:
    """A parent's view of a child's stdout: a daemon thread parses event lines into the
    returned queue (lines that are not events are skipped) and puts ``{"event": "_eof"}`` last."""
    events: queue.Queue[dict[str, Any]] = queue.Queue()

    def run() -> None:
        try:
            for line in stream:
                try:
                    events.put(parse_line(line, "event"))
                except DecodeError:
                    pass
        except (OSError, ValueError):
            pass
        events.put({"event": "_eof"})

    threading.Thread(target=run, name="child-events", daemon=True).start()
    return events
