"""TURN in network namespaces: A and B have no route to each other, coturn and the relay run in
a third namespace both reach (the netlab package). The product's processes run inside A and B."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

import netlab
from call import ChildProcess, module_argv
from protocol.signaling import new_room_code

from .helpers import EventLog, call_pair, connected

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]


@pytest.fixture
def turn_lab() -> Iterator[tuple[netlab.Lab, netlab.Coturn]]:
    reason = netlab.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    if shutil.which("turnserver") is None:
        pytest.skip("coturn (turnserver) is not installed; scripts/system-deps.sh installs it")
    netlab.cleanup_stale()
    with netlab.turn_split() as lab, netlab.Coturn(lab) as turn:
        yield lab, turn


async def _relay_in(lab: netlab.Lab, turn: netlab.Coturn) -> tuple[ChildProcess, str]:
    log = EventLog()
    argv = module_argv("relay", "--host", lab.service_addr, "--port", "0", "--turn-uri", turn.url)
    env = {**os.environ, "AVATARCHAT_RELAY_TURN_SECRET": turn.secret}
    relay = ChildProcess("relay", lab.argv(lab.service_role, argv), log, env=env)
    await relay.start()
    await relay.wait_ready(20)
    port = log.of("ready", "relay")[-1]["port"]
    return relay, f"ws://{lab.service_addr}:{port}"


@pytest.mark.timeout(120)
async def test_call_connects_through_coturn_with_relay_issued_credentials(
    turn_lab: tuple[netlab.Lab, netlab.Coturn],
) -> None:
    lab, turn = turn_lab
    relay, url = await _relay_in(lab, turn)
    try:
        async with call_pair(
            url,
            new_room_code(),
            per_side=({"wrap": lab.argv("a", [])}, {"wrap": lab.argv("b", [])}),
        ) as (a, b):
            await connected(a, b, timeout=60)
            for side in (a, b):
                await side.log.wait_for(
                    lambda s=side: (s.stats().get("recv_hz") or 0) > 20, 10, "30 Hz over TURN"
                )
                assert side.stats()["candidate_pair"] == "relay"
            assert a.stats()["sas"] == b.stats()["sas"]
    finally:
        await relay.stop()


@pytest.mark.timeout(120)
async def test_wrong_turn_credentials_fail_with_a_clear_message(
    turn_lab: tuple[netlab.Lab, netlab.Coturn],
) -> None:
    lab, turn = turn_lab
    relay, url = await _relay_in(lab, turn)
    wrong = {"ice_servers": [turn.url], "turn_user": "1:bogus", "turn_pass": "wrong"}
    try:
        async with call_pair(
            url,
            new_room_code(),
            turn_only=True,
            per_side=({"wrap": lab.argv("a", []), **wrong}, {"wrap": lab.argv("b", []), **wrong}),
        ) as (a, b):
            for side in (a, b):
                errors = await side.log.wait_for(
                    lambda s=side: [
                        e for e in s.log.of("error") if "TURN server refused" in e["message"]
                    ],
                    30,
                    f"{side.name}: TURN refusal reported",
                )
                assert "no relay candidate" in errors[0]["message"]
            assert a.session.state != "connected" and b.session.state != "connected"
    finally:
        await relay.stop()
