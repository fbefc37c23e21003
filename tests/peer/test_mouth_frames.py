"""The voice mouth on the sending side (peer.voice.mouth_frames): frames without a face get
the voice's mouth and the VOICE_MOUTH flag, eased in and out; frames of our own when the
tracker sends none; sequence numbers stay increasing; muted lips do not move."""

from __future__ import annotations

import asyncio
import contextlib
import time

import numpy as np
import pytest

from netlab.speech import SpeechUnavailable, synthesize
from peer.clock import ClockSync
from peer.frames import FramePump
from peer.options import PeerOptions
from peer.stats import CallStats
from peer.voice import Voice
from peer.voice.mouth_frames import BLEND_S, VoiceMouth, peek_header
from protocol.blendshapes import BLENDSHAPE_INDEX, NUM_BLENDSHAPES
from protocol.frame import FrameFlags, ParamFrame
from protocol.ring import ShmRing

RATE = 48000
BLOCK = 960
START_NS = 10_000_000_000


class Clock:
    """Time that moves only when the test says (the blend ramps on the caller's clock)."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def fed_mouth(voice: Voice | None = None) -> tuple[VoiceMouth, Clock]:
    try:
        pcm = synthesize("Hello, can you see my mouth move?", voice="en-us").resampled(RATE)
    except SpeechUnavailable as e:
        pytest.skip(str(e))
    clock = Clock()
    mouth = VoiceMouth(voice, clock)
    for i in range(0, pcm.size - BLOCK + 1, BLOCK):
        mouth.on_mic_audio(pcm[i : i + BLOCK], START_NS + round(i / RATE * 1e9))
    return mouth, clock


def tracker_frame(seq: int, at_ns: int, flags: FrameFlags, jaw: float = 0.0) -> bytes:
    w = [0.0] * NUM_BLENDSHAPES
    w[BLENDSHAPE_INDEX["jawOpen"]] = jaw
    return ParamFrame.from_weights(seq, at_ns // 1000, w, flags=flags).encode()


def loudest_ns(mouth: VoiceMouth) -> int:
    return max(mouth.shapes, key=lambda s: s.weights["jawOpen"]).at_ns


def test_a_frame_without_a_face_gets_the_voices_mouth_eased_in() -> None:
    mouth, clock = fed_mouth()
    at = loudest_ns(mouth)
    want = mouth.shape_at(at)
    assert want is not None and want.weights["jawOpen"] > 0.4
    jaws = []
    for k in range(10):
        clock.t += BLEND_S / 5
        out = ParamFrame.decode(mouth.outgoing(tracker_frame(k, at, FrameFlags(0))))
        assert out.flags & FrameFlags.VOICE_MOUTH
        assert out.seq == k
        jaws.append(out.weight("jawOpen"))
    assert jaws[0] == pytest.approx(0.2 * want.weights["jawOpen"], abs=0.01)  # easing in
    assert jaws[-1] == pytest.approx(want.weights["jawOpen"], abs=0.01)
    assert jaws == sorted(jaws)


def test_the_tracked_face_wins_again_gradually_then_frames_pass_untouched() -> None:
    mouth, clock = fed_mouth()
    at = loudest_ns(mouth)
    clock.t += 1.0
    mouth.outgoing(tracker_frame(1, at, FrameFlags(0)))
    assert mouth.weight == 1.0
    clock.t += BLEND_S / 2
    half = ParamFrame.decode(mouth.outgoing(tracker_frame(2, at, FrameFlags.FACE_PRESENT, 0.1)))
    assert half.flags & FrameFlags.VOICE_MOUTH and half.flags & FrameFlags.FACE_PRESENT
    assert 0.1 < half.weight("jawOpen") < mouth.shapes[-1].weights["jawOpen"] + 0.5
    clock.t += BLEND_S
    raw = tracker_frame(3, at, FrameFlags.FACE_PRESENT, 0.1)
    assert mouth.outgoing(raw) == raw  # the face is back: exactly what the tracker sent


def test_paused_tracking_still_shows_the_voice() -> None:
    mouth, clock = fed_mouth()
    clock.t += 1.0
    out = ParamFrame.decode(
        mouth.outgoing(
            tracker_frame(1, loudest_ns(mouth), FrameFlags.PAUSED | FrameFlags.FACE_PRESENT)
        )
    )
    assert out.flags & FrameFlags.VOICE_MOUTH and out.weight("jawOpen") > 0.4


def test_own_frames_continue_the_numbering_and_the_tracker_is_shifted_past_them() -> None:
    mouth, _clock = fed_mouth()
    mouth.outgoing(tracker_frame(41, loudest_ns(mouth), FrameFlags.FACE_PRESENT))
    made = [mouth.own_frame(), mouth.own_frame()]
    own = [ParamFrame.decode(p) for p in made if p is not None]
    assert [f.seq for f in own] == [42, 43]
    assert all(f.flags == FrameFlags.VOICE_MOUTH for f in own)
    assert own[0].timestamp_us < own[1].timestamp_us
    # The tracker comes back with its own next number: it goes out after ours.
    back = ParamFrame.decode(mouth.outgoing(tracker_frame(42, START_NS, FrameFlags.FACE_PRESENT)))
    assert back.seq == 44
    later = ParamFrame.decode(mouth.outgoing(tracker_frame(43, START_NS, FrameFlags.FACE_PRESENT)))
    assert later.seq == 45


def test_muted_lips_do_not_move() -> None:
    voice = Voice(
        PeerOptions(relay="ws://x", room="r", local_ring="a", remote_ring="b", muted=True),
        emit=lambda _e: None,
        say=lambda _s: None,
    )
    mouth, clock = fed_mouth(voice)
    assert all(s.weights["jawOpen"] == 0.0 for s in mouth.shapes)
    assert mouth.own_frame() is None
    clock.t += 1.0
    raw = tracker_frame(1, START_NS, FrameFlags(0))
    assert mouth.outgoing(raw) == raw


def test_no_audio_yet_leaves_frames_alone() -> None:
    mouth = VoiceMouth(None, Clock())
    raw = tracker_frame(7, START_NS, FrameFlags(0))
    assert mouth.outgoing(raw) == raw
    assert mouth.own_frame() is None
    assert mouth.outgoing(b"\xff garbage") == b"\xff garbage"
    assert np.isfinite(mouth.weight)


def test_the_header_peek_reads_what_the_decoder_reads_or_nothing() -> None:
    """The shortcut for tracked frames (:func:`peek_header`) must agree with the full decoder
    on every frame our encoder writes, every integer width included, and give up (None: the
    caller decodes in full) on anything else."""
    widths = [0, 23, 24, 255, 256, 65_535, 65_536, 2**32 - 1]
    stamps = [0, 23, 24, 2**16, 2**32, 2**40, 2**63 - 1]
    for i, (seq, ts) in enumerate((s, t) for s in widths for t in stamps):
        flags = FrameFlags(i % 64)
        frame = ParamFrame.from_weights(seq, ts, [0.5] * NUM_BLENDSHAPES, flags=flags)
        wire = frame.encode()
        back = ParamFrame.decode(wire)
        assert peek_header(wire) == (back.seq, back.timestamp_us, int(back.flags))
    for junk in (b"", b"\xff garbage", bytes(20), b"\xa7\x00\x02" + bytes(20), wire[:5]):
        assert peek_header(junk) is None


def test_formants_are_analysed_only_while_someone_needs_the_voice_mouth() -> None:
    mouth, clock = fed_mouth()
    # Nothing sent yet without a face: the estimator tracked levels only.
    assert not mouth.estimator.formants
    assert all(s.vowel is None for s in mouth.shapes)
    mouth.outgoing(tracker_frame(1, START_NS, FrameFlags(0)))
    block = np.zeros(BLOCK, np.int16)
    mouth.on_mic_audio(block, START_NS + 10**10)
    assert mouth.estimator.formants
    clock.t += 5.0  # the face has been back for a while
    mouth.outgoing(tracker_frame(2, START_NS, FrameFlags.FACE_PRESENT))
    mouth.on_mic_audio(block, START_NS + 2 * 10**10)
    assert not mouth.estimator.formants


def test_a_silent_microphone_leaves_the_face_to_idle() -> None:
    # No sound device (a silence source) or a long pause: frames pass untouched, no own frames.
    clock = Clock()
    mouth = VoiceMouth(None, clock)
    for i in range(100):
        mouth.on_mic_audio(np.zeros(BLOCK, np.int16), START_NS + i * 20_000_000)
    clock.t += 1.0
    raw = tracker_frame(1, START_NS, FrameFlags(0))
    assert mouth.outgoing(raw) == raw
    assert mouth.own_frame() is None


@pytest.mark.asyncio
async def test_own_frames_flow_on_a_link_when_the_tracker_stops() -> None:
    mouth, _clock = fed_mouth()
    local, remote = ShmRing.create("local"), ShmRing.create("remote")
    reader, writer = local.reader(), remote.writer()
    pump = FramePump(reader, writer, CallStats(), ClockSync())
    sent: list[bytes] = []
    got = asyncio.Event()

    def send(payload: bytes) -> None:
        sent.append(payload)
        if len(sent) >= 5:
            got.set()

    task = asyncio.create_task(mouth.own_frames_loop(pump))
    try:
        # No link: nothing is made (no sequence number is spent either).
        await asyncio.sleep(0.15)
        assert not sent and mouth.own_frames == 0
        pump.attach(send, lambda: 0)
        # The tracker wrote frames until a second ago, then stopped (camera gone).
        pump.last_local_write = time.monotonic() - 1.0
        await asyncio.wait_for(got.wait(), 5)
        frames = [ParamFrame.decode(p) for p in sent]
        assert all(f.flags == FrameFlags.VOICE_MOUTH for f in frames)
        assert [f.seq for f in frames] == list(range(frames[0].seq, frames[0].seq + len(frames)))
        # The tracker is back: we stop at once.
        pump.last_local_write = time.monotonic() + 3600
        count = len(sent)
        await asyncio.sleep(0.15)
        assert len(sent) == count
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        reader.close()
        writer.close()
        local.close()
        remote.close()
