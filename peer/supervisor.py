"""asyncio-native supervision of a call's child processes (used by ``avatarchat call`` and the TUI).

A call on one machine is three processes that talk through two shared-memory rings::

    tracking --(local ring)--> peer (networking) --(remote ring)--> render_window
                          \\----------------------------------------> (self view)

This module starts them, reads their events, sends them commands, restarts one that crashes,
and tears everything down -- rings included -- however the call ends (hang-up, error, Ctrl+C).

API
---
``ChildProcess(name, argv, on_event, *, restart=False, env=None, log_path=None)``
    One supervised child. ``argv`` is the full command line; :func:`module_argv` builds
    ``[sys.executable, "-m", module, *args]``. Events (``protocol.control`` JSON lines on the
    child's stdout) are passed to ``on_event(dict)`` with ``"child": name`` added. The
    supervisor adds its own events: ``started`` {pid, restarts}, ``exited`` {returncode,
    restarting} and ``error`` {message, fatal} when a child dies unexpectedly (the message
    carries the last line the child wrote to stderr, e.g. the exception). stderr goes to
    ``log_path`` (appended) and a short in-memory tail (:attr:`stderr_tail`).

    - ``await start()`` spawns it; ``await wait_ready(timeout)`` waits for its ``ready`` event
      (raises :class:`~peer.errors.SupervisorError` if it exits or times out first).
    - ``send(cmd, **fields)`` writes one command line to its stdin (dropped if it is not running).
    - ``await stop(timeout)`` ends it for good: ``quit`` command and stdin EOF, then SIGTERM,
      then SIGKILL, each after ``timeout`` seconds. Idempotent.
    - With ``restart=True`` a child that dies (non-zero exit or a signal) is started again
      after a backoff (0.25 s doubling to 4 s; reset after 10 s of healthy running; at most
      ``max_restarts``), unless its exit code is in ``no_restart_codes`` (default 2 and 3: bad
      usage or configuration, a refused room -- restarting cannot help). Exit code 0 is the
      child's own decision (hang-up, the clip ended) and is never restarted.
    - Properties: ``pid``, ``running``, ``finished`` (gone for good), ``returncode``,
      ``restarts``, ``ready``, ``last_stats``, ``last_status``, ``stderr_tail``.

``CallConfig`` / ``CallSession(config, on_event)``
    Owns the two rings (``local``, ``remote``; :meth:`protocol.ring.ShmRing.create`, unlinked in
    :meth:`CallSession.close` whatever happened) and the children ``tracking``, ``peer`` and,
    with ``config.window``, ``render``. ``await start()`` creates the rings and spawns the
    children (tracking and render are restarted if they crash; the networking process too).
    ``on_event`` receives every child event (with ``child``) plus ``session`` events.
    ``session.state`` is the networking process's last ``status`` state, ``session.stats`` a
    dict child name -> last ``stats`` event. ``send_peer/send_tracking/send_render`` forward
    commands; ``chat(text)``, ``hangup()`` are shortcuts. The render window's ``present`` events
    are forwarded to the networking process (command ``present``) so its stats include
    capture-to-present latency. ``await close()`` stops the children (render, tracking, peer:
    the peer last so it can say bye) and unlinks the rings; also usable as
    ``async with CallSession(...) as s``.

Children run in their own session (``start_new_session=True``): Ctrl+C in the terminal reaches
only the parent, which then shuts the children down in order. A child whose parent dies sees
EOF on stdin, which the child contract defines as ``quit``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from protocol.control import MAX_CONTROL_LINE, command_line, parse_line
from protocol.errors import DecodeError
from protocol.ring import ShmRing

from .errors import SupervisorError

log = logging.getLogger(__name__)

EventCallback = Callable[[dict[str, Any]], None]
#: The networking process reads the TURN password from here when --turn-pass is not given.
TURN_PASS_ENV = "AVATARCHAT_TURN_PASS"

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
        self.last_stats: dict[str, Any] | None = None
        self.last_status: dict[str, Any] | None = None
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
        self._emit({"event": "started", "pid": self._proc.pid, "restarts": self.restarts})

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
                self._emit({"event": "exited", "returncode": rc, "restarting": False})
                return
            if loop.time() - started_at > RESTART_HEALTHY_AFTER_S:
                backoff = RESTART_BACKOFF_FIRST_S
            restarting = (
                self.restart
                and rc != 0  # a clean exit is the child's decision (hang-up, clip ended)
                and self.restarts < self.max_restarts
                and rc not in self.no_restart_codes
            )
            self._emit({"event": "exited", "returncode": rc, "restarting": restarting})
            if rc != 0 or restarting:
                self._emit(
                    {
                        "event": "error",
                        "message": self._exit_message(rc) + (" (restarting)" if restarting else ""),
                        "fatal": not restarting,
                        "supervisor": True,
                    }
                )
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
                self._emit({"event": "error", "message": str(e), "fatal": True})
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
                log.warning("%s wrote an over-long control line; skipped", self.name)
                continue
            if not line:
                return
            if not line.strip():
                continue
            try:
                event = parse_line(line, "event")
            except DecodeError:
                log.debug("%s: non-event stdout line: %r", self.name, line[:200])
                continue
            if event["event"] == "ready":
                self._ready.set()
            elif event["event"] == "stats":
                self.last_stats = event
            elif event["event"] == "status":
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

    def _emit(self, event: dict[str, Any]) -> None:
        event.setdefault("child", self.name)
        try:
            self._on_event(event)
        except Exception:  # a buggy callback must not kill supervision
            log.exception("event callback failed for %s event %s", self.name, event.get("event"))

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

    def send(self, cmd: str, **fields: Any) -> bool:
        """Send one command line; False if the child is not running (the command is dropped)."""
        proc = self._proc
        if proc is None or proc.returncode is not None or proc.stdin is None:
            return False
        if proc.stdin.is_closing():
            return False
        if proc.stdin.transport.get_write_buffer_size() > MAX_PENDING_COMMAND_BYTES:
            log.warning("%s is not reading its commands; dropping %s", self.name, cmd)
            return False
        try:
            proc.stdin.write(command_line(cmd, **fields).encode())
        except (BrokenPipeError, ConnectionResetError, RuntimeError):
            return False
        return True

    async def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """Stop for good (quit, then SIGTERM, then SIGKILL); returns the exit code."""
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.returncode is None:
            self.send("quit")
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


@dataclass(slots=True)
class CallConfig:
    """Everything needed to run one call's processes."""

    relay: str
    room: str
    #: tracking --source SPEC: a clip path, ``sample``, ``synthetic`` or a camera index/path.
    source: str = "sample"
    name: str = ""
    avatar: str = "aria"
    #: What the render window draws the peer with until the peer's hello names its avatar.
    peer_avatar: str = "aria"
    window: bool = False
    stats_json: str | None = None
    ice_servers: list[str] = field(default_factory=list)
    turn_user: str | None = None
    turn_pass: str | None = None
    turn_only: bool = False
    #: Extra arguments for each child (tests and benchmarks use these).
    tracking_args: list[str] = field(default_factory=list)
    peer_args: list[str] = field(default_factory=list)
    render_args: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    log_dir: str | None = None
    #: Seconds each child may take to say ``ready`` (MediaPipe start-up is the slow one).
    ready_timeout_s: float = 60.0
    #: Prefix command (e.g. ``["ip", "netns", "exec", "ns1"]``) for every child.
    wrap: list[str] = field(default_factory=list)


