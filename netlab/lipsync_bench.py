"""Lip sync, voice mouth and echo cancellation figures for ``scripts/bench_voice.py``.

- :func:`lipsync`: the voice-driven mouth (peer.voice.mouth) on espeak-ng speech, scored
  against espeak-ng's phoneme timings (netlab.speech.score_lipsync): ``lipsync_open_acc``,
  ``lipsync_vowel_acc``, and its CPU (``mouth_cpu_pct``, % of one core).
- :func:`echo`: the echo canceller (peer.voice.aec) on far-end speech through synthetic echo
  paths (delayed 60/100/140 ms, low-passed, a reflection tail, attenuated):
  ``aec_erle_db`` (the worst of the paths, after one second of convergence), near-end speech
  kept in double talk, and its CPU.
- :func:`av_skew`: a real call with the render window (Xvfb when there is no display): A
  plays a clip with speech as camera and microphone (``--source CLIP --mic clip``), B shows A
  in its window and plays A's voice to a WAV. Per presented frame, the window compares the
  capture instant it shows with the playout time of the audio captured at that instant (the
  audio path's capture -> playout delay reported by B's networking process, routed by call/ as
  ``set_peer_delay``): ``av_skew_ms_p50/p95`` (absolute). As a check on that reported delay,
  the mouth-to-ear delay actually measured in B's recording is given beside it
  (``av_audio_measured_ms_p50``) with the window's video delay (``av_video_delay_ms_p50``).
  When the avatar's own path is the slower one, B's voice is held back for it (call.lipsync):
  the hold (``av_lipsync_hold_ms``, part of the audio delay) and the path the window reported
  (``av_video_path_ms``) are given too.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from call import Call, CallConfig, CallEvent, as_record
from protocol.commands import ResetStats
from protocol.signaling import new_room_code

from .speech import Phoneme, score_lipsync, synthesize

RATE = 48000
#: Sentences for the lip-sync score: all English vowels, bilabials, pauses.
LIPSYNC_TEXTS = (
    "The quick brown fox jumps over the lazy dog. My mother made a pie.",
    "Please call Stella. Ask her to bring these things with her from the store: six spoons "
    "of fresh snow peas, five thick slabs of blue cheese, and maybe a snack for her brother.",
    "Who knew the old boat would float? Eat a meal, then walk home. Father saw a cat on the bed.",
    "We were away a year ago. I owe you a yo-yo today. Bob put the map in my bag.",
)
FAR_TEXT = (
    "Hello, can you hear me? I am calling from the other side of the city, and the weather "
    "here is lovely today. Tell me about your week and what you have been doing."
)
NEAR_TEXT = "Yes, I can hear you well. My week was busy, but good."


def _round(value: float, digits: int = 3) -> float | None:
    return None if not math.isfinite(value) else round(value, digits)


# -- lip sync ----------------------------------------------------------------------------------
def lipsync() -> dict[str, Any]:
    from peer.voice.mouth import MouthEstimator

    estimates: list[tuple[float, bool, str | None]] = []
    phonemes: list[Phoneme] = []
    offset = 0.0
    cpu = audio = 0.0
    for text in LIPSYNC_TEXTS:
        speech = synthesize(text, voice="en-us")
        pcm = speech.resampled(RATE)
        est = MouthEstimator(RATE)
        t0 = time.process_time()
        for i in range(0, pcm.size - 959, 960):
            for s in est.feed(pcm[i : i + 960], round(i / RATE * 1e9)):
                estimates.append((offset + s.at_ns / 1e9, s.open, s.vowel))
        cpu += time.process_time() - t0
        audio += pcm.size / RATE
        phonemes += [Phoneme(p.name, offset + p.start, offset + p.end) for p in speech.phonemes]
        offset += speech.seconds + 1.0
    score = score_lipsync(estimates, tuple(phonemes), voice="en-us")
    return {
        "lipsync_open_acc": _round(score.open_acc),
        "lipsync_vowel_acc": _round(score.vowel_acc),
        "lipsync_frames": {"open_closed": score.open_frames, "vowel": score.vowel_frames},
        "mouth_cpu_pct": _round(100.0 * cpu / audio, 2),
    }


# -- echo cancellation -------------------------------------------------------------------------
Signal = npt.NDArray[np.float64]


def echo_path(far: Signal, delay_ms: float, gain: float) -> Signal:
    """Speaker to microphone: delayed, one-pole low-pass at ~2 kHz, a reflection tail (7, 19,
    31 ms), attenuated."""
    d = round(delay_ms * RATE / 1000)
    x = np.concatenate((np.zeros(d), far))[: far.size]
    a = math.exp(-2 * math.pi * 2000 / RATE)
    y = np.empty_like(x)
    acc = 0.0
    for i, v in enumerate(x.tolist()):
        acc = (1 - a) * v + a * acc
        y[i] = acc
    tail = np.zeros_like(y)
    for lag_ms, g in ((7, 0.4), (19, 0.25), (31, 0.12)):
        k = round(lag_ms * RATE / 1000)
        tail[k:] += g * y[:-k]
    out: Signal = gain * (y + tail)
    return out


def run_canceller(mic: Signal, far: Signal) -> tuple[Signal, float]:
    """The microphone through a fresh canceller (10 ms blocks, far end fed first); returns the
    output and the CPU seconds it took."""
    from peer.voice.aec import EchoCanceller

    aec = EchoCanceller(RATE)
    if not aec.active:
        raise RuntimeError(aec.unavailable)
    out = np.zeros_like(mic)
    block = RATE // 100
    t0 = time.process_time()
    for i in range(0, mic.size - block + 1, block):
        aec.add_far(np.clip(far[i : i + block], -32768, 32767).astype(np.int16))
        out[i : i + block] = aec.process(
            np.clip(mic[i : i + block], -32768, 32767).astype(np.int16)
        )
    return out, time.process_time() - t0


def best_correlation(a: Signal, b: Signal, max_lag: int) -> float:
    n = a.size + b.size
    xc = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)
    lags = np.concatenate((xc[: max_lag + 1], xc[-max_lag:]))
    return float(lags.max() / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


def echo() -> dict[str, Any]:
    far = synthesize(FAR_TEXT, voice="en-us").resampled(RATE).astype(np.float64)
    erle: dict[str, float | None] = {}
    cpu = 0.0
    for delay in (60, 100, 140):
        e = echo_path(far, delay, 0.5)
        out, spent = run_canceller(e, far)
        cpu += spent
        tail = slice(RATE, far.size)
        db = 10 * math.log10(
            float(np.mean(e[tail] ** 2)) / max(float(np.mean(out[tail] ** 2)), 1e-9)
        )
        erle[f"{delay}ms"] = _round(db, 1)
    near_voice = synthesize(NEAR_TEXT, voice="en-us+f3").resampled(RATE).astype(np.float64) * 0.7
    start = 2 * RATE
    near = np.zeros_like(far)
    n = min(near_voice.size, far.size - start)
    near[start : start + n] = near_voice[:n]
    out, _ = run_canceller(echo_path(far, 100, 0.25) + near, far)
    alone, _ = run_canceller(near, np.zeros_like(far))
    talk = slice(start, start + n)
    values = [v for v in erle.values() if v is not None]
    return {
        "aec_erle_db": min(values) if values else None,
        "aec_erle_db_by_delay": erle,
        "aec_double_talk_correlation": _round(best_correlation(out[talk], near[talk], 1440)),
        "aec_near_alone_correlation": _round(best_correlation(alone[talk], near[talk], 1440)),
        "aec_cpu_pct": _round(100.0 * cpu / (3 * far.size / RATE), 2),
        "aec_library": "WebRTC APM (AEC3, NS, AGC2) via livekit.rtc.AudioProcessingModule",
    }


# -- A/V skew through a real call ---------------------------------------------------------------
class _Log:
    def __init__(self) -> None:
        self.render: list[dict[str, Any]] = []
        self.peer: list[dict[str, Any]] = []
        self.state = ""

    def on_event(self, source: str, event: CallEvent) -> None:
        ev = as_record(source, event)
        if ev.get("event") == "stats":
            (self.render if ev.get("child") == "render" else self.peer).append(ev)
        elif ev.get("event") == "status" and ev.get("child") == "peer":
            self.state = str(ev.get("state"))


async def _av_call(clip: str, workdir: Path, seconds: float, env: dict[str, str]) -> dict[str, Any]:
    from netlab.voice_call import heard
    from peer.voice.sources import read_wav

    from .relay_process import start_relay

    relay, port = start_relay()
    url = f"ws://127.0.0.1:{port}"
    room = new_room_code()
    rec = workdir / "heard.wav"
    logs = [_Log(), _Log()]
    calls: list[Call] = []
    try:
        specs = [
            dict(source=clip, mic="clip", speaker="none", window=False),
            dict(source="synthetic", mic="silence", speaker=f"file:{rec}", window=True),
        ]
        for name, log, spec in zip("ab", logs, specs, strict=True):
            (workdir / name).mkdir(parents=True, exist_ok=True)
            cfg = CallConfig(
                relay=url, room=room, name=f"av-{name}", env=env,
                log_dir=str(workdir / name), **spec,  # type: ignore[arg-type]
            )  # fmt: skip
            call = Call(cfg, log.on_event)
            calls.append(call)
            await call.start()
        deadline = time.monotonic() + 60
        while not all(log.state == "connected" for log in logs):
            if time.monotonic() > deadline:
                raise RuntimeError("the two sides did not connect within 60 s")
            await asyncio.sleep(0.1)
        b = logs[1]

        def settled() -> bool:
            r = b.render[-1] if b.render else {}
            target = r.get("peer_delay_target_ms") or 0.0
            return target > 0 and abs((r.get("peer_delay_ms") or 0.0) - target) < 5.0

        deadline = time.monotonic() + 30
        while not settled():
            if time.monotonic() > deadline:
                raise RuntimeError("the window's lip-sync delay did not settle within 30 s")
            await asyncio.sleep(0.2)
        # Two-sided lip sync (call.lipsync): when the avatar's path is the slower one, the
        # voice's hold grows in steps of at most 40 ms a second; measure once it has stopped
        # moving (three equal reports), as a call does after its first seconds.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            holds = [(ev.get("voice") or {}).get("lipsync_hold_ms") for ev in b.peer[-3:]]
            if len(holds) == 3 and len(set(holds)) == 1:
                break
            await asyncio.sleep(0.2)
        calls[1].send("render", ResetStats())
        await asyncio.sleep(seconds)
        await asyncio.sleep(1.2)
        render = b.render[-1]
        voice_a, voice_b = _last_voice(logs[0]), _last_voice(b)
    finally:
        for call in calls:
            with contextlib.suppress(Exception):
                await call.close(hangup=False)
        relay.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            relay.wait(5)
    skew = render.get("run_av_skew_ms") or {}
    signed = render.get("run_av_skew_signed_ms") or {}
    out: dict[str, Any] = {
        "av_skew_ms_p50": skew.get("p50"),
        "av_skew_ms_p95": skew.get("p95"),
        "av_skew_signed_ms": signed,
        "av_audio_delay_reported_ms": voice_b.get("audio_delay_ms"),
        # Of that delay, how long the voice waited for the slower avatar, and the avatar's own
        # path the window reported (capture -> present without any hold, running median).
        "av_lipsync_hold_ms": voice_b.get("lipsync_hold_ms"),
        "av_video_path_ms": render.get("peer_video_path_ms"),
        "av_window_fps": render.get("fps"),
        "av_clip": clip,
    }
    video = render.get("run_peer_video_delay_ms") or {}
    out["av_video_delay_ms_p50"] = video.get("p50")
    if rec.exists() and "speaker_start_ns" in voice_b and "mic_epoch_ns" in voice_a:
        sent = _clip_audio(CallConfig(relay=url, room=room, source=clip).clip_path())
        got = heard(sent, voice_a["mic_epoch_ns"], read_wav(str(rec)), voice_b["speaker_start_ns"])
        if got.lags_s:
            out["av_audio_measured_ms_p50"] = _round(got.delay_ms(50), 1)
    return out


def _last_voice(log: _Log) -> dict[str, Any]:
    """The newest ``voice`` stats of a side that had audio flowing (the very last one may
    come from a link already closing)."""
    for ev in reversed(log.peer):
        voice = ev.get("voice") or {}
        if voice.get("packets_received") or voice.get("mic_epoch_ns"):
            return dict(voice)
    return {}


def _clip_audio(clip: str) -> npt.NDArray[np.int16]:
    """The clip's audio track at 48 kHz mono, as the networking process reads it."""
    from peer.voice.sources import read_clip_audio

    samples, _ = read_clip_audio(clip)
    out: npt.NDArray[np.int16] = samples
    return out


def av_skew(clip: str, workdir: Path, seconds: float) -> dict[str, Any]:
    """See the module docstring; starts Xvfb when there is no display."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    xvfb: subprocess.Popen[bytes] | None = None
    if not env.get("DISPLAY"):
        from render_window.headless import start_xvfb

        xvfb, env["DISPLAY"] = start_xvfb(1280, 720)
    try:
        return asyncio.run(_av_call(clip, workdir, seconds, env))
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)
