"""A real aiortc pair connects over coturn when A and B cannot reach each other."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import netlab

pytestmark = [pytest.mark.usefixtures("netns_ok"), pytest.mark.slow]

DC_PEER = Path(__file__).with_name("dc_peer.py")


def _read_event(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline()  # bounded: dc_peer gives up after its own timeout
    assert line, f"peer exited rc={proc.poll()}"
    data: dict[str, Any] = json.loads(line)
    return data


def _send(proc: subprocess.Popen[str], payload: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(payload) + "\n")
    proc.stdin.flush()


def _pair(
    lab: netlab.Lab, turn: list[str], timeout_s: float = 30
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Run dc_peer in A (offer) and B (answer); relay their SDP; return both results."""
    env = {**os.environ, "DC_PEER_TIMEOUT_S": str(timeout_s)}
    kw: dict[str, Any] = dict(
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, env=env
    )
    offerer = lab.popen("a", [sys.executable, str(DC_PEER), "offer", *turn], **kw)
    offer = _read_event(offerer)
    answerer = lab.popen("b", [sys.executable, str(DC_PEER), "answer", *turn], **kw)
    _send(answerer, offer)
    answer = _read_event(answerer)
    _send(offerer, answer)
    got_a, got_b = _read_event(offerer), _read_event(answerer)
    for proc in (offerer, answerer):
        with contextlib.suppress(BrokenPipeError):  # a peer that failed has exited already
            _send(proc, {"cmd": "quit"})
        proc.wait(10)
    return got_a, got_b, offer["sdp"]


@pytest.mark.netlab_needs("turnserver")
def test_call_connects_over_turn_relay_only() -> None:
    with netlab.turn_split() as lab, netlab.Coturn(lab) as turn:
        user, password = turn.credentials()
        got_a, got_b, offer_sdp = _pair(lab, [turn.url, user, password])
    assert "typ relay" in offer_sdp, "no relay candidate: coturn refused the allocation?"
    for got in (got_a, got_b):
        assert got["event"] == "connected", got
        # Host candidates cannot reach each other here, so one end of the pair is a relay.
        assert "relay" in (got["local"], got["remote"]), got
        assert got["echo_ms"] < 1000


@pytest.mark.netlab_needs("turnserver")
def test_wrong_turn_secret_gives_no_relay_candidate() -> None:
    """The failure the client must notice: refused credentials raise nothing, ICE just fails."""
    with netlab.turn_split() as lab, netlab.Coturn(lab) as turn:
        # 3 s: a working relay pair connects in about 1 s here, and without a relay candidate
        # nothing can connect through this split however long it waits (the SDP proves it).
        got_a, got_b, offer_sdp = _pair(lab, [turn.url, "1:bogus", "wrong"], timeout_s=3)
    assert "typ relay" not in offer_sdp
    assert got_a["event"] == "error" and got_b["event"] == "error"


@pytest.mark.netlab_needs(netlab.TUN_DEVICE)
def test_call_over_delayed_route_sees_the_delay() -> None:
    """Direct host-to-host ICE through M: the shim delays WebRTC's packets like any others."""
    with netlab.routed(delay_ms=30) as lab:
        got_a, got_b, _ = _pair(lab, [])
    for got in (got_a, got_b):
        assert got["event"] == "connected", got
        assert (got["local"], got["remote"]) == ("host", "host")
        assert 55 < got["echo_ms"] < 200  # one round trip over SCTP = 2 x 30 ms + processing
