"""call.SharedRelay: the TUI's one local relay, reused by every call on a port that does not
change (issue 16), with real ``python -m relay`` children."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from call import CallEvent, ChildExited, SharedRelay

pytestmark = pytest.mark.asyncio


async def test_reused_restarted_on_its_port_and_stopped() -> None:
    exited = asyncio.Event()

    def on_event(_source: str, event: CallEvent) -> None:
        if isinstance(event, ChildExited):
            exited.set()

    shared = SharedRelay()
    try:
        first = await shared.acquire(on_event)
        port, pid = first.port, first.child.pid
        assert port and pid is not None and shared.running
        shared.release(on_event)
        assert await shared.acquire(on_event) is first  # the next call: the same relay
        os.kill(pid, signal.SIGKILL)  # it died between calls
        await asyncio.wait_for(exited.wait(), 10)
        again = await shared.acquire(on_event)
        assert again is not first and again.port == port  # back on the same port
        on_lan = await shared.acquire(on_event, lan=True)  # shared on the LAN now: restarted
        assert on_lan is not again and on_lan.port == port and on_lan.host == "0.0.0.0"
        last_pid = on_lan.child.pid
    finally:
        await shared.stop()
    assert not shared.running and shared.pid() is None
    assert last_pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(last_pid, 0)
