"""One real voice call for tests and ``scripts/bench_voice.py``: a real relay, two real calls
(``call.Call``: tracker + networking processes), speech as A's microphone (``--mic
file:WAV``), B's playout recorded (``--speaker file:WAV``), then what B heard compared with
what A said on their shared monotonic timeline (:func:`heard`).

On loopback (``lab=None``) or inside a network lab (``netlab.routed(loss=..., delay_ms=...)``:
each client in its own namespace, the relay in the service namespace).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from call import Call, CallConfig, CallEvent, as_record
from peer.voice.sources import SAMPLE_RATE, read_wav
from protocol.signaling import new_room_code

from .lab import Lab
from .relay_process import start_relay

RELAY_PORT = 8771
SENTENCE = "The quick brown fox jumps over the lazy dog. Can you hear me now?"
#: Correlation runs on an 8 kHz copy: speech's intelligibility band, and a cheap lag search.
XCORR_RATE = 8000


def espeak_wav(path: Path, text: str = SENTENCE) -> Path | None:
    """Synthesise ``text`` with the espeak-ng command line to ``path`` (its own 22.05 kHz; read
    back resampled to 48 kHz exactly as ``--mic file:PATH`` does); None without espeak-ng."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    subprocess.run([exe, "-v", "en", "-s", "160", "-w", str(path), text], check=True)
    return path


def decimate(pcm: NDArray[np.int16], rate: int = SAMPLE_RATE) -> NDArray[np.float64]:
    """48 kHz -> 8 kHz by averaging 6 samples (a crude low-pass, enough for correlation)."""
    step = rate // XCORR_RATE
    n = len(pcm) // step * step
    out: NDArray[np.float64] = pcm[:n].astype(np.float64).reshape(-1, step).mean(axis=1)
    return out


@dataclass(frozen=True, slots=True)
class Heard:
    """Per 0.5 s window of voiced sent speech: the delay (s) at which it was best heard and
    that normalised correlation."""

    lags_s: list[float]
    correlations: list[float]

    @property
    def correlation(self) -> float:
        """Median window correlation (0 when nothing was compared)."""
        return float(np.median(self.correlations)) if self.correlations else 0.0

    def delay_ms(self, q: float) -> float:
        return float(np.percentile(self.lags_s, q) * 1000) if self.lags_s else float("nan")


def heard(
    sent: NDArray[np.int16],
    mic_epoch_ns: int,
    recorded: NDArray[np.int16],
    speaker_start_ns: int,
    *,
    until_s: float | None = None,
    settle_s: float = 0.0,
    window_s: float = 0.5,
    max_delay_s: float = 0.5,
) -> Heard:
    """Compare a looping source with its recording on their shared monotonic timeline.

    ``sent`` loops from ``mic_epoch_ns`` (sample n captured at epoch + n/fs); the recording's
    sample m played at ``speaker_start_ns`` + m/fs. The sent signal is laid on the recording's
    timeline and each voiced window is searched for in the recording 0..``max_delay_s`` later.
    Windows before the recording has any sound (the call was not up yet), in the ``settle_s``
    after that (the jitter buffer finding its depth) and after ``until_s`` (seconds into the
    recording) are left out. Each window's lag is that window's mouth-to-ear
    delay: a delay that changes during the call shows as a distribution, and a skipped or
    stretched frame only moves the windows after it."""
    fs = XCORR_RATE
    a_rec = decimate(recorded)
    b_sent = decimate(sent)
    if not len(b_sent):
        return Heard([], [])
    offset = (speaker_start_ns - mic_epoch_ns) / 1e9  # recording t=0 is sent t=offset
    idx = (np.arange(len(a_rec)) + round(offset * fs)) % len(b_sent)
    aligned = b_sent[idx]
    audible = np.flatnonzero(np.abs(a_rec) > 30)
    first = (int(audible[0]) if len(audible) else len(a_rec)) + int(settle_s * fs)
    end = len(a_rec) if until_s is None else min(len(a_rec), int(until_s * fs))
    w, d = int(window_s * fs), int(max_delay_s * fs)
    lags: list[float] = []
    corrs: list[float] = []
    for start in range(first, end - w - d, w):
        a = aligned[start : start + w]
        if np.sqrt(np.mean(a * a)) < 300:  # a pause: no timing information
            continue
        seg = a_rec[start : start + w + d]
        corr = np.correlate(seg, a, mode="valid")
        csum = np.concatenate([[0.0], np.cumsum(seg * seg)])
        energy = csum[w:] - csum[: len(seg) - w + 1]
        score = corr / np.sqrt(np.maximum(energy, 1e-9) * float(np.dot(a, a)))
        k = int(np.argmax(score))
        lags.append(k / fs)
        corrs.append(float(score[k]))
    return Heard(lags, corrs)


