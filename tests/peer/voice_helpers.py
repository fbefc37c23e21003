"""Shared pieces of the voice tests and ``scripts/bench_voice.py``: espeak-ng speech as a WAV,
and cross-correlation of what was sent with what the other side played.

Speech comes from the espeak-ng command line (Debian ``espeak-ng``), written at its own 22.05
kHz and read back through :func:`peer.voice.sources.read_wav` (resampled to 48 kHz), exactly
what ``--mic file:PATH`` does with it.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from peer.voice.sources import SAMPLE_RATE, read_wav

SENTENCE = "The quick brown fox jumps over the lazy dog. Can you hear me now?"
#: Correlation is done on a 4 kHz envelope-free band-limited copy: 8 kHz sampling keeps speech's
#: intelligibility band and makes the lag search cheap.
XCORR_RATE = 8000


def espeak_wav(path: Path, text: str = SENTENCE) -> Path | None:
    """Synthesise ``text`` to ``path``; None when espeak-ng is not installed."""
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
class Match:
    """Where the sent speech is in the recording: normalised correlation and lag (s)."""

    correlation: float
    lag_s: float


def best_match(sent: NDArray[np.int16], recorded: NDArray[np.int16]) -> Match:
    """The lag maximising the normalised cross-correlation of ``sent`` within ``recorded``
    (both 48 kHz), and that correlation (1.0 = an exact, scaled copy)."""
    a = decimate(sent)
    b = decimate(recorded)
    if len(b) < len(a) or not a.any():
        return Match(0.0, 0.0)
    n = len(a) + len(b)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)
    valid = corr[: len(b) - len(a) + 1]
    # energy of each window of b, for normalisation
    csum = np.concatenate([[0.0], np.cumsum(b * b)])
    energy = csum[len(a) :] - csum[: len(b) - len(a) + 1]
    norm = np.sqrt(np.maximum(energy, 1e-9) * float(np.dot(a, a)))
    score = valid / norm
    lag = int(np.argmax(score))
    return Match(float(score[lag]), lag / XCORR_RATE)


@dataclass(frozen=True, slots=True)
class Heard:
    """Per 0.5 s window of voiced sent speech: the delay (s) at which it was best heard and that
    normalised correlation."""

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
    window_s: float = 0.5,
    max_delay_s: float = 0.5,
) -> Heard:
    """Compare a looping source with its recording on their shared monotonic timeline.

    ``sent`` loops from ``mic_epoch_ns`` (sample n captured at epoch + n/fs); the recording's
    sample m played at ``speaker_start_ns`` + m/fs. The sent signal is laid on the recording's
    timeline, and each voiced window is searched for in the recording 0..``max_delay_s``
    later. Windows before the recording has any sound (the call was not up yet) and after
    ``until_s`` (seconds into the recording) are left out. Each window's lag is that window's
    mouth-to-ear delay: a delay that changes during the call shows as a distribution, and a
    skipped or stretched frame only moves the windows after it."""
    fs = XCORR_RATE
    a_rec = decimate(recorded)
    b_sent = decimate(sent)
    offset = (speaker_start_ns - mic_epoch_ns) / 1e9  # s: recording t=0 is sent t=offset
    idx = (np.arange(len(a_rec)) + round(offset * fs)) % len(b_sent)
    aligned = b_sent[idx]
    audible = np.flatnonzero(np.abs(a_rec) > 30)
    first = int(audible[0]) if len(audible) else len(a_rec)
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


def load(path: Path) -> NDArray[np.int16]:
    return read_wav(str(path))
