"""One real ``python -m relay`` for the whole test session, for tests that only need *a* relay
to signal through.

Why: about thirty tests each started their own relay process (python, trio and the relay's
imports: 1-1.5 s of a 2-core CI box every time) only to create one room in it. Rooms have
random codes, so calls on one relay never meet, and the relay's per-address limits (20 new
connections a second, 5 new rooms a second) are far above one test's rate. Tests that kill,
restart, configure or measure a relay still start their own (``tests.peer.helpers.start_relay``,
``relay_running(*flags)``, tests/relay).

The process is started on first use, with ``--exit-on-stdin-eof`` so it ends with the test
process even when that one is killed, and is restarted if a test brought it down.
"""

from __future__ import annotations

import atexit
import subprocess
import sys
import threading

from protocol.events import Ready, parse_event

_lock = threading.Lock()
_proc: subprocess.Popen[str] | None = None
_port = 0


def port() -> int:
    """The shared relay's port on 127.0.0.1 (started here if it is not running)."""
    global _proc, _port
    with _lock:
        if _proc is None or _proc.poll() is not None:
            proc = subprocess.Popen(
                [sys.executable, "-m", "relay", "--host", "127.0.0.1", "--port", "0",
                 "--exit-on-stdin-eof"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )  # fmt: skip
            assert proc.stdout is not None
            ready = parse_event(proc.stdout.readline())  # the relay's first line
            if not isinstance(ready, Ready):
                proc.kill()
                proc.wait(10)
                raise RuntimeError(f"the shared relay did not start: {ready!r}")
            if _proc is None:
                atexit.register(_stop)
            _proc, _port = proc, int(ready.info["port"])
        return _port


def url() -> str:
    """``ws://127.0.0.1:PORT`` of the shared relay."""
    return f"ws://127.0.0.1:{port()}"


def _stop() -> None:
    if _proc is not None and _proc.poll() is None:
        _proc.terminate()
        try:
            _proc.wait(10)
        except subprocess.TimeoutExpired:
            _proc.kill()
            _proc.wait(5)
