"""Voice pieces on their own: the SDP rules, the adaptive playout buffer on simulated arrival
times (real Opus packets, explicit clocks: no sleeping), sources and sinks."""

from __future__ import annotations

import asyncio
import fractions
import time
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from peer.connection import check_sdp
from peer.errors import NegotiationError
from peer.voice.playout import MAX_TARGET_MS, MIN_TARGET_MS, PlayoutBuffer
from peer.voice.sinks import Sink, WavSink, open_sink
from peer.voice.sources import (
    BLOCK,
    BLOCK_MS,
    PCM,
    SAMPLE_RATE,
    Block,
    MicSource,
    PacedSource,
    VoiceSourceError,
    open_source,
    read_clip_audio,
    read_wav,
    silence,
)
from peer.voice.stats import Vad, level
from protocol.events import VoiceLevel

from .voice_helpers import best_match, heard

SDP_DC = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
SDP_AUDIO = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
SDP_VIDEO = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
SAMPLE_CLIP = Path(__file__).resolve().parents[2] / "tracking" / "samples" / "d10.mp4"
MS = 1_000_000


def test_sdp_rules() -> None:
    check_sdp(SDP_DC)
    check_sdp(SDP_AUDIO + SDP_DC, audio=True)
    with pytest.raises(NegotiationError, match="only one m=application"):
        check_sdp(SDP_AUDIO + SDP_DC)  # voice off: no audio of ours
    with pytest.raises(NegotiationError, match="never sends or receives video"):
        check_sdp(SDP_DC + SDP_VIDEO, audio=True)
    with pytest.raises(NegotiationError, match="at most one m=audio"):
        check_sdp(SDP_AUDIO + SDP_AUDIO + SDP_DC, audio=True)
    with pytest.raises(NegotiationError):
        check_sdp(SDP_AUDIO, audio=True)  # no DataChannels at all


def _tone(seconds: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * freq * t) * 8000 * (1 + np.sin(2 * np.pi * 3 * t)) / 2).astype(
        np.int16
    )


