"""ChildProcess / Call supervision with real processes and real rings."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from call import Call, CallConfig, ChildExited, ChildFailed, ChildProcess, SupervisorError
from protocol.commands import Pause
from protocol.events import Bye, Status
from protocol.ring import ShmRing

CHILD = str(Path(__file__).with_name("ring_writer_child.py"))


def _shm_names() -> set[str]:
    return {n for n in os.listdir("/dev/shm") if n.startswith("avatarchat-")}


async def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    """Poll a cheap in-memory predicate (no I/O): the events it watches arrive on the loop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_killed_child_is_restarted_and_frames_resume() -> None:
    ring = ShmRing.create("test")
    events: list[Any] = []
    child = ChildProcess(
        "writer",
        [sys.executable, CHILD, ring.name, "100"],
        lambda _source, event: events.append(event),
        restart=True,
    )
    try:
        await child.start()
        await child.wait_ready(20)
        reader = ring.reader()
        await _wait_for(lambda: ring.write_count >= 10, 10, "first frames")
        first_pid = child.pid
        assert first_pid is not None
        child.kill(signal.SIGKILL)
        await _wait_for(lambda: any(isinstance(e, ChildExited) for e in events), 10, "exit")
        exited = next(e for e in events if isinstance(e, ChildExited))
        assert exited == ChildExited(returncode=-signal.SIGKILL, restarting=True)
        err = next(e for e in events if isinstance(e, ChildFailed))
        assert "SIGKILL" in err.message and err.fatal is False
        await _wait_for(lambda: child.pid != first_pid and child.ready, 20, "restart")
        count = ring.write_count
        await _wait_for(lambda: ring.write_count >= count + 10, 10, "frames after restart")
        assert reader.read_latest() is not None
        assert child.restarts == 1
        # Commands reach the new process.
        assert child.send(Pause(on=True))
        ack = Status(state="ack", message="pause")
        await _wait_for(lambda: ack in events, 10, "ack")
    finally:
        rc = await child.stop()
        ring.close()
    assert rc == 0  # it obeyed "quit"
    assert Bye() in events
    assert not child.running


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_stop_escalates_to_sigkill_for_a_stuck_child() -> None:
    code = (
        "import signal,sys,time;signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        'print(\'{"event":"ready"}\', flush=True);sys.stdin.close();time.sleep(60)'
    )
    child = ChildProcess("stuck", [sys.executable, "-c", code], lambda _s, _e: None)
    await child.start()
    await child.wait_ready(20)
    rc = await child.stop(timeout=0.5)
    assert rc == -signal.SIGKILL


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_a_child_that_dies_at_start_reports_its_stderr() -> None:
    events: list[Any] = []
    code = "import sys; sys.stderr.write('boom: no camera\\n'); sys.exit(3)"
    child = ChildProcess("bad", [sys.executable, "-c", code], lambda _s, e: events.append(e))
    await child.start()
    with pytest.raises(SupervisorError, match="boom: no camera"):
        await child.wait_ready(20)
    await child.stop()
    err = [e for e in events if isinstance(e, ChildFailed)]
    assert err and err[0].fatal is True and "code 3" in err[0].message


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_call_unlinks_rings_even_when_cancelled() -> None:
    names: list[str] = []
    started = asyncio.Event()

    async def run_call() -> None:
        cfg = CallConfig(relay="ws://127.0.0.1:9/ws", room="x" * 22, source="synthetic")
        async with Call(cfg) as call:
            assert call.local is not None and call.remote is not None
            names.extend([call.local.name, call.remote.name])
            assert set(names) <= _shm_names()
            started.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(run_call())
    await asyncio.wait_for(started.wait(), 20)
    task.cancel()  # what Ctrl+C does to asyncio.run's main task
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(names) == 2 and not set(names) & _shm_names()
