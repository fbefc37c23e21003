"""Echo cancellation, noise suppression and gain control on the microphone path.

Why WebRTC's audio processing module (APM), through the ``livekit`` wheel
(``livekit.rtc.AudioProcessingModule``): it is the canceller every browser call uses (AEC3:
adaptive delay estimation, a linear filter plus a residual echo suppressor that handles
double talk), it comes with WebRTC's noise suppressor and AGC2 in the same pass, and the wheel
is a self-contained manylinux binary on PyPI, kept up to date by LiveKit, that needs no
network and no LiveKit server for this (the APM runs in-process through their FFI library).
It costs about 3% of one core for 48 kHz mono with everything on (measured: 5 s of audio in
0.16 s on this machine). speexdsp (Debian ``libspeexdsp1``) was the alternative: its echo
canceller is a single MDF filter with a much weaker residual suppressor, no maintained PyPI
binding builds against Python 3.11+ here, and it would need a hand-written ctypes binding.

The APM works on 10 ms frames; :meth:`EchoCanceller.process` takes any whole number of them
(the voice path uses 10 or 20 ms blocks). The far end (what the speaker plays) must be fed
*before* the microphone block that may contain its echo: :meth:`add_far` is called from the
playout path as each block goes to the speaker, :meth:`process` from the capture path. The
two may run on different threads (sound device callbacks), so a lock serialises them.

Switchable (``echo_cancel``, ``--no-echo-cancel``): disabled, or when the library cannot be
loaded, :meth:`process` returns its input unchanged and :attr:`active` says so (the reason is
logged once).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Pcm = npt.NDArray[np.int16]

#: Sample rates the APM processes natively (anything else it resamples, at a cost).
SAMPLE_RATES = (8000, 16000, 32000, 48000)
#: The APM's frame: 10 ms.
FRAME_MS = 10


class EchoCanceller:
    """Microphone-path processing: echo cancellation (against the far end fed to
    :meth:`add_far`), noise suppression, high-pass and gain control, 16-bit mono PCM."""

    def __init__(
        self,
        sample_rate: int = 48000,
        frame_ms: int = FRAME_MS,
        *,
        enabled: bool = True,
        noise_suppression: bool = True,
        auto_gain: bool = True,
    ) -> None:
        if sample_rate not in SAMPLE_RATES:
            raise ValueError(f"sample rate {sample_rate} not one of {SAMPLE_RATES}")
        if frame_ms <= 0 or frame_ms % FRAME_MS:
            raise ValueError(f"frame_ms {frame_ms} is not a multiple of {FRAME_MS}")
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        #: Samples per APM frame (10 ms).
        self.chunk = sample_rate * FRAME_MS // 1000
        self.enabled = enabled
        #: Why processing is off although it was asked for ("" when it runs or was not asked).
        self.unavailable = ""
        self._lock = threading.Lock()
        self._apm: Any = None
        #: One reusable 10 ms frame per direction, and a numpy view of its samples: see
        #: :meth:`_run`.
        self._far_frame: Any = None
        self._near_frame: Any = None
        self._far_view = np.zeros(0, dtype=np.int16)
        self._near_view = np.zeros(0, dtype=np.int16)
        self._far_rest = np.zeros(0, dtype=np.int16)
        self._near_rest = np.zeros(0, dtype=np.int16)
        self._out = np.zeros(0, dtype=np.int16)
        self.far_frames = 0
        self.near_frames = 0
        if enabled:
            try:
                from livekit import rtc

                self._apm = rtc.AudioProcessingModule(
                    echo_cancellation=True,
                    noise_suppression=noise_suppression,
                    high_pass_filter=True,
                    auto_gain_control=auto_gain,
                )
                self._far_frame, self._far_view = _frame(rtc, sample_rate, self.chunk)
                self._near_frame, self._near_view = _frame(rtc, sample_rate, self.chunk)
            except Exception as e:  # ImportError, or the FFI library failing to load
                self.unavailable = f"echo cancellation unavailable ({type(e).__name__}: {e})"
                log.warning("%s; the microphone is sent unprocessed", self.unavailable)

    @property
    def active(self) -> bool:
        """True when the microphone is really processed."""
        return self._apm is not None

    def set_delay_ms(self, delay_ms: float) -> None:
        """A hint: how long after :meth:`add_far` the sound reaches the microphone (device
        buffers). AEC3 estimates the delay itself; the hint only speeds up convergence."""
        if self._apm is not None:
            with self._lock:
                self._apm.set_stream_delay_ms(max(0, round(delay_ms)))

    def add_far(self, far: npt.ArrayLike) -> None:
        """The block just sent to the speaker (the echo reference), 16-bit mono."""
        if self._apm is None:
            return
        pcm = _as_pcm(far)
        with self._lock:
            buf = np.concatenate((self._far_rest, pcm)) if self._far_rest.size else pcm
            n = self.chunk
            whole = buf.size - buf.size % n
            for i in range(0, whole, n):
                self._far_view[:] = buf[i : i + n]
                self._apm.process_reverse_stream(self._far_frame)
                self.far_frames += 1
            self._far_rest = buf[whole:].copy()

    def process(self, near: npt.ArrayLike, far: npt.ArrayLike | None = None) -> Pcm:
        """The microphone block ``near`` with echo, noise and level handled. ``far`` (optional)
        is fed to :meth:`add_far` first. The output has as many samples as the input; blocks
        that are not whole 10 ms frames add up to 10 ms of delay (the remainder waits for the
        next call), so callers should use whole frames."""
        if far is not None:
            self.add_far(far)
        pcm = _as_pcm(near)
        if self._apm is None:
            return pcm
        with self._lock:
            buf = np.concatenate((self._near_rest, pcm)) if self._near_rest.size else pcm.copy()
            n = self.chunk
            whole = buf.size - buf.size % n
            done = np.empty(whole, dtype=np.int16)
            for i in range(0, whole, n):
                self._near_view[:] = buf[i : i + n]
                self._apm.process_stream(self._near_frame)  # in place
                done[i : i + n] = self._near_view
                self.near_frames += 1
            self._near_rest = buf[whole:].copy()
            ready = np.concatenate((self._out, done)) if self._out.size else done
            if ready.size < pcm.size:  # only before the first whole frame: silence in front
                ready = np.concatenate((np.zeros(pcm.size - ready.size, np.int16), ready))
            out, self._out = ready[: pcm.size], ready[pcm.size :].copy()
        return out


def _frame(rtc: Any, sample_rate: int, n: int) -> tuple[Any, Pcm]:
    """A 10 ms ``rtc.AudioFrame`` over a bytearray the APM processes in place, and a writable
    int16 view of it. Reused for every frame of one direction (issue 14's CPU budget): a fresh
    frame per 10 ms cost a ``tobytes`` copy, the frame's checks, and in the APM call a second
    copy (it converts immutable ``bytes`` to a ``bytearray`` before handing over the address).
    The APM reads and writes the samples during the call only, so one buffer serves them all."""
    frame = rtc.AudioFrame(bytearray(2 * n), sample_rate, 1, n)
    view: Pcm = np.frombuffer(frame._data, dtype=np.int16)
    return frame, view


def _as_pcm(block: npt.ArrayLike) -> Pcm:
    """16-bit mono samples from an int16 array, or floats in -1..1 (clipped)."""
    arr = np.asarray(block)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if arr.dtype == np.int16:
        same: Pcm = arr
        return same
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.clip(arr, -1.0, 1.0) * 32767.0
    out: Pcm = np.clip(arr, -32768, 32767).astype(np.int16)
    return out