def _opus_packets(pcm: np.ndarray) -> list[bytes]:
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = SAMPLE_RATE
    codec.layout = "mono"
    codec.format = "s16"
    codec.bit_rate = 32000
    codec.time_base = fractions.Fraction(1, SAMPLE_RATE)
    out: list[bytes] = []
    for i in range(0, len(pcm) - BLOCK + 1, BLOCK):
        frame = av.AudioFrame.from_ndarray(pcm[i : i + BLOCK].reshape(1, -1), "s16", "mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = i
        out += [bytes(p) for p in codec.encode(frame)]
    return out


def _run(
    packets: list[bytes],
    delays_ms: list[float],
    lost: frozenset[int] = frozenset(),
    phase_ms: float = 7.0,
) -> PlayoutBuffer:
    """Packet i sent at i*20 ms, arriving after delays_ms[i]; pulls every 20 ms until every
    packet was played, concealed as lost or skipped."""
    buf = PlayoutBuffer()
    arrivals = sorted(
        (i * 20 * MS + int(delays_ms[i] * MS), i) for i in range(len(packets)) if i not in lost
    )
    ts0 = 4_294_966_000  # wraps during the run: unwrapping is exercised
    k = 0
    t = int(phase_ms * MS)
    end = len(packets) * 20 * MS + 500 * MS
    while t < end and buf.played + buf.lost + buf.skipped < len(packets):
        while k < len(arrivals) and arrivals[k][0] <= t:
            arrival, i = arrivals[k]
            buf.push((ts0 + i * BLOCK) & 0xFFFFFFFF, packets[i], arrival)
            k += 1
        buf.pull(t)
        t += 20 * MS
    return buf


def test_clean_path_plays_everything_with_a_small_buffer() -> None:
    packets = _opus_packets(_tone(3.0))
    buf = _run(packets, [1.0] * len(packets))
    assert buf.lost == 0 and buf.underruns == 0 and buf.late == 0
    # Everything played, except pauses dropped while the start-up depth was shed.
    assert buf.played + buf.skipped == len(packets) and buf.skipped <= 3
    assert buf.target_ms <= MIN_TARGET_MS + 10
    assert buf.wait_ms < 30  # one frame and the tick phase


def test_jitter_grows_the_buffer_and_playout_keeps_up() -> None:
    rng = np.random.default_rng(3)
    packets = _opus_packets(_tone(4.0))
    delays = list(40 + rng.uniform(-10, 10, len(packets)))
    buf = _run(packets, delays)
    assert 35 <= buf.target_ms <= 60, buf.target_ms
    assert buf.lost == 0
    # After the estimate settles, late packets are rare: a few underruns at the start at most.
    assert buf.underruns + buf.late <= 6, (buf.underruns, buf.late)
    assert buf.played >= len(packets) - 6


def test_loss_is_concealed_and_does_not_add_delay() -> None:
    packets = _opus_packets(_tone(4.0))
    lost = frozenset(range(10, len(packets), 20))  # 5%, one in twenty
    buf = _run(packets, [1.0] * len(packets), lost)
    assert buf.lost == len(lost)
    assert 4.0 <= buf.loss_pct() <= 6.0
    assert buf.concealed >= len(lost) - 1
    assert buf.wait_ms < 30  # a loss is concealed at once, not waited for


def test_loss_under_jitter_is_concealed_without_waiting() -> None:
    """5% loss on a 40 +- 10 ms path (the impaired target's network): a lost packet is
    concealed once it is later than 95% of packets arrive, not waited for a tick longer, so
    the delay stays what the jitter alone needs (waiting added 20 ms per loss until a pause
    shed it: p95 +20 ms on this run)."""
    rng = np.random.default_rng(3)
    packets = _opus_packets(_tone(8.0))
    delays = list(40 + rng.uniform(-10, 10, len(packets)))
    lost = frozenset(int(i) for i in np.flatnonzero(rng.random(len(packets)) < 0.05))
    assert len(lost) >= 10

    def delays_after(buf_lost: frozenset[int]) -> tuple[PlayoutBuffer, list[float]]:
        played_delay: list[float] = []
        buf = PlayoutBuffer()
        arrivals = sorted(
            (i * 20 * MS + int(delays[i] * MS), i) for i in range(len(packets)) if i not in buf_lost
        )
        k, t = 0, 7 * MS
        while t < len(packets) * 20 * MS:
            while k < len(arrivals) and arrivals[k][0] <= t:
                buf.push(1000 + arrivals[k][1] * BLOCK, packets[arrivals[k][1]], arrivals[k][0])
                k += 1
            buf.pull(t)
            if buf.cursor is not None and t > 2000 * MS:  # index of the block just played
                played_delay.append(t / MS - ((buf.cursor - 1000) / BLOCK - 1) * 20)
            t += 20 * MS
        return buf, played_delay

    _, clean_delays = delays_after(frozenset())
    lossy, lossy_delays = delays_after(lost)
    assert lossy.lost >= len(lost) - 2 and lossy.underruns <= 2, (lossy.lost, lossy.underruns)
    assert np.percentile(lossy_delays, 95) <= np.percentile(clean_delays, 95) + 5


def test_a_deep_buffer_shrinks() -> None:
    """Delay that drops from 120 ms to 1 ms leaves 120 ms queued; packets are skipped."""
    packets = _opus_packets(_tone(5.0))
    delays = [120.0] * 50 + [1.0] * (len(packets) - 50)
    buf = _run(packets, delays)
    assert buf.skipped >= 3
    assert buf.level_ms() <= buf.target_ms + 40


def test_concealment_repeats_then_fades_to_silence() -> None:
    packets = _opus_packets(_tone(1.0))
    buf = PlayoutBuffer()
    for i in range(10):
        buf.push(i * BLOCK, packets[i], i * 20 * MS)
    out = [buf.pull(i * 20 * MS + 30 * MS) for i in range(16)]
    played = [o for o in out if o is not None]
    assert len(played) >= 14
    tail = played[-4:]  # nothing more arrived: concealment, decaying, then silence
    assert np.abs(tail[-1]).max() == 0
    assert buf.underruns >= 4


def test_wav_source_loops_and_once_ends_in_silence(tmp_path: Path) -> None:
    path = tmp_path / "s.wav"
    pcm = (np.arange(3 * BLOCK // 2) % 1000).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(np.repeat(pcm, 2).tobytes())
    assert np.array_equal(read_wav(str(path)), pcm)  # stereo averaged back to mono

    async def blocks(spec: str) -> list[np.ndarray]:
        source, reason = open_source(spec)
        assert reason is None and isinstance(source, PacedSource)
        source.epoch_ns = time.monotonic_ns() - 200 * MS  # already due: no waiting
        return [(await source.next_block()).pcm for _ in range(3)]

    looped = np.concatenate(asyncio.run(blocks(f"file:{path}")))
    assert np.array_equal(looped[: len(pcm)], pcm) and np.array_equal(looped[len(pcm) :], pcm)
    once = np.concatenate(asyncio.run(blocks(f"file:{path},once")))
    assert np.array_equal(once[: len(pcm)], pcm) and not once[len(pcm) :].any()


def test_bad_source_specs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(VoiceSourceError, match="cannot read the WAV"):
        open_source(f"file:{tmp_path}/missing.wav")
    with pytest.raises(VoiceSourceError, match="needs --clip"):
        open_source("clip")
    with pytest.raises(VoiceSourceError, match="unknown option"):
        open_source(f"file:{tmp_path}/x.wav,backwards")


def test_paced_source_stamps_blocks_on_its_epoch() -> None:
    async def run() -> list[int]:
        source = PacedSource(np.zeros(0, np.int16), loop=False, description="silence")
        source.epoch_ns = time.monotonic_ns() - 100 * MS  # a short stall: caught up block by block
        return [(await source.next_block()).capture_ns - source.epoch_ns for _ in range(3)]

    assert asyncio.run(run()) == [20 * MS, 40 * MS, 60 * MS]


def test_paced_source_far_behind_its_timeline_skips_ahead() -> None:
    """A clip source started after the shared epoch (the call's other child got there first)
    joins the timeline where it is now instead of bursting the missed seconds, and every block
    still carries the samples of its own instant."""
    ramp = np.arange(48_000 * 3, dtype=np.int64).astype(np.int16)  # sample n holds n (mod 2**16)

    async def run() -> tuple[PacedSource, list[tuple[int, int]]]:
        source = PacedSource(ramp, loop=True, description="ramp")
        source.epoch_ns = time.monotonic_ns() - 10**9
        out = []
        for _ in range(3):
            block = await source.next_block()
            out.append((block.capture_ns - source.epoch_ns, int(block.pcm[0])))
        return source, out

    source, blocks = asyncio.run(run())
    assert 45 <= source.blocks_skipped <= 60
    first_ns = blocks[0][0]
    assert 1000 * MS - 40 * MS <= first_ns <= 1000 * MS + 200 * MS
    for offset_ns, first_sample in blocks:
        # the block ending at epoch + offset starts 20 ms earlier on the timeline
        n = (offset_ns - 20 * MS) * SAMPLE_RATE // 10**9
        assert first_sample == ramp[n % len(ramp)], (offset_ns, first_sample)
    assert [b[0] - first_ns for b in blocks] == [0, 20 * MS, 40 * MS]


def test_clip_audio_loops_with_the_video_duration() -> None:
    samples, duration = read_clip_audio(str(SAMPLE_CLIP))
    assert 14.0 < duration < 15.5  # 448 frames at 30 fps
    assert len(samples) == round(duration * SAMPLE_RATE)
    assert level(samples) > 0.3  # it has speech


def test_no_sound_system_runs_silent_and_says_why() -> None:
    source, reason = open_source("default")
    sink, sink_reason = open_sink("default")
    if reason is None:
        pytest.skip("this machine has a sound device")
    assert "sound" in reason and source.description == "none"
    assert type(sink) is Sink and sink_reason


def test_wav_sink_writes_48k_mono(tmp_path: Path) -> None:
    sink = WavSink(str(tmp_path / "out.wav"))
    block = (np.arange(BLOCK) % 100).astype(np.int16)
    sink.write(block, 5)
    sink.write(block, 20 * MS + 5)
    sink.close()
    assert sink.start_ns == 5
    with wave.open(str(tmp_path / "out.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        assert w.getnframes() == 2 * BLOCK


class _Blocks(MicSource):
    """A microphone that has these blocks ready at once, then nothing more (a test source:
    the capture loop under test is the real one)."""

    def __init__(self, blocks: list[PCM]) -> None:
        self.blocks = list(blocks)
        self.done = asyncio.Event()

    async def next_block(self) -> Block:
        if not self.blocks:
            self.done.set()
            await asyncio.Event().wait()
        return Block(self.blocks.pop(0), 0)


def test_the_level_meter_repeats_itself_only_twice_a_second() -> None:
    """A changing level goes out every 5 blocks (10 Hz); the same level, speaking flags
    included, only every 25 (0.5 s: a front-end takes a second without one as silence)."""
    from peer.options import PeerOptions
    from peer.voice import Voice
    from peer.voice.engine import LEVEL_EVERY, LEVEL_REPEAT_EVERY

    tone = (8000 * np.sin(np.arange(BLOCK) * 2 * np.pi * 200 / SAMPLE_RATE)).astype(np.int16)
    ramp = [(tone * (0.1 + 0.9 * k / 50)).astype(np.int16) for k in range(50)]  # level rising
    blocks = ramp + [silence()] * 200
    opts = PeerOptions(relay="ws://x", room="r", local_ring="a", remote_ring="b")
    sent: list[tuple[int, VoiceLevel]] = []
    voice = Voice(opts, emit=lambda e: sent.append((voice._blocks, e)), say=lambda _s: None)
    source = voice.source = _Blocks(blocks)

    async def run() -> None:
        task = asyncio.create_task(voice.capture_loop())
        await source.done.wait()
        task.cancel()

    asyncio.run(run())
    at = [n for n, _ in sent]
    rising = [n for n in at if n <= 50]
    assert rising == list(range(LEVEL_EVERY, 51, LEVEL_EVERY))  # every level differs: 10 Hz
    gaps = np.diff(at)
    assert gaps.max() == LEVEL_REPEAT_EVERY  # repeats, never longer apart
    assert len(sent) < 50 // LEVEL_EVERY + 200 // LEVEL_REPEAT_EVERY + 4  # not 50 events
    quiet = [e for n, e in sent if n > 120]  # after the VAD's hangover: all the same
    assert quiet and all(e == VoiceLevel() for e in quiet)


def test_playout_ticks_fall_on_the_paced_microphones_instants() -> None:
    """One wake-up per 20 ms for both loops: the playout clock shares the capture clock's
    phase (the epoch here is deliberately 7 ms off the start)."""
    from peer.options import PeerOptions
    from peer.voice import Voice

    opts = PeerOptions(relay="ws://x", room="r", local_ring="a", remote_ring="b")
    voice = Voice(opts, emit=lambda _e: None, say=lambda _s: None)
    epoch = time.monotonic_ns() - 7_000_000
    voice.source = PacedSource(silence(BLOCK * 50), loop=True, epoch_ns=epoch, description="t")
    ticks: list[int] = []
    voice.hooks.on_far_audio.append(lambda _pcm, due: ticks.append(due))

    async def run() -> None:
        task = asyncio.create_task(voice.playout_loop())
        while len(ticks) < 3:
            await asyncio.sleep(0.02)
        task.cancel()

    asyncio.run(run())
    assert [(t - epoch) % (BLOCK_MS * 1_000_000) for t in ticks] == [0] * len(ticks)


def test_vad_has_a_hangover() -> None:
    vad = Vad()
    loud = (np.sin(np.arange(BLOCK) / 5) * 5000).astype(np.int16)
    quiet = np.zeros(BLOCK, np.int16)
    assert vad.update(loud)
    assert all(vad.update(quiet) for _ in range(14))  # 280 ms of hangover
    assert not any(vad.update(quiet) for _ in range(2))
    assert level(quiet) == 0.0 and 0.6 < level(loud) < 1.0


def test_recording_helpers_find_a_known_delay() -> None:
    """The correlation used above finds a delay it was given (and nothing in noise)."""
    rng = np.random.default_rng(1)
    sent = (rng.standard_normal(SAMPLE_RATE) * 3000).astype(np.int16)
    recorded = np.concatenate([np.zeros(4800, np.int16), sent, np.zeros(2400, np.int16)])
    match = best_match(sent, recorded)
    assert match.correlation > 0.99 and abs(match.lag_s - 0.1) < 0.001
    noise = (rng.standard_normal(3 * SAMPLE_RATE) * 3000).astype(np.int16)
    assert best_match(sent, noise).correlation < 0.2
    # heard(): the same known delay on the shared timeline, per window
    loop = np.tile(sent, 3)
    recorded = np.concatenate([np.zeros(4800, np.int16), loop])[: len(loop)]
    got = heard(sent, 0, recorded, 0)
    assert got.lags_s and all(abs(lag - 0.1) < 0.001 for lag in got.lags_s)
    assert got.correlation > 0.99
    assert heard(sent, 0, noise, 0).correlation < 0.3


def test_speech_in_the_wrong_place_scores_low(tmp_path: Path) -> None:
    """Speech heard 1.3 s late (outside the 0.5 s searched) is unrelated speech to heard():
    the bound the impaired test relies on."""
    from .voice_helpers import espeak_wav

    wav = espeak_wav(tmp_path / "s.wav")
    if wav is None:
        pytest.skip("espeak-ng is not installed")
    speech = read_wav(str(wav))
    loop = np.tile(speech, 3)
    shift = int(1.3 * SAMPLE_RATE)
    late = np.concatenate([np.zeros(shift, np.int16), loop])[: len(loop)]
    on_time = heard(speech, 0, loop, 0)
    wrong = heard(speech, 0, late, 0)
    assert on_time.correlation > 0.99
    assert wrong.correlation < 0.3, wrong.correlation


def test_mono_encoder_round_trips_through_the_playout_decoder() -> None:
    from peer.voice.track import MonoOpusEncoder

    enc = MonoOpusEncoder()
    tone = _tone(0.5)
    buf = PlayoutBuffer()
    payloads: list[bytes] = []
    for i in range(0, len(tone) - BLOCK + 1, BLOCK):
        payloads += [bytes(p) for p in enc.packets(tone[i : i + BLOCK], i // BLOCK)]
    assert len(payloads) >= 20 and np.mean([len(p) for p in payloads]) < 250  # 64 kbit/s: 160 B
    decoded = [buf.decoder.decode(p) for p in payloads]
    assert all(d is not None and len(d) == BLOCK for d in decoded)


def _speech_with_pauses() -> list[PCM]:
    """Blocks of a 300 Hz-ish voiced sound (harmonics, changing) cut by digital silence."""
    rng = np.random.default_rng(7)
    t = np.arange(BLOCK * 30) / SAMPLE_RATE
    blocks: list[PCM] = []
    for k in range(6):
        f0 = 120.0 + 30.0 * k
        voiced = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 8))
        pcm = (6000 * voiced * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.int16)
        blocks += [pcm[i : i + BLOCK] for i in range(0, len(pcm), BLOCK)]
        blocks += [silence()] * int(rng.integers(3, 30))
    return blocks


def _pcm(block: PCM | None) -> PCM:
    assert block is not None
    return block


def test_digital_silence_reuses_the_encoders_silence_frame_and_skips_decoding() -> None:
    """A muted (or absent) microphone: after the encoder settled on its silence frame, zero
    blocks are answered with those bytes without the encoder, and the receiver answers them
    without the decoder; still one packet per block, and what is heard is the same sound."""
    from peer.voice.playout import OpusDecoder
    from peer.voice.track import MonoOpusEncoder

    blocks = _speech_with_pauses()
    enc, plain = MonoOpusEncoder(), MonoOpusEncoder()
    plain.SILENCE_SETTLE = 10**9  # never takes the shortcut: the reference
    ours = [[bytes(p) for p in enc.packets(b, i)] for i, b in enumerate(blocks)]
    ref = [[bytes(p) for p in plain.packets(b, i)] for i, b in enumerate(blocks)]
    assert all(len(p) == 1 for p in ours)  # one packet per block, gaps or not
    assert enc.silence_reused > 20 and plain.silence_reused == 0  # pauses of 3..29 blocks
    assert enc.encoded + enc.silence_reused == len(blocks)
    settled = {p[0] for p, b in zip(ours, blocks, strict=True) if not b.any() and len(p[0]) < 8}
    assert len(settled) == 1  # the one silence frame, reused

    dec, every = OpusDecoder(), OpusDecoder()
    played = [_pcm(dec.decode(p[0])) for p in ours]
    assert dec.silence_reused > 0
    # Skipping the decoder changes nothing: bit-identical to decoding every packet.
    full = [_pcm(every._decode(p[0])) for p in ours]
    assert all(np.array_equal(a, b) for a, b in zip(played, full, strict=True))
    # The skipped encodes give a different but equally faithful stream.
    original = np.concatenate(blocks).astype(np.float64)
    reference = OpusDecoder()
    for stream in (played, [_pcm(reference._decode(p[0])) for p in ref]):
        got = np.concatenate(stream).astype(np.float64)[120:]  # CELT's 2.5 ms delay
        want = original[: len(got)]
        corr = float(np.dot(got, want) / np.sqrt(np.dot(got, got) * np.dot(want, want)))
        assert corr > 0.99, corr


def test_excess_delay_is_shed_in_pauses() -> None:
    """Speech with pauses (200 ms on, 200 ms off) after the path's delay fell by 150 ms: the
    pauses are cut (not the words) and the buffer is back near its target within 3 s: the 2 s
    jitter window still holds the old, slower packets (a step looks like jitter until it has
    passed), then a second of pauses sheds the rest."""
    tone = _tone(6.0)
    gate = (np.arange(len(tone)) // (SAMPLE_RATE // 5)) % 2 == 0
    packets = _opus_packets(np.where(gate, tone, 0).astype(np.int16))
    change = 100  # packet index (2 s) where the delay drops
    delays = [151.0] * change + [1.0] * (len(packets) - change)
    buf = PlayoutBuffer()
    ts0 = 1000
    arrivals = sorted((i * 20 * MS + int(delays[i] * MS), i) for i in range(len(packets)))
    k, t, levels = 0, 3 * MS, []
    while buf.played + buf.skipped + buf.lost < len(packets) and t < 10**10:
        while k < len(arrivals) and arrivals[k][0] <= t:
            buf.push(ts0 + arrivals[k][1] * BLOCK, packets[arrivals[k][1]], arrivals[k][0])
            k += 1
        buf.pull(t)
        levels.append((t, buf.level_ms(), buf.target_ms))
        t += 20 * MS
    settled = [lv - tg for tt, lv, tg in levels if tt > (change * 20 + 3000) * MS and lv]
    assert settled and max(settled) <= 45, max(settled)
    assert buf.skipped >= 5


def test_blocks_dropped_before_sending_leave_a_timestamp_gap() -> None:
    """A sender that fell behind drops the oldest blocks; the RTP timestamps of what it sends
    still follow capture time (so the receiver sees loss, not a slower clock)."""
    from peer.voice.track import MAX_QUEUED, MicTrack, OpusPacker

    async def run() -> list[int]:
        track = MicTrack()
        packer = OpusPacker()  # what aiortc's sender sends them with (install_encoder)
        track.feed(np.zeros(BLOCK, np.int16))  # block 0
        stamps = [packer.pack(await track.recv())[1]]
        for _ in range(MAX_QUEUED + 2):  # blocks 1 .. MAX_QUEUED+2: 1 and 2 are dropped
            track.feed(np.zeros(BLOCK, np.int16))
        for _ in range(MAX_QUEUED):
            stamps.append(packer.pack(await track.recv())[1])
        return stamps

    assert asyncio.run(run()) == [0] + [i * BLOCK for i in range(3, MAX_QUEUED + 3)]


def test_the_sender_waiting_for_a_block_gets_it_when_it_is_fed() -> None:
    from peer.voice.track import MicTrack, OpusPacker

    async def run() -> list[int]:
        track, packer = MicTrack(), OpusPacker()
        waiting = asyncio.ensure_future(track.recv())  # aiortc's sender, ahead of capture
        await asyncio.sleep(0)
        assert not waiting.done()
        track.feed(np.zeros(BLOCK, np.int16))
        first = packer.pack(await waiting)[1]
        nxt = asyncio.ensure_future(track.recv())
        track.feed(np.zeros(BLOCK, np.int16))
        return [first, packer.pack(await nxt)[1]]

    assert asyncio.run(run()) == [0, BLOCK]


def _hold_run(
    pcm: np.ndarray, holds: dict[int, float]
) -> tuple[PlayoutBuffer, list[tuple[int, float, float]]]:
    """A clean 1 ms path; ``holds``: pull index -> lip-sync hold set then (ms). Returns the
    buffer and (pull, level, target) after each pull."""
    packets = _opus_packets(pcm)
    buf = PlayoutBuffer()
    levels: list[tuple[int, float, float]] = []
    for n in range(len(packets)):
        t = n * 20 * MS + 7 * MS
        buf.push(1000 + n * BLOCK, packets[n], n * 20 * MS + MS)
        if n in holds:
            buf.set_hold(holds[n])
        buf.pull(t)
        levels.append((n, buf.level_ms(), buf.target_ms))
    return buf, levels


def test_a_lip_sync_hold_is_grown_into_in_pauses_and_shed_when_lifted() -> None:
    """Speech with pauses (200 ms on, 200 ms off) on a clean path: a 100 ms hold set at 2 s
    is reached by silence inserted in the pauses (not by concealment in the words) within
    2 s; lifted at 6 s, the depth is shed again in pauses."""
    tone = _tone(10.0)
    gate = (np.arange(len(tone)) // (SAMPLE_RATE // 5)) % 2 == 0
    buf, levels = _hold_run(np.where(gate, tone, 0).astype(np.int16), {100: 100.0, 300: 0.0})
    assert buf.jitter_target_ms <= MIN_TARGET_MS + 10  # the jitter part alone stays small
    held = [lv - tg for n, lv, tg in levels if 200 <= n < 300]
    assert max(held) <= 20 and min(held) >= -40, (min(held), max(held))
    assert 4 <= buf.stretched <= 7, buf.stretched  # 100 ms in 20 ms steps, one per pause
    assert buf.underruns == 0 and buf.lost == 0
    lifted = [lv for n, lv, _ in levels if n >= 400]
    assert max(lifted) <= MIN_TARGET_MS + 50, max(lifted)


def test_a_lip_sync_hold_in_speech_without_pauses_grows_a_frame_a_second() -> None:
    """A tone without pauses: nothing quiet to stretch, so one concealment block per
    second (GROW_SPEECH_PULLS) until the hold is reached; no hold, no growth at all."""
    t = np.arange(8 * SAMPLE_RATE) / SAMPLE_RATE
    steady = (np.sin(2 * np.pi * 220 * t) * 6000).astype(np.int16)
    buf, levels = _hold_run(steady, {50: 60.0})
    # 60 ms in 20 ms steps a second apart, until within a frame of the target.
    assert buf.stretched in (2, 3), buf.stretched
    assert buf.concealed == buf.stretched and buf.underruns == 0
    # Within a frame of the target (read after the pull took its block: one frame less).
    assert levels[-1][1] >= levels[-1][2] - 40
    assert next(n for n, lv, _ in levels if lv > 0) < 10  # no pause: the start is unchanged
    plain, _ = _hold_run(steady, {})
    assert plain.stretched == 0 and plain.hold_ms == 0.0


def test_a_hold_is_bounded() -> None:
    buf = PlayoutBuffer()
    buf.set_hold(1e6)
    assert buf.hold_ms == MAX_TARGET_MS
    buf.set_hold(-5)
    assert buf.hold_ms == 0.0 and buf.target_ms == buf.jitter_target_ms


def test_the_wait_is_counted_to_when_the_block_is_heard() -> None:
    """A starved playout loop pulls 100 ms late and catches up; its blocks are still heard at
    their slots (play_ns), so the audio delay it reports does not grow by the loop's lag."""
    packets = _opus_packets(_tone(2.0))
    late, on_time = PlayoutBuffer(), PlayoutBuffer()
    for n in range(len(packets)):
        arrival = n * 20 * MS + MS
        for buf in (late, on_time):
            buf.push(n * BLOCK, packets[n], arrival)
        slot = n * 20 * MS + 7 * MS
        on_time.pull(slot)
        late.pull(slot + 100 * MS, slot)
    assert abs(late.wait_ms - on_time.wait_ms) < 25.0, (late.wait_ms, on_time.wait_ms)
    assert on_time.wait_ms < 30
