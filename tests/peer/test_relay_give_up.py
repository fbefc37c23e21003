"""A relay that goes away: the networking process names it (``host:port``) in every retry line
and, after a bounded time, gives up with advice instead of retrying for ever (issue 16)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from protocol.ring import ShmRing
from protocol.signaling import new_room_code

pytestmark = pytest.mark.slow

#: Short for the test (the default is a minute): ``AVATARCHAT_RELAY_GIVE_UP_S``.
GIVE_UP_S = 2.0


@pytest.mark.timeout(60)
def test_a_relay_that_goes_away_is_named_and_given_up_on() -> None:
    relay = subprocess.Popen(
        [sys.executable, "-m", "relay", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    rings = [ShmRing.create("test") for _ in range(2)]
    peer: subprocess.Popen[str] | None = None
    try:
        assert relay.stdout is not None
        port = json.loads(relay.stdout.readline())["info"]["port"]
        address = f"127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "peer", "--relay", f"ws://{address}",
               "--room", new_room_code(), "--local-ring", rings[0].name,
               "--remote-ring", rings[1].name]  # fmt: skip
        env = {**os.environ, "AVATARCHAT_RELAY_GIVE_UP_S": str(GIVE_UP_S)}
        peer = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env,
        )  # fmt: skip
        assert peer.stdout is not None and peer.stderr is not None
        for line in peer.stdout:
            if '"state":"waiting"' in line:
                break
        relay.terminate()  # the relay goes away while we wait in the room
        relay.wait(10)
        gone = time.monotonic()
        out = peer.stdout.read()  # until the peer exits (stdin stays open: EOF would be quit)
        assert peer.wait(10) == 2, out  # configuration: not restarted, not "refused"
        took = time.monotonic() - gone
        events = [json.loads(line) for line in out.splitlines()]
        retries = [e for e in events if e.get("state") == "signaling"]
        assert retries and all(address in e["message"] for e in retries), retries
        errors = [e for e in events if e["event"] == "error" and e["fatal"]]
        assert len(errors) == 1, events
        assert address in errors[0]["message"] and "is the relay running" in errors[0]["message"]
        assert [e["state"] for e in events if e["event"] == "status"][-2:] == [
            "unreachable",
            "closed",
        ]
        # Bounded: the give-up time plus at most one backoff step and the exit.
        assert took < GIVE_UP_S + 8, took
        assert "Traceback" not in peer.stderr.read()
    finally:
        if relay.poll() is None:
            relay.kill()
        if peer is not None and peer.poll() is None:
            peer.kill()
        for ring in rings:
            ring.close()
