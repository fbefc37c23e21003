"""Real calls on loopback: a real relay process, two CallSessions (tracking + networking
processes, exactly what ``avatarchat call`` runs), real aiortc."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from protocol.commands import SetAvatar, SetEmotion
from protocol.frame import ParamFrame
from protocol.signaling import new_room_code

from .helpers import RingTap, call_pair, connected, relay_running, start_relay

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]


def _exists(ring_name: str) -> bool:
    return os.path.exists(os.path.join("/dev/shm", ring_name))


@pytest.mark.timeout(120)
async def test_call_frames_match_sender_sas_and_chat() -> None:
    """The sample clip really tracked on one side: what arrives equals what its tracker wrote."""
    rings: list[str] = []
    async with (
        relay_running() as relay,
        call_pair(relay.url, new_room_code(), sources=("sample", "synthetic")) as (a, b),
    ):
        assert a.session.local is not None and b.session.remote is not None
        rings += [r.name for s in (a, b) for r in (s.session.local, s.session.remote) if r]
        assert len(rings) == 4 and all(_exists(r) for r in rings)
        sent = RingTap(a.session.local.name)
        got = RingTap(b.session.remote.name)
        try:
            await connected(a, b, timeout=60)
            # Wait for a couple of seconds of frames *and* a synchronised clock on both sides.
            await b.log.wait_for(
                lambda: len(got.frames) >= 40 and (b.stats().get("e2e_ms") or {}).get("p50"),
                30,
                "40 frames at bob",
            )
            common = sorted(set(sent.frames) & set(got.frames))
            assert len(common) >= 30
            for seq in common:
                # Forwarded verbatim, so equal bytes; decode to check the values too.
                assert got.frames[seq] == sent.frames[seq]
                fa, fb = ParamFrame.decode(sent.frames[seq]), ParamFrame.decode(got.frames[seq])
                assert fb.blendshapes == fa.blendshapes
                assert fb.head_rotation == pytest.approx(fa.head_rotation, abs=1e-3)
                assert fb.timestamp_us == fa.timestamp_us
            # A real face was tracked: some blendshape moved during the clip.
            assert any(max(ParamFrame.decode(sent.frames[s]).blendshapes) > 10 for s in common)
        finally:
            sent.close()
            got.close()

        for side in (a, b):
            await side.log.wait_for(
                lambda s=side: s.stats().get("clock_offset_ms") is not None, 10, "clock sync"
            )
        sa, sb = a.stats(), b.stats()
        assert sa["sas"] and sa["sas"] == sb["sas"], (sa["sas"], sb["sas"])
        assert sa["candidate_pair"] == sb["candidate_pair"] == "host"
        # Gaps are counted, not hidden: on loopback only a rare frame is skipped (the sender
        # drops instead of queueing, and the unordered channel never retransmits).
        assert sb["seq_gaps"] <= 0.05 * sb["frames_received"] and sb["bad_frames"] == 0
        assert sb["bytes_per_frame"] <= 128
        # Both processes share CLOCK_MONOTONIC here, so the true offset is 0 and the measured
        # one is (forward delay - return delay) / 2 of the min-rtt sample: at most half its rtt,
        # which is at most half the median rtt reported beside it (+0.5 ms for rounding).
        for s in (sa, sb):
            assert s["rtt_ms"] is not None and s["rtt_ms"] < 100
            assert s["clock_offset_ms"] is not None
            assert abs(s["clock_offset_ms"]) <= s["rtt_ms"] / 2 + 0.5, s
        assert sb["e2e_ms"]["p50"] < 50

        hello = b.log.of("peer_hello")[-1]
        assert hello["name"] == "alice" and hello["avatar_id"] == "aria"
        assert a.session.chat("hello from alice ✓")
        chat = await b.log.wait_for(lambda: b.log.of("chat"), 10, "chat at bob")
        assert chat[-1]["text"] == "hello from alice ✓" and chat[-1]["sender"] == "alice"
        # Frames leave the moment the tracker writes them (wake-up socket, no polling).
        assert sa["e2e_ms"]["stages"]["tx_ring_to_send"] < 5
        # Emotion preset and a mid-call avatar switch reach the peer over ctl.
        assert a.session.send("peer", SetEmotion(preset=1, weight=0.5))
        emo = await b.log.wait_for(lambda: b.log.of("peer_emotion"), 10, "emotion at bob")
        assert emo[-1]["preset"] == 1 and emo[-1]["weight"] == pytest.approx(0.5, abs=0.01)
        assert a.session.send("peer", SetAvatar(ref="fox"))
        switched = await b.log.wait_for(
            lambda: [e for e in b.log.of("peer_avatar") if e["ref"] == "fox"], 10, "switch"
        )
        assert switched[-1]["pending"] is False
    assert not any(_exists(r) for r in rings)  # both sessions unlinked their rings


@pytest.mark.timeout(120)
async def test_relay_killed_call_continues_and_clients_reregister() -> None:
    relay = await start_relay()
    try:
        async with call_pair(relay.url, new_room_code()) as (a, b):
            await connected(a, b)
            relay.child.kill(signal.SIGKILL)
            await relay.child.stop()
            await a.log.wait_for(
                lambda: a.stats().get("relay_connected") is False, 10, "alice sees the relay gone"
            )
            received = b.stats()["frames_received"]
            mark = b.log.mark()
            # Three more stats seconds with the relay down: frames keep flowing, still connected.
            await b.log.wait_for(lambda: len(b.log.since(mark, "stats")) >= 3, 10, "3 s of stats")
            assert b.stats()["frames_received"] >= received + 60
            assert b.stats()["recv_hz"] > 20 and b.session.state == "connected"
            assert a.session.state == "connected"

            relay = await start_relay(relay.port)  # same port: the clients' URL
            for side in (a, b):
                await side.log.wait_for(
                    lambda s=side: any(
                        "re-registered" in e.get("message", "") for e in s.log.of("status")
                    ),
                    20,
                    f"{side.name} re-registered",
                )
                await side.log.wait_for(
                    lambda s=side: s.stats().get("relay_connected") is True, 5, "relay in stats"
                )
            assert b.session.state == "connected" and a.session.state == "connected"
            assert b.stats()["reconnects"] == 0  # the peer connection was never rebuilt
    finally:
        await relay.child.stop()


@pytest.mark.timeout(120)
async def test_peer_killed_is_noticed_within_3s_and_the_call_resumes() -> None:
    async with relay_running() as relay, call_pair(relay.url, new_room_code()) as (a, b):
        await connected(a, b)
        assert b.session.peer is not None
        mark = a.log.mark()
        killed_at = time.monotonic()
        b.session.peer.kill(signal.SIGKILL)  # the supervisor restarts it
        await a.log.wait_for(
            lambda: any(e["state"] == "peer_lost" for e in a.log.since(mark, "status")),
            5,
            "alice reports peer_lost",
        )
        noticed = time.monotonic() - killed_at
        assert noticed < 3.5, noticed
        await a.log.wait_for(
            lambda: any(e["state"] == "connected" for e in a.log.since(mark, "status")),
            30,
            "alice connected again",
        )
        resumed = a.stats()["frames_received"]
        await a.log.wait_for(
            lambda: a.stats()["frames_received"] > resumed + 30, 10, "frames after resuming"
        )
        assert b.session.peer.restarts == 1
        assert a.stats()["reconnects"] >= 1


@pytest.mark.timeout(90)
async def test_crashed_tracker_is_restarted_and_frames_resume() -> None:
    async with relay_running() as relay, call_pair(relay.url, new_room_code()) as (a, b):
        await connected(a, b)
        # Long enough for the sequence to be far from 1 (a restart at 1 would then freeze
        # the avatar at bob's for as many seconds as this call had run: 4 s at 30 Hz, twice
        # the 2 s the check below allows).
        await a.log.wait_for(lambda: a.stats()["frames_sent"] > 120, 20, "120 frames sent")
        assert a.session.tracking is not None
        a.session.tracking.kill(signal.SIGKILL)
        await a.log.wait_for(
            lambda: (
                a.session.tracking is not None
                and a.session.tracking.restarts == 1
                and a.session.tracking.ready
            ),
            20,
            "tracker restarted",
        )
        ready_us = time.monotonic_ns() // 1000
        assert b.session.remote is not None
        tap = RingTap(b.session.remote.name)
        sent = a.stats()["frames_sent"]
        await a.log.wait_for(
            lambda: a.stats()["frames_sent"] > sent + 30, 10, "frames from the new tracker"
        )
        assert a.session.state == "connected"
        # The receiver's side: bob's window ring gets the new tracker's frames at once (a
        # tracker that restarted its sequence at 1 would have them dropped as stale for the
        # ~4 s the old one had run: a frozen avatar).
        try:
            def new_frames() -> list[int]:
                stamps = (ParamFrame.decode(p).timestamp_us for p in tap.frames.values())
                return sorted(t for t in stamps if t > ready_us)

            await b.log.wait_for(lambda: len(new_frames()) > 30, 15, "the new tracker at bob")
            assert new_frames()[0] - ready_us < 2_000_000, "bob dropped the new frames at first"
        finally:
            tap.close()


@pytest.mark.timeout(90)
async def test_custom_avatar_travels_peer_to_peer(tmp_path: object) -> None:
    import shutil
    from pathlib import Path

    from avatars.pack import builtin_dir, load_pack

    base = Path(str(tmp_path))
    pack_dir = base / "mypack"
    shutil.copytree(builtin_dir() / "aria", pack_dir)
    manifest = pack_dir / "avatar.toml"
    manifest.write_text(manifest.read_text().replace('name = "', 'name = "Custom ', 1))
    custom = load_pack(pack_dir)
    assert custom.content_hash != load_pack("aria").content_hash
    cache = base / "cache"
    async with (
        relay_running() as relay,
        call_pair(
            relay.url,
            new_room_code(),
            env={"AVATARCHAT_PACK_CACHE": str(cache / "packs")},
            per_side=({"avatar": str(pack_dir)}, {}),
        ) as (a, b),
    ):
        await connected(a, b)
        events = await b.log.wait_for(
            lambda: [e for e in b.log.of("peer_avatar") if not e["pending"]], 30, "pack arrived"
        )
        ref = Path(events[-1]["ref"])
        # received over ctl into this call's folder under bob's pack cache (cache/calls/call-*)
        assert ref.parent.parent == cache / "packs" / "calls"
        assert load_pack(ref).content_hash == custom.content_hash
        first = b.log.of("peer_avatar")[0]
        assert first["pending"] is True and first["ref"] == "aria"  # drawn with a built-in
    # The call is over: the peer's pack is not kept (all state dies with the call).
    assert not ref.exists()
    assert [p.name for p in (cache / "packs").rglob("avatar.toml")] == []


@pytest.mark.timeout(120)
async def test_frozen_peer_is_noticed_by_silence_and_the_call_resumes() -> None:
    """SIGSTOP: the peer's sockets stay open, nothing says goodbye -- only silence tells."""
    async with relay_running() as relay, call_pair(relay.url, new_room_code()) as (a, b):
        await connected(a, b)
        assert b.session.peer is not None
        mark = a.log.mark()
        frozen_at = time.monotonic()
        b.session.peer.kill(signal.SIGSTOP)
        try:
            await a.log.wait_for(
                lambda: any(e["state"] == "peer_lost" for e in a.log.since(mark, "status")),
                5,
                "alice reports peer_lost",
            )
            noticed = time.monotonic() - frozen_at
            assert 2.0 < noticed < 3.5, noticed  # by the 2.5 s silence rule, not by consent
        finally:
            b.session.peer.kill(signal.SIGCONT)
        await a.log.wait_for(
            lambda: any(e["state"] == "connected" for e in a.log.since(mark, "status")),
            30,
            "alice connected again",
        )
        resumed = a.stats()["frames_received"]
        await a.log.wait_for(
            lambda: a.stats()["frames_received"] > resumed + 30, 15, "frames after resuming"
        )
        assert b.session.peer.restarts == 0 and b.session.state == "connected"


