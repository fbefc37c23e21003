"""``avatarchat call --window`` as a user runs it: two real ``avatarchat call`` processes, a real
relay, a real render window on Xvfb. The window follows the call's state (the overlay routing
that used to exist only in the TUI), and a ``kill -9`` of each child comes back with what the
user set replayed: the peer's avatar to a new window, mirror to a new tracker, and the call
itself to a new networking process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROOM = "headlessWindowRoom0123"
WAIT_S = 60.0


class Cli:
    """One ``avatarchat call`` process; its stdout lines collected on a thread."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "call", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_line(self, text: str, *, after: int = 0, timeout: float = WAIT_S) -> int:
        """Index of the first line at or after ``after`` containing ``text``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for i in range(after, len(self.lines)):
                    if text in self.lines[i]:
                        return i
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._pending()):
                    tail = "\n".join(self.lines[-25:])
                    raise AssertionError(f"no line with {text!r}; last lines:\n{tail}")
                self._changed.wait(min(left, 0.5))

    def _pending(self) -> bool:
        return self.proc.stdout is not None and not self.proc.stdout.closed

    def child(self, module: str) -> psutil.Process:
        for proc in psutil.Process(self.proc.pid).children():
            try:
                if module in proc.cmdline() and proc.status() != psutil.STATUS_ZOMBIE:
                    return proc
            except psutil.Error:  # exiting right now
                continue
        raise AssertionError(f"no {module} child")

    def respawned(self, module: str, old_pid: int) -> psutil.Process:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                proc = self.child(module)
                if proc.pid != old_pid:
                    return proc
            except AssertionError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{module} was not restarted")


def test_headless_window_shows_the_call_and_children_come_back_as_set(
    xvfb_display: str, relay_url: str
) -> None:
    env = dict(os.environ, DISPLAY=xvfb_display)
    common = ["--relay", relay_url, "--room", ROOM, "--source", "synthetic"]
    alice = Cli([*common, "--name", "alice", "--window", "--mirror"], env)
    bob: Cli | None = None
    try:
        alice.wait_line("window: waiting")  # the call's state, routed to the window
        alice.wait_line("tracking: mirror on")
        bob = Cli([*common, "--name", "bob", "--avatar", "fox"], env)
        alice.wait_line("window: connected")
        alice.wait_line("window: peer avatar fox")  # the peer's hello, routed to the window

        # The window dies: a new one draws the peer's avatar again (replayed, not argv).
        render = alice.child("render_window")
        mark = len(alice.lines)
        render.kill()
        alice.respawned("render_window", render.pid)
        alice.wait_line("window: peer avatar fox", after=mark)

        # The tracker dies: the new one gets mirror again.
        tracking = alice.child("tracking")
        mark = len(alice.lines)
        tracking.kill()
        alice.respawned("tracking", tracking.pid)
        alice.wait_line("tracking: mirror on", after=mark)

        # The networking process dies: a new one rejoins and the call reconnects, shown in the
        # window as it happens.
        peer = alice.child("peer")
        mark = len(alice.lines)
        peer.kill()
        alice.respawned("peer", peer.pid)
        alice.wait_line("connected:", after=mark, timeout=90)
        alice.wait_line("window: connected", after=mark, timeout=90)

        # The other person hangs up: the window says so instead of idling as if live.
        mark = len(alice.lines)
        bob.proc.send_signal(signal.SIGTERM)
        assert bob.proc.wait(30) in (0, 1, 130)
        alice.wait_line("window: peer_left", after=mark)
        assert not any("Traceback" in line for line in alice.lines)
    finally:
        children = psutil.Process(alice.proc.pid).children(recursive=True)
        for cli in (c for c in (alice, bob) if c is not None):
            if cli.proc.poll() is None:
                cli.proc.send_signal(signal.SIGTERM)
        assert alice.proc.wait(30) in (0, 1, 130)  # 130: ended by a signal, cleanly
        if bob is not None:
            bob.proc.wait(30)
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, alive
