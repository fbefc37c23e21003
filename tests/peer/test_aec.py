"""Echo cancellation on the microphone path (peer.voice.aec), with real speech (espeak-ng)
through a synthetic echo path: what is left of the echo, and whether the near talker survives
talking over the far one."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from netlab.speech import SpeechUnavailable, synthesize
from peer.voice.aec import EchoCanceller

RATE = 48000
BLOCK = RATE // 100  # 10 ms
FAR_TEXT = (
    "Hello, can you hear me? I am calling from the other side of the city, and the weather "
    "here is lovely today. Tell me about your week and what you have been doing."
)
NEAR_TEXT = "Yes, I can hear you well. My week was busy, but good."


def _speech(text: str, voice: str) -> npt.NDArray[np.float64]:
    try:
        sp = synthesize(text, voice=voice)
    except SpeechUnavailable as e:
        pytest.skip(str(e))
    return sp.resampled(RATE).astype(np.float64)


def echo_path(
    far: npt.NDArray[np.float64], delay_ms: float, gain: float
) -> npt.NDArray[np.float64]:
    """A room between speaker and microphone: delayed, low-passed (a speaker and a wall lose
    the highs: a one-pole at ~2 kHz), a short reflection tail, attenuated."""
    d = round(delay_ms * RATE / 1000)
    x = np.concatenate((np.zeros(d), far))[: far.size]
    a = np.exp(-2 * np.pi * 2000 / RATE)
    y = np.empty_like(x)
    acc = 0.0
    for i, v in enumerate(x):  # one-pole low-pass
        acc = (1 - a) * v + a * acc
        y[i] = acc
    tail = np.zeros_like(y)
    for lag_ms, g in ((7, 0.4), (19, 0.25), (31, 0.12)):
        k = round(lag_ms * RATE / 1000)
        tail[k:] += g * y[:-k]
    return gain * (y + tail)


def run(
    aec: EchoCanceller, mic: npt.NDArray[np.float64], far: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    out = np.zeros_like(mic)
    for i in range(0, mic.size - BLOCK + 1, BLOCK):
        aec.add_far(np.clip(far[i : i + BLOCK], -32768, 32767).astype(np.int16))
        block = np.clip(mic[i : i + BLOCK], -32768, 32767).astype(np.int16)
        out[i : i + BLOCK] = aec.process(block)
    return out


def erle_db(echo: npt.NDArray[np.float64], left: npt.NDArray[np.float64]) -> float:
    """Echo return loss enhancement: echo power in over echo power out, dB."""
    return float(10 * np.log10(float(np.mean(echo**2)) / max(float(np.mean(left**2)), 1e-9)))


def best_correlation(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], max_lag: int) -> float:
    """Largest normalised cross-correlation of ``a`` and ``b`` within +-``max_lag`` samples
    (every lag: speech decorrelates within a quarter of a millisecond)."""
    n = a.size + b.size
    spec = np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n))
    xc = np.fft.irfft(spec, n)
    lags = np.concatenate((xc[: max_lag + 1], xc[-max_lag:]))
    return float(lags.max() / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


@pytest.fixture(scope="module")
def far_speech() -> npt.NDArray[np.float64]:
    return _speech(FAR_TEXT, "en-us")


@pytest.mark.parametrize("delay_ms", [60, 140])
def test_echo_is_removed_after_a_second_of_convergence(
    far_speech: npt.NDArray[np.float64], delay_ms: float
) -> None:
    far = far_speech
    echo = echo_path(far, delay_ms, gain=0.5)
    aec = EchoCanceller(RATE, enabled=True)
    assert aec.active, aec.unavailable
    out = run(aec, echo, far)
    tail = slice(RATE * 1, far.size)  # after one second of convergence
    erle = erle_db(echo[tail], out[tail])
    print(f"ERLE at {delay_ms} ms: {erle:.1f} dB")
    # WebRTC's AEC3 removes 30-50 dB of a linear echo path; 20 dB is the target.
    assert erle >= 20.0


def test_near_speech_survives_double_talk(far_speech: npt.NDArray[np.float64]) -> None:
    far = far_speech
    near_voice = _speech(NEAR_TEXT, "en-us+f3") * 0.7
    start = 2 * RATE  # near talker starts after 2 s of far speech (the canceller converged)
    near = np.zeros_like(far)
    n = min(near_voice.size, far.size - start)
    near[start : start + n] = near_voice[:n]
    echo = echo_path(far, 100, gain=0.25)  # the echo 8 dB under the near talker
    talk = slice(start, start + n)
    out = run(EchoCanceller(RATE), echo + near, far)
    # The same processing with nobody on the far side: what noise suppression, gain control
    # and the APM's ~10 ms delay alone do to the waveform (correlation ~0.7, not 1).
    alone = run(EchoCanceller(RATE), near, np.zeros_like(far))
    lag = RATE * 3 // 100
    corr = best_correlation(out[talk], near[talk], lag)
    corr_alone = best_correlation(alone[talk], near[talk], lag)
    kept_db = 10 * np.log10(np.mean(out[talk] ** 2) / np.mean(near[talk] ** 2))
    print(f"double talk: corr {corr:.3f} (alone {corr_alone:.3f}), level {kept_db:+.1f} dB")
    # A half-duplex suppressor that mutes the near talker while the far one speaks reads a
    # correlation near 0 and a level 20+ dB down; AEC3 keeps most of the waveform.
    assert corr >= 0.6 * corr_alone
    assert corr >= 0.4
    assert kept_db > -10.0


def test_disabled_is_a_passthrough(far_speech: npt.NDArray[np.float64]) -> None:
    mic = far_speech[: RATE // 2].astype(np.int16)
    aec = EchoCanceller(RATE, enabled=False)
    assert not aec.active
    np.testing.assert_array_equal(aec.process(mic, far=mic), mic)


def test_odd_block_sizes_keep_length_and_order() -> None:
    aec = EchoCanceller(RATE)
    rng = np.random.default_rng(1)
    sizes = [480, 960, 300, 700, 480]
    total = 0
    for s in sizes:
        out = aec.process(rng.integers(-1000, 1000, s).astype(np.int16))
        assert out.size == s
        total += s
    assert aec.near_frames == total // BLOCK


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="sample rate"):
        EchoCanceller(44100)
    with pytest.raises(ValueError, match="frame_ms"):
        EchoCanceller(RATE, frame_ms=15)
