"""Body keys through a real call (real relay, tracking and networking processes, aiortc):
alice tracks bodies/s29 with the body on, bob the sample clip with it off. Bob receives
alice's frames with arms and hands intact, byte for byte; alice receives bob's face-only
frames; neither side counts a bad frame: the feature switched off on one end is no problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol.body import Side
from protocol.frame import TARGET_BODY_FRAME_BYTES, ParamFrame
from protocol.signaling import new_room_code

from .helpers import RingTap, call_pair, connected, relay_running

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]

S29 = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "bodies" / "s29.mp4"


@pytest.mark.timeout(180)
async def test_body_frames_cross_a_call_to_a_peer_with_the_body_off() -> None:
    if not S29.is_file():
        pytest.skip("needs ../shared/testdata/bodies/s29.mp4 (a person with hands in view)")
    async with (
        relay_running() as relay,
        call_pair(
            relay.url,
            new_room_code(),
            sources=(str(S29), "sample"),
            per_side=({"body": True}, {"body": False}),
            voice=False,
        ) as (a, b),
    ):
        assert a.session.local is not None and b.session.remote is not None
        assert b.session.local is not None and a.session.remote is not None
        sent, got = RingTap(a.session.local.name), RingTap(b.session.remote.name)
        back = RingTap(a.session.remote.name)
        try:
            await connected(a, b, timeout=90)
            await b.log.wait_for(
                lambda: (
                    sum(ParamFrame.decode(f).body is not None for f in got.frames.values()) >= 20
                    and len(back.frames) >= 20
                ),
                60,
                "20 body frames at bob and 20 frames back at alice",
            )
            common = sorted(set(sent.frames) & set(got.frames))
            assert len(common) >= 15
            assert all(got.frames[s] == sent.frames[s] for s in common)  # forwarded verbatim
            bodies = [ParamFrame.decode(got.frames[s]).body for s in common]
            with_arms = [b for b in bodies if b is not None and all(b.arms)]
            assert len(with_arms) >= len(common) // 2
            assert any(b.hands[Side.LEFT] is not None for b in with_arms)
            assert max(len(f) for f in got.frames.values()) <= TARGET_BODY_FRAME_BYTES
            assert all(ParamFrame.decode(f).body is None for f in back.frames.values())
        finally:
            for tap in (sent, got, back):
                tap.close()
        await a.log.wait_for(lambda: a.stats().get("frames_received"), 10, "alice's stats")
        await b.log.wait_for(lambda: b.stats().get("frames_received"), 10, "bob's stats")
        assert a.stats()["bad_frames"] == 0 and b.stats()["bad_frames"] == 0
