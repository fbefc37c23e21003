"""A gesture through a real call: alice's networking process is told to send one (what
call/ does with her tracker's ``gesture`` event), bob's reports ``peer_gesture`` (what call/
routes to his window as ``show_gesture``); a flood from alice is cut to the rate limit."""

from __future__ import annotations

import pytest

from peer.ctl_handler import GESTURE_BURST
from protocol.commands import SendGesture
from protocol.signaling import new_room_code

from .helpers import call_pair, connected, relay_running

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]


@pytest.mark.timeout(120)
async def test_gesture_reaches_the_peer_over_ctl_rate_limited() -> None:
    async with (
        relay_running() as relay,
        call_pair(relay.url, new_room_code(), voice=False) as (a, b),
    ):
        await connected(a, b, timeout=60)
        assert a.session.send("peer", SendGesture(name="wave", side=1))
        got = await b.log.wait_for(lambda: b.log.of("peer_gesture"), 10, "gesture at bob")
        assert got[0]["name"] == "wave" and got[0]["side"] == 1
        for _ in range(20):
            assert a.session.send("peer", SendGesture(name="peace", side=0))
        # Alice's chat after the flood arrives after it too (ctl is ordered): then count.
        assert a.session.chat("after the gestures")
        await b.log.wait_for(lambda: b.log.of("chat"), 10, "chat at bob")
        peace = [e for e in b.log.of("peer_gesture") if e["name"] == "peace"]
        assert 1 <= len(peace) <= int(GESTURE_BURST)
