"""Shared pieces of the voice tests: espeak-ng speech as a WAV and cross-correlation of what
was sent with what the other side played (the call runner and per-window scoring live in
:mod:`netlab.voice_call`, shared with ``scripts/bench_voice.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from netlab.voice_call import SENTENCE, XCORR_RATE, Heard, decimate, espeak_wav, heard
from peer.voice.sources import read_wav

__all__ = ["SENTENCE", "Heard", "best_match", "espeak_wav", "heard", "load"]


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