class CallSession:
    """The rings and the children of one call. See the module docstring."""

    def __init__(self, config: CallConfig, on_event: EventCallback | None = None) -> None:
        self.config = config
        self._on_event = on_event or (lambda _e: None)
        self.local: ShmRing | None = None
        self.remote: ShmRing | None = None
        self.tracking: ChildProcess | None = None
        self.peer: ChildProcess | None = None
        self.render: ChildProcess | None = None
        self.state = "starting"
        self.stats: dict[str, dict[str, Any]] = {}
        self._closed = False

    @property
    def children(self) -> list[ChildProcess]:
        return [c for c in (self.tracking, self.peer, self.render) if c is not None]

    def _child_log(self, name: str) -> str | None:
        return os.path.join(self.config.log_dir, f"{name}.log") if self.config.log_dir else None

    def _argv(self, module: str, *args: str) -> list[str]:
        return [*self.config.wrap, *module_argv(module, *args)]

    async def start(self) -> None:
        """Create the rings and spawn the children; on failure everything is cleaned up."""
        cfg = self.config
        try:
            self.local = ShmRing.create("local")
            self.remote = ShmRing.create("remote")
            tracking_argv = self._argv(
                "tracking", "--source", cfg.source, "--ring", self.local.name, *cfg.tracking_args
            )
            self.tracking = ChildProcess(
                "tracking",
                tracking_argv,
                self._dispatch,
                restart=True,
                env=cfg.env,
                log_path=self._child_log("tracking"),
            )
            peer_argv = self._argv(
                "peer",
                "--relay",
                cfg.relay,
                f"--room={cfg.room}",  # one token: a code may start with "-"
                "--local-ring",
                self.local.name,
                "--remote-ring",
                self.remote.name,
                "--avatar",
                cfg.avatar,
                *(["--name", cfg.name] if cfg.name else []),
                *[a for url in cfg.ice_servers for a in ("--ice-server", url)],
                *(["--turn-user", cfg.turn_user] if cfg.turn_user else []),
                *(["--turn-only"] if cfg.turn_only else []),
                *(["--stats-json", cfg.stats_json] if cfg.stats_json else []),
                *cfg.peer_args,
            )
            peer_env = cfg.env
            if cfg.turn_pass:  # through the environment: argv is visible to every local user
                peer_env = {**(cfg.env if cfg.env is not None else os.environ)}
                peer_env[TURN_PASS_ENV] = cfg.turn_pass
            self.peer = ChildProcess(
                "peer",
                peer_argv,
                self._dispatch,
                restart=True,
                env=peer_env,
                log_path=self._child_log("peer"),
            )
            if cfg.window:
                render_argv = self._argv(
                    "render_window",
                    "--remote-ring",
                    self.remote.name,
                    "--local-ring",
                    self.local.name,
                    # The peer's avatar is unknown until its hello (then ``peer_avatar``
                    # switches it); ours is the self-view.
                    "--avatar",
                    cfg.peer_avatar,
                    "--self-avatar",
                    cfg.avatar,
                    *cfg.render_args,
                )
                self.render = ChildProcess(
                    "render",
                    render_argv,
                    self._dispatch,
                    restart=True,
                    env=cfg.env,
                    log_path=self._child_log("render"),
                )
            for child in self.children:
                await child.start()
            self._emit(
                {"event": "started", "local_ring": self.local.name, "remote_ring": self.remote.name}
            )
        except BaseException:
            await self.close()
            raise

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until every child has said ``ready`` (SupervisorError otherwise)."""
        limit = timeout if timeout is not None else self.config.ready_timeout_s
        await asyncio.gather(*(c.wait_ready(limit) for c in self.children))

    def _dispatch(self, event: dict[str, Any]) -> None:
        child = event.get("child", "")
        kind = event.get("event")
        if kind == "stats":
            self.stats[child] = event
        elif kind == "status" and child == "peer":
            self.state = str(event.get("state", self.state))
        elif kind == "present" and self.peer is not None:
            fields = {k: event[k] for k in ("seq", "capture_us", "present_ns") if k in event}
            self.peer.send("present", **fields)
        elif kind == "peer_avatar" and self.render is not None:
            ref = event.get("ref")
            if ref:
                self.render.send("avatar", ref=ref)
        self._emit(event)

    def _emit(self, event: dict[str, Any]) -> None:
        event.setdefault("child", "session")
        try:
            self._on_event(event)
        except Exception:
            log.exception("session event callback failed")

    # -- commands --------------------------------------------------------------------------
    def send_peer(self, cmd: str, **fields: Any) -> bool:
        return self.peer.send(cmd, **fields) if self.peer else False

    def send_tracking(self, cmd: str, **fields: Any) -> bool:
        return self.tracking.send(cmd, **fields) if self.tracking else False

    def send_render(self, cmd: str, **fields: Any) -> bool:
        return self.render.send(cmd, **fields) if self.render else False

    def chat(self, text: str) -> bool:
        return self.send_peer("chat", text=text)

    def hangup(self) -> bool:
        return self.send_peer("hangup")

    # -- teardown --------------------------------------------------------------------------
    async def close(self) -> None:
        """Stop every child and unlink both rings. Safe to call more than once, and from
        ``finally`` after Ctrl+C: the rings are unlinked even if stopping a child fails."""
        if self._closed:
            return
        self._closed = True
        try:
            # Render and tracking first (they only read/write rings), the peer last so its
            # ``bye`` reaches the other side. Each stop is shielded from a second Ctrl+C.
            cancelled: asyncio.CancelledError | None = None
            for child in (self.render, self.tracking, self.peer):
                if child is None:
                    continue
                try:
                    await asyncio.shield(child.stop())
                except asyncio.CancelledError as e:
                    cancelled = e  # finish stopping the others first, then honour it
                    with contextlib.suppress(Exception):
                        child.kill()
                except Exception:
                    log.exception("stopping %s failed", child.name)
            if cancelled is not None:
                raise cancelled
        finally:
            for ring in (self.local, self.remote):
                if ring is not None:
                    ring.close()
            self.state = "closed"
            self._emit({"event": "closed"})

    async def __aenter__(self) -> CallSession:
        await self.start()
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
