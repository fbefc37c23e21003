"""A peer pushing avatar packs over a real aiortc connection (issue 15, defect 5).

A test-side aiortc client joins alice's room through the real relay, then switches to one new
pack after another and serves each one alice asks for. Alice (a real networking process) must
download at most MAX_RECEIVED_PACKS_PER_CALL of them, count the rest, keep the call up, and
leave none of them on disk once the call is over.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netlab.attacks.hostile_peer import HostilePeer
from peer.pack_inbox import MAX_RECEIVED_PACKS_PER_CALL
from protocol import ctl
from protocol.signaling import new_room_code

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
        hostile = HostilePeer(relay.url, room, gen=7)
        ctl_ch, received = hostile.ctl, hostile.params_in
        requests: list[str] = []

        def serve(request: ctl.AvatarRequest) -> None:  # whatever alice asks for
            requests.append(request.hash)
            for chunk in chunks(request.hash, by_hash[request.hash]):
                ctl_ch.send(chunk)

        hostile.on_request = serve
        async with hostile:
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
