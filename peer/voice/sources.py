"""Where our voice comes from: a microphone, the tracker's clip, a WAV file, or silence.

Every source yields 20 ms blocks of mono 16-bit PCM at 48 kHz (what Opus carries and what
aiortc's encoder wants, so nothing is resampled per block) together with ``capture_ns``: the
``time.monotonic_ns()`` at which the block's *last* sample was captured, i.e. when the block
became available. Latency figures are measured from there (device input buffers excluded).

Spec grammar (``--mic``): ``default`` | a device name (substring, case-insensitive, matched by
sounddevice) | ``file:PATH`` (a WAV, looping) | ``file:PATH,once`` (played once, then
silence) | ``clip`` (the audio track of the clip the tracker plays) | ``silence``.

Files, clips and silence are paced on monotonic deadlines from an epoch, like a sound card's
clock: block ``k`` is due at ``epoch + (k + 1) * 20 ms``; a source that falls behind (a busy
machine) catches up by yielding the overdue blocks at once rather than re-anchoring, so sample
``n`` always belongs to instant ``epoch + n / 48000`` (the benchmark relies on it).

``clip``: the tracker and this process both play the same file. They agree on a start instant
instead of talking to each other: the parent passes one ``time.monotonic_ns()`` epoch to both
children (``--clip-epoch-ns``; both share CLOCK_MONOTONIC on one machine). Audio sample ``n``
plays at ``epoch + n / 48000`` and loops with the *video's* duration (frames / fps), so after
any number of loops the audio stays where the video is. Decoding the clip here (PyAV) instead
of having the tracker forward samples keeps the tracker free of audio and needs no new channel.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
BLOCK_MS = 20
BLOCK = SAMPLE_RATE * BLOCK_MS // 1000  # 960 samples
BLOCK_NS = BLOCK_MS * 1_000_000

PCM = NDArray[np.int16]
#: A paced source further behind its timeline than this skips ahead (a short stall is caught
#: up block by block; a late start is not replayed as a burst).
MAX_BACKLOG_NS = 250_000_000


class VoiceSourceError(Exception):
    """A source spec that cannot be used (bad path, unreadable file, no such device)."""


@dataclass(frozen=True, slots=True)
class Block:
    pcm: PCM  # BLOCK samples, mono int16
    capture_ns: int


def silence(n: int = BLOCK) -> PCM:
    return np.zeros(n, dtype=np.int16)


class MicSource(abc.ABC):
    """Something that yields :class:`Block` s. ``description`` names it for the stats."""

    description = "source"

    @abc.abstractmethod
    async def next_block(self) -> Block:
        """The next 20 ms (waits for it)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device or file (idempotent)."""


class PacedSource(MicSource):
    """Samples from memory (a WAV, a clip, silence) paced on monotonic deadlines."""

    def __init__(
        self, samples: PCM, *, loop: bool, epoch_ns: int | None = None, description: str
    ) -> None:
        self.samples = samples
        self.loop = loop
        self.epoch_ns = time.monotonic_ns() if epoch_ns is None else epoch_ns
        self.description = description
        self.index = 0  # blocks handed out
        self.blocks_skipped = 0

    async def next_block(self) -> Block:
        due = self.epoch_ns + (self.index + 1) * BLOCK_NS
        now = time.monotonic_ns()
        delay = due - now
        if -delay > MAX_BACKLOG_NS:
            # Far behind the timeline (the epoch passed while this process was starting, a long
            # stall): skip to the block due now instead of bursting seconds of audio, which
            # would only sit in the far end's jitter buffer as delay. Sample n still belongs to
            # instant epoch + n / 48000.
            behind = (now - self.epoch_ns) // BLOCK_NS - 1
            self.blocks_skipped += behind - self.index
            self.index = behind
            due = self.epoch_ns + (self.index + 1) * BLOCK_NS
            delay = due - now
        # Overdue (a busy machine): still yield, so the sender gets each block before the next.
        await asyncio.sleep(max(0.0, delay / 1e9))
        start = self.index * BLOCK
        self.index += 1
        return Block(self._slice(start), due)

    def _slice(self, start: int) -> PCM:
        n = len(self.samples)
        if n == 0:
            return silence()
        if self.loop:
            start %= n
            if start + BLOCK <= n:
                return self.samples[start : start + BLOCK]
            idx = np.arange(start, start + BLOCK) % n
            return self.samples[idx]
        if start >= n:
            return silence()
        out = silence()
        part = self.samples[start : start + BLOCK]
        out[: len(part)] = part
        return out


def read_wav(path: str) -> PCM:
    """A WAV file as mono int16 at 48 kHz (channels averaged, other rates resampled)."""
    try:
        with wave.open(path, "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error) as e:
        raise VoiceSourceError(f"cannot read the WAV file {path!r}: {e}") from e
    if width != 2:
        raise VoiceSourceError(f"{path!r}: only 16-bit PCM WAV is supported (got {8 * width}-bit)")
    data = np.frombuffer(raw, dtype="<i2").astype(np.float32)
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    return resample(data, rate)


def resample(data: NDArray[np.float32], rate: int) -> PCM:
    """Linear resampling to 48 kHz: enough for speech sources used in tests and clips."""
    if rate != SAMPLE_RATE and len(data):
        n = round(len(data) * SAMPLE_RATE / rate)
        data = np.interp(np.arange(n) * (rate / SAMPLE_RATE), np.arange(len(data)), data).astype(
            np.float32
        )
    out: PCM = np.clip(np.round(data), -32768, 32767).astype(np.int16)
    return out


def read_clip_audio(path: str) -> tuple[PCM, float]:
    """The clip's audio track (mono 48 kHz int16) and its video's duration in seconds (the loop
    period both children use). A clip without audio gives silence of that length."""
    import av  # PyAV: already the decoder aiortc uses

    try:
        with av.open(path) as container:
            video = next((s for s in container.streams if s.type == "video"), None)
            duration = 0.0
            if video is not None and video.frames and video.average_rate:
                duration = float(video.frames / video.average_rate)
            elif container.duration:
                duration = container.duration / 1e6
            audio = next((s for s in container.streams if s.type == "audio"), None)
            chunks: list[NDArray[np.int16]] = []
            if audio is not None:
                resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
                for frame in container.decode(audio):
                    if not isinstance(frame, av.AudioFrame):
                        continue
                    for out in resampler.resample(frame):
                        chunks.append(out.to_ndarray().reshape(-1).astype(np.int16))
    except (OSError, av.error.FFmpegError) as e:
        raise VoiceSourceError(f"cannot decode the clip {path!r}: {e}") from e
    samples = np.concatenate(chunks) if chunks else silence(0)
    if duration <= 0:
        duration = len(samples) / SAMPLE_RATE
    period = round(duration * SAMPLE_RATE)
    fitted = silence(period)
    fitted[: min(period, len(samples))] = samples[:period]
    return fitted, duration


def start_stream(kind: Any, sd: Any, device: str | None, callback: Any) -> tuple[Any, str]:
    """Open and start a sounddevice stream (``kind`` is ``sd.InputStream`` or
    ``sd.OutputStream``) in our one format, 20 ms blocks of mono int16 at 48 kHz; returns it
    and the device's name for the stats."""
    stream = kind(
        samplerate=SAMPLE_RATE,
        channels=1,
        dtype="int16",
        blocksize=BLOCK,
        device=device,
        callback=callback,
    )
    info = sd.query_devices(stream.device)
    stream.start()
    return stream, str(info.get("name", device or "default"))


