"""Voice in real calls on loopback: a real relay, two real calls (tracker + networking
processes), real aiortc with the Opus track. Speech synthesised by espeak-ng is the microphone
(``--mic file:``) on one side and is recorded as played on the other (``--speaker file:``)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from websockets.asyncio.client import connect

from peer.voice.sources import SAMPLE_RATE, sounddevice_or_reason
from peer.voice.stats import dbfs
from protocol.commands import SetDeafen, SetMute
from protocol.signaling import Join, Offer, new_room_code

from .helpers import Side, call_pair, connected, relay_running
from .voice_helpers import espeak_wav, heard, load

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]


@pytest.fixture
def speech(tmp_path: Path) -> Path:
    wav = espeak_wav(tmp_path / "speech.wav")
    if wav is None:
        pytest.skip("espeak-ng is not installed (scripts/system-deps.sh installs it)")
    return wav


def voice(side: Side) -> dict[str, Any]:
    return dict(side.stats().get("voice") or {})


async def wait_packets(side: Side, count: int, timeout: float) -> None:
    await side.log.wait_for(
        lambda: voice(side).get("packets_received", 0) >= count, timeout, f"{count} voice packets"
    )


@pytest.mark.timeout(120)
async def test_speech_arrives_deafen_and_mute_give_silence(speech: Path, tmp_path: Path) -> None:
    rec = tmp_path / "heard.wav"
    async with (
        relay_running() as relay,
        call_pair(
            relay.url,
            new_room_code(),
            per_side=(
                {"mic": f"file:{speech}", "speaker": "none"},
                {"mic": "silence", "speaker": f"file:{rec}"},
            ),
        ) as (alice, bob),
    ):
        await connected(alice, bob, timeout=60)
        sent = load(speech)
        period_s = len(sent) / SAMPLE_RATE
        # Two loops of the sentence (plus the buffer's start) heard by bob.
        await wait_packets(bob, int(2.2 * period_s * 50), 40)
        vb, va = voice(bob), voice(alice)
        assert va["agreed"] and vb["agreed"]
        assert va["sdp"]["local"].count("audio") == 1 and "video" not in va["sdp"]["remote"]
        # Deafened: bob plays silence but still decodes (the peer's speaking indicator lives).
        deaf_at = time.monotonic_ns()
        mark = bob.log.mark()
        assert bob.session.send("peer", SetDeafen(deafened=True))
        await bob.log.wait_for(
            lambda: any(
                e["voice"]["deafened"] and e["voice"]["peer_speaking"]
                for e in bob.log.since(mark, "stats")
            ),
            10,
            "bob deafened, alice still heard speaking",
        )
        await bob.log.wait_for(lambda: len(bob.log.since(mark, "stats")) >= 2, 10, "2 s deaf")
        undeaf_at = time.monotonic_ns()
        mark = bob.log.mark()
        assert bob.session.send("peer", SetDeafen(deafened=False))
        await bob.log.wait_for(lambda: len(bob.log.since(mark, "stats")) >= 2, 10, "2 s hearing")
        muted_at = time.monotonic_ns()
        assert alice.session.send("peer", SetMute(muted=True))
        await alice.log.wait_for(lambda: voice(alice).get("muted"), 5, "alice muted")
        start = bob.log.mark()
        await bob.log.wait_for(lambda: len(bob.log.since(start, "stats")) >= 3, 10, "3 s muted")
        mic_epoch, spk_start = va["mic_epoch_ns"], vb["speaker_start_ns"]
        # What bob reported as the audio path's delay while he heard the speech (the figure
        # the render window delays the avatar by for lip sync).
        reported = [
            e["voice"]["audio_delay_ms"]
            for e in bob.log.of("stats")
            if e["voice"].get("audio_delay_ms") and e["t"] * 1e9 < deaf_at
        ]
    recorded = load(rec)  # closed by bob's peer on exit
    got = heard(sent, mic_epoch, recorded, spk_start, until_s=(deaf_at - spk_start) / 1e9)
    print(
        f"clean: median window correlation {got.correlation:.3f} over {len(got.lags_s)} windows,"
        f" mouth-to-ear p50 {got.delay_ms(50):.0f} ms p95 {got.delay_ms(95):.0f} ms"
    )
    # A lossless Opus round trip of espeak speech correlates > 0.9 per window; 0.7 leaves room
    # for a concealed or skipped frame inside a window, while noise or the wrong place scores
    # < 0.3 (test_recording_helpers_find_a_known_delay).
    assert len(got.lags_s) >= 8 and got.correlation > 0.7, got
    # At least the 20 ms of packetisation; and what bob reports (packetisation + rtt/2 + its
    # buffer's wait) is the measured delay within 40 ms. The delay itself depends on the
    # jitter the buffer measured (a loaded machine delays packets too), so it is not bounded
    # here: bench_voice.py measures it on a quiet machine.
    assert got.delay_ms(50) > 20, got
    assert reported and abs(float(np.median(reported)) - got.delay_ms(50)) < 40, (reported, got)
    # Muted: once what was already on its way has played (the buffer and playout drain: 0.5 s,
    # or the longest delay measured plus a margin on a loaded machine, where the jitter buffer
    # grows to hundreds of ms) bob hears digital silence.
    drain_s = max(0.5, max(got.lags_s) + 0.25)
    muted_from = int(((muted_at - spk_start) / 1e9 + drain_s) * SAMPLE_RATE)
    tail = recorded[muted_from:]
    assert len(tail) > SAMPLE_RATE, len(tail)
    assert dbfs(tail) < -55, dbfs(tail)
    assert dbfs(recorded[muted_from - 2 * SAMPLE_RATE : muted_from - SAMPLE_RATE]) > -40

    def at(t_ns: int, after_s: float) -> int:
        return int(((t_ns - spk_start) / 1e9 + after_s) * SAMPLE_RATE)

    deaf = recorded[at(deaf_at, 0.3) : at(undeaf_at, 0.0)]
    assert len(deaf) > SAMPLE_RATE and dbfs(deaf) < -55, dbfs(deaf)
    assert dbfs(recorded[at(undeaf_at, 0.3) : at(muted_at, 0.0)]) > -40


@pytest.mark.timeout(120)
@pytest.mark.parametrize("no_voice", ["alice", "bob"])
async def test_no_voice_side_connects_without_audio(no_voice: str, tmp_path: Path) -> None:
    """A no-voice offer has no m=audio; a no-voice answer to a voice offer mirrors the audio
    section as inactive (which side offers depends on the join order; both are run). Either
    way both sides connect, frames flow, and no audio is agreed."""
    sides = {"alice": 0, "bob": 1}
    per_side: list[dict[str, Any]] = [{"mic": "silence", "speaker": "none"} for _ in range(2)]
    per_side[sides[no_voice]] = {"voice": False}
    async with (
        relay_running() as relay,
        call_pair(relay.url, new_room_code(), per_side=(per_side[0], per_side[1])) as (a, b),
    ):
        await connected(a, b, timeout=60)
        await a.log.wait_for(lambda: "sdp" in voice(a) and "sdp" in voice(b), 10, "sections")
        off, on = (a, b) if no_voice == "alice" else (b, a)
        assert voice(off)["on"] is False and voice(on)["on"] is True
        assert voice(on)["agreed"] is False
        off_sdp, on_sdp = voice(off)["sdp"], voice(on)["sdp"]
        assert on_sdp["remote"] == off_sdp["local"] and off_sdp["remote"] == on_sdp["local"]
        if "audio" in on_sdp["local"]:  # the voice side offered: the answer mirrors, inactive
            assert off_sdp["local"] == on_sdp["local"] == ["audio", "application"]
        else:  # the no-voice side offered: no m=audio anywhere
            assert off_sdp["local"] == on_sdp["local"] == ["application"]
        assert "video" not in voice(off)["sdp"]["local"] + voice(on)["sdp"]["local"]


@pytest.mark.timeout(90)
async def test_an_offer_with_video_is_refused() -> None:
    """A peer offering video gets no answer and an error naming why; the victim lives on."""
    room = new_room_code()
    async with (
        relay_running() as relay,
        call_pair(relay.url, room) as (alice, bob),
    ):
        await bob.session.close()
        await alice.log.wait_for(lambda: alice.session.state == "waiting", 15, "alice alone")
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.createDataChannel("params", negotiated=True, id=0)
        pc.addTransceiver("video")
        mark = alice.log.mark()
        try:
            async with connect(f"{relay.url}/ws?room={room}", compression=None) as ws:
                await ws.send(Join(room=room).to_json())
                joined = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert joined.get("peer_present"), joined
                await pc.setLocalDescription(await pc.createOffer())
                assert "m=video" in pc.localDescription.sdp
                await ws.send(Offer(sdp=pc.localDescription.sdp, gen=5).to_json())
                errors = await alice.log.wait_for(
                    lambda: [e for e in alice.log.since(mark, "error") if "video" in e["message"]],
                    15,
                    "the video offer refused",
                )
                assert "never sends or receives video" in errors[0]["message"]
                # No answer came back and alice is still alive, not connected to it.
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(1.0):
                        while True:
                            if json.loads(await ws.recv()).get("type") == "answer":
                                break
                assert alice.session.state != "connected"
                assert not alice.session.closed

                # Defaults (the default microphone and speaker) on a machine without sound:
                # said once, the call goes on silent.
                def silent() -> list[dict[str, Any]]:
                    return [
                        e
                        for e in alice.log.of("status")
                        if "voice runs silent" in (e.get("message") or "")
                    ]

                if sounddevice_or_reason()[0] is None:  # no sound system here (CI)
                    await alice.log.wait_for(silent, 15, "the no-sound note")
                    await alice.log.wait_for(lambda: "voice" in alice.stats(), 5, "stats")
                    assert len(silent()) == 1, alice.log.of("status")
                    assert voice(alice)["mic"].startswith("none (")
        finally:
            await pc.close()


@pytest.mark.timeout(120)
async def test_the_sample_clip_is_camera_and_microphone(tmp_path: Path) -> None:
    """``--source sample --mic clip``: the clip's own speech is what the other side hears."""
    rec = tmp_path / "heard.wav"
    async with (
        relay_running() as relay,
        call_pair(
            relay.url,
            new_room_code(),
            sources=("sample", "synthetic"),
            per_side=(
                {"mic": "clip", "speaker": "none"},
                {"mic": "silence", "speaker": f"file:{rec}"},
            ),
        ) as (alice, bob),
    ):
        await connected(alice, bob, timeout=60)
        assert voice(alice)["mic"].startswith("clip ")
        await wait_packets(bob, 250, 40)
    heard_pcm = load(rec)
    assert dbfs(heard_pcm[-4 * SAMPLE_RATE :]) > -45  # the clip's talking, not silence
