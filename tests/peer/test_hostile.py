"""A hostile peer: a test-side aiortc client joins the room through the real relay, negotiates
like a real client, then floods and fuzzes. The real client must count and drop it all."""

from __future__ import annotations

import asyncio
import math
import time

import cbor2
import pytest

from netlab.attacks.hostile_peer import HostilePeer
from peer.connection import check_sdp
from peer.frames import RECV_BURST, RECV_RATE_HZ
from protocol import ctl
from protocol.frame import ParamFrame
from protocol.signaling import new_room_code

from .helpers import RingTap, call_pair, relay_running

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]


def _raw_frame(seq: int, rotation: list[float]) -> bytes:
    """A frame built with plain cbor2, so it can carry what our encoder refuses (NaN)."""
    return cbor2.dumps(
        {
            0: 1,
            1: seq,
            2: time.monotonic_ns() // 1000,
            3: 1,
            4: rotation,
            5: [0.0] * 3,
            6: bytes(52),
        }
    )


@pytest.mark.timeout(120)
async def test_hostile_peer_is_counted_and_dropped_and_the_call_goes_on() -> None:
    room = new_room_code()
    async with (
        relay_running() as relay,
        call_pair(relay.url, room, sources=("synthetic", "synthetic")) as (alice, _bob_unused),
    ):
        # Only alice should be in the room: stop bob's side before the hostile peer joins.
        await _bob_unused.session.close()
        await alice.log.wait_for(lambda: alice.session.state == "waiting", 15, "alice alone")
        assert alice.session.remote is not None
        tap = RingTap(alice.session.remote.name)
        hostile = HostilePeer(relay.url, room, gen=7)
        params, ctl_ch = hostile.params, hostile.ctl
        received, ctl_in = hostile.params_in, hostile.ctl_in
        try:
            async with hostile:
                assert hostile.answer is not None and hostile.answer.gen == 7
                check_sdp(hostile.answer.sdp)  # the real client answers with m=application only
                await alice.log.wait_for(lambda: len(received) >= 10, 10, "frames from alice")

                # 1. garbage, oversize, text, NaN, out-of-range version, seq gaps
                params.send(b"\xff\x00garbage")
                params.send(b"\xa1" * 5000)
                params.send("a text message on a binary channel")
                params.send(_raw_frame(1, [math.nan, 0.0, 0.0]))
                params.send(_raw_frame(2, [math.inf, 0.0, 0.0]))
                params.send(cbor2.dumps({0: 99, 1: 3}))
                for seq in (10, 11, 15):  # valid, with a gap of 3
                    params.send(
                        ParamFrame(seq=seq, timestamp_us=time.monotonic_ns() // 1000).encode()
                    )
                # 2. garbage on ctl, a forged pong, an unsolicited avatar chunk, a chat flood
                ctl_ch.send(b"\x00\x01not cbor")
                ctl_ch.send(cbor2.dumps({0: 3, 1: 999, 2: 1, 3: 2, 4: 3}))
                ctl_ch.send(ctl.AvatarChunk(hash="0" * 64, total=1, size=4, data=b"evil").encode())
                for i in range(50):
                    ctl_ch.send(ctl.Chat(msg_id=i, text="spam").encode())
                # 3. ten times the normal rate (300 Hz) for two seconds
                seq = 100
                start = time.monotonic()
                while (elapsed := time.monotonic() - start) < 2.0:
                    while seq - 100 < elapsed * 300:
                        seq += 1
                        frame = ParamFrame(seq=seq, timestamp_us=time.monotonic_ns() // 1000)
                        params.send(frame.encode())
                    await asyncio.sleep(0.005)
                flood = seq - 100
                # the first stats event that starts after the flood has all of it
                after = alice.log.mark()
                await alice.log.wait_for(
                    lambda: len(alice.log.since(after, "stats")) >= 2, 10, "stats after flood"
                )
                stats = alice.stats()
                mark = len(received)
                await alice.log.wait_for(lambda: len(received) > mark + 20, 10, "still sending")
                state_during_call = alice.session.state  # before we hang up below
        finally:
            tap.close()

        assert stats["bad_frames"] >= 6  # garbage, oversize, text, NaN, inf, bad version
        assert stats["oversize_frames"] >= 1
        # 10, 11, 15 leave 3 out, the flood starts at 101 (85 more); the frames the rate limit
        # threw away during the flood arrived, so they are not gaps.
        assert 3 + 85 <= stats["seq_gaps"] <= 3 + 85 + 5
        assert flood >= 590
        # 120/s sustained + a burst of 60 pass: at least ~240 of the ~600 are throttled.
        assert stats["throttled_frames"] >= flood - (RECV_RATE_HZ * 2.0 + RECV_BURST) - 40
        assert stats["bad_ctl"] >= 3 + 40  # garbage, forged pong, chunk, most of the chat flood
        assert len(alice.log.of("chat")) <= 10
        # Nothing bad reached alice's remote ring: every frame there decodes.
        assert tap.frames and all(ParamFrame.decode(p) for p in tap.frames.values())
        assert alice.session.peer is not None and alice.session.peer.running
        assert alice.session.peer.restarts == 0
        assert state_during_call == "connected"  # the link to the hostile peer was kept
        assert not [e for e in alice.log.of("error") if e.get("fatal")]
        assert any(isinstance(m, ctl.Hello) for m in ctl_in)