@dataclass(slots=True)
class _Side:
    name: str
    stats: list[dict[str, Any]] = field(default_factory=list)
    state: str = ""
    errors: list[str] = field(default_factory=list)
    call: Call | None = None

    def on_event(self, source: str, event: CallEvent) -> None:
        ev = as_record(source, event)
        if ev.get("child") != "peer":
            return
        if ev.get("event") == "stats":
            self.stats.append(ev)
        elif ev.get("event") == "status":
            self.state = str(ev.get("state"))
        elif ev.get("event") == "error":
            self.errors.append(str(ev.get("message")))

    def voice(self) -> dict[str, Any]:
        return dict(self.stats[-1].get("voice") or {}) if self.stats else {}


@dataclass(slots=True)
class VoiceCallResult:
    heard: Heard
    #: the last ``voice`` stats of the sender (a) and the receiver (b)
    voice_a: dict[str, Any]
    voice_b: dict[str, Any]
    #: mean ``cpu`` (% of one core) of each networking process over the measured seconds
    cpu_a: float
    cpu_b: float
    connected_s: float
    stayed_connected: bool
    errors: list[str]
    #: each networking process's last stats event (flat), e.g. ``e2e_ms`` of the frames
    last_stats: tuple[dict[str, Any], dict[str, Any]] = ({}, {})


def _lab_relay(lab: Lab, log_path: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "relay", "--host", lab.service_addr, "--port", str(RELAY_PORT)]
    with open(log_path, "wb") as logf:
        proc = lab.popen(lab.service_role, argv, stdout=logf, stderr=subprocess.STDOUT)
    want = f"{lab.service_addr}:{RELAY_PORT}"
    deadline = time.monotonic() + 20
    while want not in lab.run(lab.service_role, ["ss", "-Hltn"], check=False):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"relay did not listen on {want}")
        time.sleep(0.05)
    return proc


async def voice_call(
    speech: Path,
    workdir: Path,
    *,
    seconds: float,
    lab: Lab | None = None,
    voice: bool = True,
    connect_timeout: float = 60,
    settle_s: float = 1.0,
) -> VoiceCallResult:
    """A says ``speech`` (looping) for ``seconds`` after both are connected; B records it.
    The first ``settle_s`` of what B heard is not scored (see :func:`heard`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    rec = workdir / "heard.wav"
    relay: subprocess.Popen[Any]
    if lab is None:
        relay, port = start_relay()
        url = f"ws://127.0.0.1:{port}"
    else:
        relay = _lab_relay(lab, workdir / "relay.log")
        url = f"ws://{lab.service_addr}:{RELAY_PORT}"
    room = new_room_code()
    sides = [_Side("a"), _Side("b")]
    specs = [("file:" + str(speech), "none"), ("silence", "file:" + str(rec))]
    try:
        for side, (mic, speaker) in zip(sides, specs, strict=True):
            cfg = CallConfig(
                relay=url, room=room, source="synthetic", name=f"voice-{side.name}",
                voice=voice, mic=mic, speaker=speaker, env=dict(os.environ),
                wrap=lab.argv(side.name, []) if lab is not None else [],
                log_dir=str(workdir / side.name),
            )  # fmt: skip
            os.makedirs(workdir / side.name, exist_ok=True)
            side.call = Call(cfg, side.on_event)
            await side.call.start()
        t0 = time.monotonic()
        while not all(s.state == "connected" for s in sides):
            if time.monotonic() - t0 > connect_timeout:
                raise RuntimeError(f"not connected after {connect_timeout} s: {sides}")
            await asyncio.sleep(0.05)
        connected_s = time.monotonic() - t0
        marks = [len(s.stats) for s in sides]
        stayed = True
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await asyncio.sleep(0.1)
            stayed = stayed and all(s.state == "connected" for s in sides)
        await asyncio.sleep(1.2)  # one more stats line each
        voice_a, voice_b = sides[0].voice(), sides[1].voice()
        last = [s.stats[-1] if s.stats else {} for s in sides]
        cpus = [
            [float(e["cpu"]) for e in s.stats[m:] if e.get("cpu") is not None]
            for s, m in zip(sides, marks, strict=True)
        ]
    finally:
        for side in sides:
            if side.call is not None:
                with contextlib.suppress(Exception):
                    await side.call.close(hangup=False)
        relay.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            relay.wait(5)
        if relay.poll() is None:
            relay.kill()
    got = Heard([], [])
    if voice and rec.exists() and "speaker_start_ns" in voice_b and "mic_epoch_ns" in voice_a:
        got = heard(
            read_wav(str(speech)), voice_a["mic_epoch_ns"], read_wav(str(rec)),
            voice_b["speaker_start_ns"], settle_s=settle_s,
        )  # fmt: skip
    return VoiceCallResult(
        heard=got,
        voice_a=voice_a,
        voice_b=voice_b,
        cpu_a=float(np.mean(cpus[0])) if cpus[0] else float("nan"),
        cpu_b=float(np.mean(cpus[1])) if cpus[1] else float("nan"),
        connected_s=connected_s,
        stayed_connected=stayed,
        errors=sides[0].errors + sides[1].errors,
        last_stats=(last[0], last[1]),
    )
