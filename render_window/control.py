"""The window's side of the control channel: JSON-line commands in, events out.

stdin is read on a daemon thread (a blocking read must never stall rendering) into a queue the
render loop drains once per frame; EOF becomes a ``quit`` command, as the child contract says.
Events go to stdout under a lock because the screenshot writer thread emits too.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from typing import Any, TextIO

from protocol.control import event_line, parse_line
from protocol.errors import DecodeError

log = logging.getLogger(__name__)


class Events:
    """Writes protocol.control events to a stream (stdout); a broken pipe silences it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()
        self.broken = False

    def emit(self, event: str, **fields: Any) -> None:
        line = event_line(event, **fields)
        with self._lock:
            if self.broken:
                return
            try:
                self._stream.write(line)
                self._stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                self.broken = True  # parent went away; stdin EOF will end us shortly


class Commands:
    """Parsed commands from stdin, collected by a reader thread."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdin
        self.queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="stdin", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            for line in self._stream:
                if not line.strip():
                    continue
                try:
                    self.queue.put(parse_line(line, "cmd"))
                except DecodeError as e:
                    log.warning("ignoring bad command line: %s", e)
        except (OSError, ValueError) as e:
            log.debug("stdin closed: %s", e)
        self.queue.put({"cmd": "quit", "reason": "stdin closed"})

    def pending(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            try:
                out.append(self.queue.get_nowait())
            except queue.Empty:
                return out
