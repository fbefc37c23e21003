"""The child's end of the control channel, used by every child process (tracking, peer,
render): typed commands in from stdin, typed events out to stdout.

Both directions run on daemon threads, so the child's own loop (a render loop at 60 Hz, a
tracking loop, an asyncio loop) never blocks on a pipe:

- The reader thread parses each stdin line (:func:`protocol.commands.parse_command`) and hands
  the command to ``on_command`` (default: an internal queue drained by :meth:`pending`; the
  asyncio child passes ``loop.call_soon_threadsafe``). A malformed line is counted and logged
  (escaped), never raised; an unknown kind is logged and ignored. EOF on stdin (the parent
  went away) becomes ``Quit("stdin closed")``, as the child contract says.
- The writer thread takes events from a bounded queue. When the parent reads slowly and the
  queue is full, ``stats`` events are dropped and counted (the next one supersedes them); the
  rest wait. A broken pipe marks the channel ``broken``: the parent is gone.

This is pipe I/O, the one kind of I/O :mod:`protocol` does besides the shared-memory ring: it
lives here because the three child packages may not import each other.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import IO, TextIO

from .commands import Command, Quit, parse_command
from .control import MAX_TEXT, UnknownMessage
from .errors import DecodeError, EncodeError
from .events import Error, Event, Stats, Status, parse_event
from .text import log_text, printable

log = logging.getLogger(__name__)

#: Events that may be dropped under back-pressure (the next one supersedes them).
DROPPABLE: tuple[type[Event], ...] = (Stats,)
#: ~8 minutes of 1 Hz stats per child, far more than a merely busy parent lags.
MAX_QUEUED = 512


def private_stdout() -> TextIO:
    """Our own handle on stdout for the control channel, with fd 1 itself pointed at stderr:
    a stray print from a native library (MediaPipe, Mesa, pyglet) then lands in the log
    instead of corrupting the lines the parent parses."""
    sys.stdout.flush()
    try:
        fd = os.dup(1)
        os.dup2(2, 1)
    except OSError:
        return sys.stdout
    sys.stdout = sys.stderr
    return os.fdopen(fd, "w", encoding="utf-8", buffering=1)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: a thread-based child's loops poll it and wind down
    through their ``finally`` blocks (rings detached, ``bye`` said) instead of dying mid-write."""
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


class ChildChannel:
    """A child process's control channel. ``start()`` begins reading stdin; ``emit`` sends an
    event; ``pending()`` returns the commands received since the last call.

    ``output=None`` makes a quiet channel for a process run on its own (``python -m tracking``
    without a parent): events are logged instead of written.
    """

    def __init__(
        self,
        commands_in: Iterable[str] | None = None,
        output: TextIO | None = None,
        *,
        on_command: Callable[[Command], None] | None = None,
        quiet: bool = False,
    ) -> None:
        self._input = commands_in if commands_in is not None else sys.stdin
        self._output = None if quiet else (output if output is not None else sys.stdout)
        self._queue: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._on_command = on_command or self._queue.put
        self._events: queue.Queue[str | None] = queue.Queue(MAX_QUEUED)
        self.broken = False
        #: Malformed command lines seen (counted, never fatal).
        self.bad_lines = 0
        #: Well-formed commands of a kind this child does not know.
        self.unknown = 0
        #: Droppable events dropped because the parent read too slowly.
        self.dropped = 0
        self._reader = threading.Thread(target=self._read, name="control-in", daemon=True)
        self._writer: threading.Thread | None = None
        if self._output is not None:
            self._writer = threading.Thread(target=self._write, name="control-out", daemon=True)
            self._writer.start()

    # -- commands ----------------------------------------------------------------------------
    def start(self) -> None:
        """Begin reading commands (separately from construction, so a child can announce
        ``ready`` before it acts on anything)."""
        if not self._reader.is_alive():
            self._reader.start()

    def _read(self) -> None:
        reason = "stdin closed"
        try:
            for line in self._input:
                if line.strip():
                    self.feed(line)
        except (OSError, ValueError) as e:  # stdin closed under us: same as EOF
            reason = f"stdin failed: {e}"
        self._on_command(Quit(reason=reason))

    def feed(self, line: str | bytes) -> None:
        """Parse one command line and deliver it (bad lines are counted, never raised)."""
        try:
            command = parse_command(line)
        except UnknownMessage as e:
            self.unknown += 1
            log.warning("ignoring %s", log_text(str(e)))
            return
        except DecodeError as e:
            self.bad_lines += 1
            log.warning("ignoring a bad command line (%s): %s", e, log_text(line))
            if self.bad_lines == 1:
                self.emit(Error(message=f"ignored a bad command line: {e}"))
            return
        self._on_command(command)

    def pending(self) -> list[Command]:
        """Every command queued right now, without blocking (a loop's once-per-tick pickup)."""
        out: list[Command] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    @property
    def quiet(self) -> bool:
        """No parent reads our events (``quiet=True``: a person ran the process): they are
        logged instead."""
        return self._output is None

    # -- events ------------------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        """Queue one event for the parent; never blocks the caller on a droppable event."""
        if self._output is None:
            if isinstance(event, Error | Status):
                log.info("%s: %s", event.KIND, printable(event.message))  # may quote a peer
            return
        if self.broken:
            return
        try:
            line = event.encode()
        except EncodeError as e:  # a bug, or a value from outside that breaks a cap: say so
            log.error("event not sent: %s", e)
            line = Error(message=f"an event could not be sent: {e}"[:MAX_TEXT]).encode()
        if isinstance(event, DROPPABLE):
            try:
                self._events.put_nowait(line)
            except queue.Full:
                self.dropped += 1
        else:
            self._events.put(line)

    def _write(self) -> None:
        assert self._output is not None
        while True:
            line = self._events.get()
            if line is None:
                return
            try:
                self._output.write(line)
                if self._events.empty():
                    self._output.flush()
            except (BrokenPipeError, ValueError, OSError):
                self.broken = True  # the parent went away; stdin EOF will end us shortly

    def close(self, timeout: float = 2.0) -> None:
        """Flush what is queued (e.g. ``bye``) and stop the writer thread."""
        if self._writer is not None and self._writer.is_alive():
            self._events.put(None)
            self._writer.join(timeout)
        if self._output is not None:
            try:
                self._output.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass


def read_events(stream: IO[str]) -> queue.Queue[Event | None]:
    """A blocking parent's view of a child's stdout (scripts, test harnesses): a daemon thread
    parses event lines into the returned queue and puts ``None`` at EOF. Lines that are not
    events are skipped (logged at debug level)."""
    events: queue.Queue[Event | None] = queue.Queue()

    def run() -> None:
        try:
            for line in stream:
                if not line.strip():
                    continue
                try:
                    events.put(parse_event(line))
                except DecodeError as e:
                    log.debug("skipping a child's line (%s): %s", e, log_text(line))
        except (OSError, ValueError):
            pass
        events.put(None)

    threading.Thread(target=run, name="child-events", daemon=True).start()
    return events
