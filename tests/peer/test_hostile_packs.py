"""A peer pushing avatar packs over a real aiortc connection (issue 15, defect 5).

A test-side aiortc client joins alice's room through the real relay, then switches to one new
pack after another and serves each one alice asks for. Alice (a real networking process) must
download at most MAX_RECEIVED_PACKS_PER_CALL of them, count the rest, keep the call up, and
leave none of them on disk once the call is over.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from websockets.asyncio.client import connect

from peer.pack_inbox import MAX_RECEIVED_PACKS_PER_CALL
from peer.signaling import room_url
from protocol import ctl
from protocol.signaling import Answer, Join, Offer, new_room_code, parse_signal

from .helpers import call_pair, relay_running
from .test_pack_limits import chunks, distinct_packs

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]


@pytest.mark.timeout(120)
async def test_a_peer_cycling_packs_gets_six_downloaded_and_none_kept(tmp_path: Path) -> None:
    cap = MAX_RECEIVED_PACKS_PER_CALL
    packs = distinct_packs(tmp_path / "src", cap + 2)
    by_hash = dict(packs)
    cache = tmp_path / "cache"
    room = new_room_code()
    async with (
        relay_running() as relay,
        call_pair(relay.url, room, env={"AVATARCHAT_PACK_CACHE": str(cache)}) as (alice, bob),
    ):
        await bob.session.close()  # the room is alice's and the hostile peer's
        await alice.log.wait_for(lambda: alice.session.state == "waiting", 15, "alice alone")
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        params = pc.createDataChannel(
            "params", ordered=False, maxRetransmits=0, negotiated=True, id=0
        )
        ctl_ch = pc.createDataChannel("ctl", negotiated=True, id=1)
        received: list[Any] = []
        requests: list[str] = []
        params.on("message", received.append)

        def on_ctl(data: bytes) -> None:
            message = ctl.parse_ctl(data)
            if isinstance(message, ctl.Ping):  # stay "alive" like a real peer
                now = time.monotonic_ns() // 1000
                ctl_ch.send(
                    ctl.Pong(seq=message.seq, t1_us=message.t1_us, t2_us=now, t3_us=now).encode()
                )
            elif isinstance(message, ctl.AvatarRequest):  # serve whatever alice asks for
                requests.append(message.hash)
                for chunk in chunks(message.hash, by_hash[message.hash]):
                    ctl_ch.send(chunk)

        ctl_ch.on("message", on_ctl)
        opened = asyncio.Event()
        params.on("open", opened.set)
        try:
            async with connect(room_url(relay.url, room)) as ws:
                await ws.send(Join(room=room).to_json())
                assert json.loads(await ws.recv())["peer_present"] is True
                await pc.setLocalDescription(await pc.createOffer())
                await ws.send(Offer(sdp=pc.localDescription.sdp, gen=7).to_json())
                answer: Any = None
                while not isinstance(answer, Answer):
                    answer = parse_signal(await asyncio.wait_for(ws.recv(), 15))
                await pc.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
                await asyncio.wait_for(opened.wait(), 15)
                ctl_ch.send(ctl.Hello(name="pusher", avatar_id="fox").encode())
                for i, (digest, _data) in enumerate(packs):
                    switch = ctl.AvatarSwitch(avatar_id=f"custom{i}", avatar_hash=digest)
                    ctl_ch.send(switch.encode())
                    # Each switch ends in a drawn avatar: the pack itself, or the fallback.
                    await alice.log.wait_for(
                        lambda i=i: [
                            e
                            for e in alice.log.of("peer_avatar")
                            if e["avatar_id"] == f"custom{i}" and not e["pending"]
                        ],
                        20,
                        f"alice draws custom{i}",
                    )
                await alice.log.wait_for(
                    lambda: (alice.stats().get("avatar_transfers_refused") or 0) >= 2,
                    10,
                    "the refusals in alice's stats",
                )
                stats = alice.stats()
                on_disk = sorted(p.parent.name for p in cache.rglob("avatar.toml"))
                mark = len(received)
                await alice.log.wait_for(lambda: len(received) > mark + 20, 10, "still sending")
                state_during_call = alice.session.state
        finally:
            await pc.close()
        drawn = {e["avatar_id"]: e["ref"] for e in alice.log.of("peer_avatar") if not e["pending"]}
    assert requests == [digest for digest, _ in packs[:cap]]
    assert stats["avatar_transfers_refused"] == 2
    assert stats["avatar_bytes_received"] == sum(len(data) for _, data in packs[:cap])
    assert on_disk == sorted(digest for digest, _ in packs[:cap])
    assert all(Path(drawn[f"custom{i}"]).name == packs[i][0] for i in range(cap))
    assert drawn[f"custom{cap}"] == drawn[f"custom{cap + 1}"] == "aria"
    refusals = [e for e in alice.log.of("error") if "not downloading" in e["message"]]
    assert len(refusals) == 1 and not refusals[0].get("fatal")
    assert state_during_call == "connected"
    assert alice.session.peer is not None and alice.session.peer.restarts == 0
    # The call is over: nothing it received is left on disk.
    assert list(cache.rglob("avatar.toml")) == []
