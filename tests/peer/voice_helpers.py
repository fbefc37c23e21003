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

from netlab.voice_call import XCORR_RATE, Heard, decimate, heard
from peer.voice.sources import read_wav

__all__ = ["Heard", "best_match", "espeak_wav", "heard", "load"]

SENTENCE = "The quick brown fox jumps over the lazy dog. Can you hear me now?"


def espeak_wav(path: Path, text: str = SENTENCE) -> Path | None:
    """Synthesise ``text`` to ``path``; None when espeak-ng is not installed."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    subprocess.run([exe, "-v", "en", "-s", "160", "-w", str(path), text], check=True)
    return path


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


def load(path: Path) -> NDArray[np.int16]:
    return read_wav(str(path))
