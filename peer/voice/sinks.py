"""Where the peer's voice goes: the speaker, a WAV file, or nowhere.

The playout loop (:mod:`peer.voice.engine`) hands every sink one 20 ms block (mono int16,
48 kHz) per tick, paced on monotonic deadlines like a sound card's clock: block ``k`` plays at
``start_ns + k * 20 ms``. A WAV sink therefore holds exactly what a speaker would have played
and when (sample ``n`` at ``start_ns + n / 48000``), which is what the tests and the benchmark
correlate against the sent speech. A device sink adds the sound card's own buffer on top
(excluded from the latency figures, and said so there).

Spec grammar (``--speaker``): ``default`` | a device name | ``file:PATH`` (WAV written at 48 kHz
mono 16-bit) | ``none``.
"""

from __future__ import annotations

import collections
import logging
import threading
import wave
from pathlib import Path
from typing import Any

import numpy as np

from .sources import PCM, SAMPLE_RATE, silence, sounddevice_or_reason, start_stream

log = logging.getLogger(__name__)


class VoiceSinkError(Exception):
    """A speaker spec that cannot be used (unwritable file)."""


class Sink:
    """Plays nothing (``none``, deafened output, or no sound device)."""

    description = "none"

    def write(self, pcm: PCM, playout_ns: int) -> None:
        """Play one block; ``playout_ns`` is when its first sample is due."""

    def close(self) -> None:
        """Flush and release (idempotent)."""


class WavSink(Sink):
    """A 48 kHz mono 16-bit WAV; the header is completed on close (and by ``wave`` on every
    write's nframes update, so a killed process still leaves a readable file)."""

    def __init__(self, path: str) -> None:
        try:
            self._wav = wave.open(path, "wb")  # noqa: SIM115 - closed in close()
        except OSError as e:
            raise VoiceSinkError(f"cannot write the WAV file {path!r}: {e}") from e
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(SAMPLE_RATE)
        self.description = f"file {Path(path).name}"
        self.start_ns: int | None = None
        self._closed = False

    def write(self, pcm: PCM, playout_ns: int) -> None:
        if self._closed:
            return
        if self.start_ns is None:
            self.start_ns = playout_ns
        # Our blocks are int16 in native order already; a copy only where that is not "<i2".
        raw = pcm if pcm.dtype == np.dtype("<i2") else pcm.astype("<i2")
        self._wav.writeframesraw(raw.tobytes())

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._wav.close()


class DeviceSink(Sink):
    """A speaker through sounddevice. The playout loop's blocks go into a short FIFO that the
    PortAudio callback drains (silence on underrun); at most 3 blocks are kept so a stalled
    device cannot build up delay."""

    MAX_QUEUED = 3

    def __init__(self, sd: Any, device: str | None) -> None:
        self._fifo: collections.deque[PCM] = collections.deque(maxlen=self.MAX_QUEUED)
        self._lock = threading.Lock()
        self._stream, self.description = start_stream(sd.OutputStream, sd, device, self._callback)

    def _callback(self, outdata: Any, frames: int, _time: Any, _status: Any) -> None:
        with self._lock:
            block = self._fifo.popleft() if self._fifo else silence(frames)
        if len(block) != frames:
            block = np.resize(block, frames)
        outdata[:, 0] = block

    def write(self, pcm: PCM, playout_ns: int) -> None:
        with self._lock:
            self._fifo.append(pcm)

    def close(self) -> None:
        try:
            self._stream.stop()
            self._stream.close()
        except Exception as e:
            log.debug("closing the speaker: %s", e)


def open_sink(spec: str) -> tuple[Sink, str | None]:
    """The sink for a ``--speaker`` spec and, when it fell back to none, why (said once)."""
    if spec == "none":
        return Sink(), None
    if spec.startswith("file:"):
        return WavSink(spec[5:]), None
    sd, reason = sounddevice_or_reason()
    if sd is None:
        return Sink(), reason
    device = None if spec == "default" else spec
    try:
        return DeviceSink(sd, device), None
    except Exception as e:
        return Sink(), f"speaker {spec!r} unavailable ({e})"
