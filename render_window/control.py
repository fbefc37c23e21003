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

from protocol.control import drain, event_line, read_commands
from protocol.errors import DecodeError

log = logging.getLogger(__name__)


class Events:
    """Writes protocol.control events to a stream (stdout) from a writer thread.

    The render loop must never block on a full pipe (a parent that reads slowly would freeze
    the avatar), so lines go through a bounded queue; when it is full, high-rate events
    (``present``, ``stats``) are dropped and counted, the rest wait. A broken pipe silences it.
    """

    #: Events that may be dropped under back-pressure (the next one supersedes them).
    DROPPABLE = frozenset({"present", "stats"})
    #: ~10 s of present events at 30 Hz: plenty for a parent that is merely busy.
    MAX_QUEUED = 512

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._queue: queue.Queue[str | None] = queue.Queue(self.MAX_QUEUED)
        self.broken = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)
        self._thread.start()

    def emit(self, event: str, **fields: Any) -> None:
        if self.broken:
            return
        line = event_line(event, **fields)
        if event in self.DROPPABLE:
            try:
                self._queue.put_nowait(line)
            except queue.Full:
                self.dropped += 1
        else:
            self._queue.put(line)

    def _run(self) -> None:
        while True:
            line = self._queue.get()
            if line is None:
                return
            try:
                self._stream.write(line)
                if self._queue.empty():
                    self._stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                self.broken = True  # parent went away; stdin EOF will end us shortly

    def close(self, timeout: float = 2.0) -> None:
        """Flush what is queued (e.g. ``bye``) and stop the writer thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
        try:
            self._stream.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass


class Commands:
    """Parsed commands from stdin, collected by a reader thread."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdin
        self.queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="stdin", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        read_commands(self._stream, self.queue.put, self._invalid, "stdin closed")

    @staticmethod
    def _invalid(error: DecodeError) -> None:
        log.warning("ignoring bad command line: %s", error)

    def pending(self) -> list[dict[str, Any]]:
        return drain(self.queue)