class DeviceSource(MicSource):
    """A microphone through sounddevice (PortAudio), 20 ms blocks from its callback thread."""

    def __init__(self, sd: Any, device: str | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Block] = asyncio.Queue(maxsize=50)
        self._stream, self.description = start_stream(sd.InputStream, sd, device, self._callback)
        self._closed = threading.Event()

    def _callback(self, indata: Any, frames: int, _time: Any, _status: Any) -> None:
        block = Block(np.array(indata[:, 0], dtype=np.int16), time.monotonic_ns())
        if not self._closed.is_set():
            self._loop.call_soon_threadsafe(self._put, block)

    def _put(self, block: Block) -> None:
        if self._queue.full():  # nobody reading: keep the newest
            self._queue.get_nowait()
        self._queue.put_nowait(block)

    async def next_block(self) -> Block:
        return await self._queue.get()

    def close(self) -> None:
        self._closed.set()
        try:
            self._stream.stop()
            self._stream.close()
        except Exception as e:  # PortAudio errors on a device that vanished
            log.debug("closing the microphone: %s", e)


def sounddevice_or_reason() -> tuple[Any, str | None]:
    """The sounddevice module, or None and why there is no sound (no PortAudio, no devices)."""
    try:
        import sounddevice as sd
    except OSError as e:  # the wheel is there, libportaudio2 is not
        return None, f"no sound system ({e})"
    except ImportError as e:
        return None, f"no sound system (sounddevice: {e})"
    try:
        devices = sd.query_devices()
    except Exception as e:
        return None, f"no sound devices ({e})"
    if len(devices) == 0:
        return None, "no sound devices"
    return sd, None


def open_source(
    spec: str, *, clip_path: str | None = None, clip_epoch_ns: int | None = None
) -> tuple[MicSource, str | None]:
    """The source for a ``--mic`` spec and, when it fell back to silence, why (said once)."""
    if spec == "silence":
        return PacedSource(silence(0), loop=False, description="silence"), None
    if spec.startswith("file:"):
        path, _, opt = spec[5:].partition(",")
        if opt not in ("", "once", "loop"):
            raise VoiceSourceError(f"--mic {spec!r}: unknown option {opt!r} (once or loop)")
        samples = read_wav(path)
        return PacedSource(samples, loop=opt != "once", description=f"file {Path(path).name}"), None
    if spec == "clip":
        if not clip_path:
            raise VoiceSourceError("--mic clip needs --clip PATH (the clip the tracker plays)")
        samples, _ = read_clip_audio(clip_path)
        name = f"clip {Path(clip_path).name}"
        return PacedSource(samples, loop=True, epoch_ns=clip_epoch_ns, description=name), None
    sd, reason = sounddevice_or_reason()
    if sd is None:
        return PacedSource(silence(0), loop=False, description="none"), reason
    device = None if spec == "default" else spec
    try:
        return DeviceSource(sd, device), None
    except Exception as e:  # no such device, device busy, no input channels
        why = f"microphone {spec!r} unavailable ({e})"
        return PacedSource(silence(0), loop=False, description="none"), why