@pytest.mark.timeout(120)
async def test_render_window_measures_capture_to_present(xvfb_display: str) -> None:
    """With a real render window (Xvfb + Mesa), the window measures capture -> present itself:
    the networking process writes each frame's capture time, mapped onto this host's clock,
    into the remote ring, and the window reports the latency in its own ``stats``."""

    def render_latency() -> dict[str, Any] | None:
        # A few reports in, so the window's and the peer's recent windows hold the same frames.
        ready = [e for e in b.log.of("stats", "render") if e.get("e2e_present_ms")]
        return ready[-1] if len(ready) >= 3 else None

    async with (
        relay_running() as relay,
        call_pair(
            relay.url,
            new_room_code(),
            env={"DISPLAY": xvfb_display},
            per_side=({}, {"window": True}),
        ) as (a, b),
    ):
        await connected(a, b, timeout=60)
        render = await b.log.wait_for(render_latency, 30, "capture -> present from the window")
        await b.log.wait_for(lambda: b.stats().get("e2e_ms"), 10, "capture -> receive")
        present, e2e = render["e2e_present_ms"], b.stats()["e2e_ms"]
        assert present["p50"] >= e2e["p50"]  # presenting comes after receiving
        assert present["p99"] < 1000.0
        assert render["ring_to_present_ms"]["p50"] <= present["p50"]
        assert not b.log.of("present", "render")  # no per-frame events through the parent
        assert "rx_ring_to_present" not in b.stats()["stages_ms"]
        # The render window was told which avatar the peer announced.
        assert b.session.render is not None and b.session.render.running
