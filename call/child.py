"""One supervised child process of a call, speaking :mod:`protocol.control` lines.

``ChildProcess(name, argv, on_event, *, restart=False, env=None, log_path=None)``: ``argv`` is
the full command line (:func:`module_argv` builds ``[sys.executable, "-m", module, *args]``).
Typed events from the child's stdout go to ``on_event(name, event)``; the supervisor adds its
own (:mod:`call.events`): ``ChildStarted``, ``ChildExited`` and ``ChildFailed`` when the child
dies unexpectedly (the message carries the last line the child wrote to stderr). stderr goes to
``log_path`` (appended) and a short in-memory tail (:attr:`stderr_tail`).

- ``await start()`` spawns it; ``await wait_ready(timeout)`` waits for its ``ready`` event
  (raises :class:`~call.errors.SupervisorError` if it exits or times out first).
- ``send(command)`` writes one typed command line to its stdin (dropped if not running).
- ``await stop(timeout)`` ends it for good: ``quit`` and stdin EOF, then SIGTERM, then SIGKILL,
  each after ``timeout`` seconds. Idempotent.
- With ``restart=True`` a child that dies (non-zero exit or a signal) is started again after a
  backoff (0.25 s doubling to 4 s; reset after 10 s of healthy running; at most
  ``max_restarts``), unless its exit code is in ``no_restart_codes`` (default 2 and 3: bad
  usage or configuration, a refused room: restarting cannot help). Exit code 0 is the child's
  own decision (hang-up, the clip ended) and is never restarted.

A line that is not a valid event is counted (:attr:`bad_lines`) and dropped; one of a kind this
version does not know is logged and ignored (a newer child may say more than we understand).
Children run in their own session (``start_new_session=True``): Ctrl+C in the terminal reaches
only the parent, which then shuts the children down in order. A child whose parent dies sees
EOF on stdin, which the child contract defines as ``quit``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import TextIO

from protocol.commands import Command, Quit
from protocol.control import MAX_CONTROL_LINE, UnknownMessage
from protocol.errors import DecodeError, EncodeError
from protocol.events import Event, Ready, Stats, Status, parse_event
from protocol.text import log_text

from .errors import SupervisorError
from .events import CallEvent, ChildExited, ChildFailed, ChildStarted, EventCallback

log = logging.getLogger(__name__)

#: Restart backoff: quick first retry (a crash is often a one-off), doubling so a child that
#: crashes at start does not spin the CPU.
RESTART_BACKOFF_FIRST_S = 0.25
RESTART_BACKOFF_MAX_S = 4.0
#: A child that ran this long is considered healthy again; the backoff starts over.
RESTART_HEALTHY_AFTER_S = 10.0
#: Default shutdown patience for each stage (quit -> SIGTERM -> SIGKILL).
STOP_TIMEOUT_S = 3.0
#: Exit codes that mean "restarting will not help" (usage/configuration errors, a refused
#: room): such a child is not restarted even with ``restart=True``.
NO_RESTART_EXIT_CODES = frozenset({2, 3})
#: A child that stopped reading stdin (hung) must not make us buffer without bound.
MAX_PENDING_COMMAND_BYTES = 1 << 20
#: Lines of stderr kept in memory for error messages.
STDERR_TAIL_LINES = 40


def module_argv(module: str, *args: str) -> list[str]:
    """``[sys.executable, "-m", module, *args]``: run a package with this interpreter."""
    return [sys.executable, "-m", module, *args]


class ChildProcess:
    """One supervised child process speaking the line protocol of :mod:`protocol.control`."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        on_event: EventCallback,
        *,
        restart: bool = False,
        max_restarts: int = 20,
        no_restart_codes: frozenset[int] = NO_RESTART_EXIT_CODES,
        env: dict[str, str] | None = None,
        log_path: str | Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self._on_event = on_event
        self.restart = restart
        self.max_restarts = max_restarts
        self.no_restart_codes = no_restart_codes
        self._env = env
        self._log_path = Path(log_path) if log_path else None
        self._log_file: TextIO | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._stopping = False
        self._ready = asyncio.Event()
        self._exited = asyncio.Event()
        self._started = asyncio.Event()
        self.restarts = 0
        self.returncode: int | None = None
        self.last_stats: Stats | None = None
        self.last_status: Status | None = None
        #: Lines on stdout that were not valid events (counted and dropped).
        self.bad_lines = 0
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)

    # -- properties ------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def finished(self) -> bool:
        """Exited and will not be restarted (stopped, clean exit, or gave up)."""
        return self._monitor is not None and self._monitor.done()

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Spawn the child (raises SupervisorError if it cannot be started at all)."""
        if self._monitor is not None:
            return
        if self._log_path:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self._log_path, "a", encoding="utf-8")  # noqa: SIM115
        await self._spawn()
        self._monitor = asyncio.create_task(self._supervise(), name=f"supervise-{self.name}")

    async def _spawn(self) -> None:
        self._ready.clear()
        self._exited.clear()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self._env,
                start_new_session=True,
                limit=MAX_CONTROL_LINE + 1024,
            )
        except OSError as e:
            raise SupervisorError(f"cannot start {self.name}: {e}") from e
        self.returncode = None
        self._started.set()
        self._emit(ChildStarted(pid=self._proc.pid, restarts=self.restarts))

    async def _supervise(self) -> None:
        backoff = RESTART_BACKOFF_FIRST_S
        loop = asyncio.get_running_loop()
        while True:
            proc = self._proc
            assert proc is not None
            started_at = loop.time()
            readers = [
                asyncio.create_task(self._read_stdout(proc)),
                asyncio.create_task(self._read_stderr(proc)),
            ]
            rc = await proc.wait()
            # Let the readers finish the pipes so the last events/stderr lines are not lost.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), 2.0)
            for task in readers:
                task.cancel()
            self.returncode = rc
            self._exited.set()
            if self._stopping:
                self._emit(ChildExited(returncode=rc, restarting=False))
                return
            if loop.time() - started_at > RESTART_HEALTHY_AFTER_S:
                backoff = RESTART_BACKOFF_FIRST_S
            restarting = (
                self.restart
                and rc != 0  # a clean exit is the child's decision (hang-up, clip ended)
                and self.restarts < self.max_restarts
                and rc not in self.no_restart_codes
            )
            self._emit(ChildExited(returncode=rc, restarting=restarting))
            if rc != 0 or restarting:
                message = self._exit_message(rc) + (" (restarting)" if restarting else "")
                self._emit(ChildFailed(message=message, fatal=not restarting))
            if not restarting:
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RESTART_BACKOFF_MAX_S)
            if self._stopping:
                return
            self.restarts += 1
            try:
                await self._spawn()
            except SupervisorError as e:
                self._emit(ChildFailed(message=str(e), fatal=True))
                return

    def _exit_message(self, rc: int) -> str:
        if rc < 0:
            try:
                how = f"was killed by {signal.Signals(-rc).name}"
            except ValueError:
                how = f"was killed by signal {-rc}"
        else:
            how = f"exited with code {rc}"
        last = next((line for line in reversed(self.stderr_tail) if line.strip()), "")
        return f"{self.name} {how}" + (f": {last.strip()[:300]}" if last else "")

    async def _read_stdout(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            try:
                line = await proc.stdout.readline()
            except (ValueError, asyncio.LimitOverrunError):
                self.bad_lines += 1
                log.warning("%s wrote an over-long control line; skipped", self.name)
                continue
            if not line:
                return
            if not line.strip():
                continue
            try:
                event = parse_event(line)
            except UnknownMessage as e:
                log.info("%s: ignoring %s", self.name, log_text(str(e)))
                continue
            except DecodeError as e:
                self.bad_lines += 1
                log.warning("%s: bad event line (%s): %s", self.name, e, log_text(line))
                continue
            if isinstance(event, Ready):
                self._ready.set()
            elif isinstance(event, Stats):
                self.last_stats = event
            elif isinstance(event, Status):
                self.last_status = event
            self._emit(event)

    async def _read_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while True:
            try:
                raw = await proc.stderr.readline()
            except (ValueError, asyncio.LimitOverrunError):
                continue
            if not raw:
                return
            text = raw.decode("utf-8", "replace").rstrip("\n")
            self.stderr_tail.append(text)
            if self._log_file is not None:
                self._log_file.write(f"[{self.name}] {text}\n")
                self._log_file.flush()

    def _emit(self, event: CallEvent | Event) -> None:
        try:
            self._on_event(self.name, event)
        except Exception:  # a buggy callback must not kill supervision
            log.exception("event callback failed for %s %s", self.name, type(event).__name__)

    async def wait_ready(self, timeout: float) -> None:
        """Wait for the child's ``ready`` event; SupervisorError if it exits or times out."""
        ready = asyncio.create_task(self._ready.wait())
        exited = asyncio.create_task(self._exited.wait())
        try:
            await asyncio.wait(
                {ready, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
            exited.cancel()
        if self._ready.is_set():
            return
        if self._exited.is_set():
            raise SupervisorError(self._exit_message(self.returncode or 0))
        raise SupervisorError(f"{self.name} did not become ready within {timeout:.0f} s")

    def send(self, command: Command) -> bool:
        """Send one command line; False if the child is not running (the command is dropped)."""
        proc = self._proc
        if proc is None or proc.returncode is not None or proc.stdin is None:
            return False
        if proc.stdin.is_closing():
            return False
        if proc.stdin.transport.get_write_buffer_size() > MAX_PENDING_COMMAND_BYTES:
            log.warning("%s is not reading its commands; dropping %s", self.name, command.KIND)
            return False
        try:
            line = command.encode()
        except EncodeError as e:
            log.error("%s: not sent: %s", self.name, e)
            return False
        try:
            proc.stdin.write(line.encode())
        except (BrokenPipeError, ConnectionResetError, RuntimeError):
            return False
        return True

    async def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """Stop for good (quit, then SIGTERM, then SIGKILL); returns the exit code."""
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.returncode is None:
            self.send(Quit(reason="call ended"))
            if proc.stdin is not None:
                with contextlib.suppress(Exception):
                    proc.stdin.close()
            for sig in (None, signal.SIGTERM, signal.SIGKILL):
                if sig is not None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.send_signal(sig)
                    log.debug("%s: sent %s", self.name, sig.name)
                try:
                    await asyncio.wait_for(proc.wait(), timeout)
                    break
                except TimeoutError:
                    if sig is signal.SIGKILL:
                        log.error("%s (pid %s) did not die after SIGKILL", self.name, proc.pid)
        if self._monitor is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._monitor), timeout)
            self._monitor.cancel()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return proc.returncode if proc else None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the child (tests use it to simulate a crash)."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(sig)
