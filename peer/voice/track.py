"""The audio track we send: 20 ms blocks from the voice engine, as aiortc ``AudioFrame`` s.

One :class:`MicTrack` per link (aiortc's sender of a closed RTCPeerConnection may stop its
track, so a new link gets a fresh one); the engine's capture loop feeds the current link's
track through :meth:`MicTrack.feed`. aiortc's sender pulls :meth:`recv` and Opus-encodes each
frame (its ``OpusEncoder``, 20 ms frames, in a worker thread).

While muted the engine feeds silence, so the peer's playout keeps its timing and no
renegotiation is needed (the "send silence" choice: Opus codes digital silence in a few bytes
per packet, and unmuting is instant).
"""

from __future__ import annotations

import asyncio
import fractions
import math
from typing import Any

import av
import numpy as np
from aiortc import RTCRtpSender, rtp
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .sources import BLOCK, PCM, SAMPLE_RATE

TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
#: Blocks kept for a sender that is not pulling (link still connecting): older ones are dropped
#: so a track never starts with stale voice.
MAX_QUEUED = 3


class MicTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: asyncio.Queue[tuple[PCM, int]] = asyncio.Queue(maxsize=MAX_QUEUED)
        self._fed = 0
        self.sent_blocks = 0

    def feed(self, pcm: PCM) -> None:
        """The next captured block. Each keeps its capture index: blocks dropped here (aiortc's
        sender not keeping up on a starved machine) leave a gap in the RTP timestamps, which
        the receiver conceals as loss. Numbering only the blocks sent instead would make the
        timestamps run slower than real time, a step the receiver's jitter estimate reads as
        hundreds of ms of jitter (seen: a 300 ms buffer for 2 s after one stall)."""
        if self.readyState != "live":
            return
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait((pcm, self._fed))
        self._fed += 1

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        pcm, index = await self._queue.get()
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, BLOCK), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = index * BLOCK
        frame.time_base = TIME_BASE
        self.sent_blocks += 1
        return frame


class MonoOpusEncoder:
    """What aiortc's sender encodes our track with (:func:`install_encoder`).

    aiortc's own ``OpusEncoder`` upmixes every frame to stereo, re-chunks it through a
    resampler and encodes stereo at 96 kbit/s: for one voice from one microphone that is
    more bits than one voice needs and ~1.7x the encoding CPU. This one encodes our mono 20
    ms blocks as they are, at 64 kbit/s in Opus' VoIP mode. At that rate libopus codes speech
    in CELT, which keeps the waveform (espeak speech through encode+decode correlates 0.97
    with the original, against 0.91 at 32 kbit/s where it switches to SILK/hybrid, whose
    parametric low band does not) and costs less CPU than the hybrid modes (0.5 ms against
    0.76 ms per 20 ms block, encode + decode, on this machine). The SDP still says
    ``opus/48000/2`` as RFC 7587 requires; every Opus decoder plays a mono stream. Same
    interface as aiortc's encoders (``encode(frame, force_keyframe)`` -> payloads and an RTP
    timestamp offset, ``pack``)."""

    BITRATE = 64_000

    def __init__(self) -> None:
        self.codec: Any = av.CodecContext.create("libopus", "w")
        self.codec.bit_rate = self.BITRATE
        self.codec.format = "s16"
        self.codec.layout = "mono"
        self.codec.sample_rate = SAMPLE_RATE
        self.codec.time_base = TIME_BASE
        self.codec.options = {"application": "voip"}
        self._first_pts: int | None = None

    def encode(self, frame: av.AudioFrame, force_keyframe: bool = False) -> tuple[list[bytes], Any]:
        packets = self.codec.encode(frame)
        if not packets:
            return [], None
        # One 20 ms frame in, one packet out: the RTP timestamp is the frame's own capture
        # position (MicTrack.feed), gaps included, not the encoder's count of what it got.
        pts = frame.pts or 0
        if self._first_pts is None:
            self._first_pts = pts
        return [bytes(p) for p in packets], pts - self._first_pts

    def pack(self, packet: Any) -> tuple[list[bytes], int]:
        raise NotImplementedError("the voice track sends raw frames only")


_ENCODER_ATTR = "_RTCRtpSender__encoder"


def install_encoder(sender: RTCRtpSender) -> None:
    """Give ``sender`` a :class:`MonoOpusEncoder` before it starts (aiortc creates its own only
    when the attribute is still None). Raises on an aiortc without that attribute rather than
    silently sending stereo."""
    if not hasattr(sender, _ENCODER_ATTR) or getattr(sender, _ENCODER_ATTR) is not None:
        raise RuntimeError(f"aiortc's RTCRtpSender has no unset {_ENCODER_ATTR}: unsupported")
    setattr(sender, _ENCODER_ATTR, MonoOpusEncoder())


def _audio_level_dbov(frame: av.AudioFrame) -> int:
    """aiortc.rtp.compute_audio_level_dbov (RFC 6465 Appendix A) with numpy: the same number,
    without a Python loop over every sample of every frame on the event loop."""
    pcm = np.frombuffer(bytes(frame.planes[0]), dtype=np.int16)[: frame.samples]
    rms = math.sqrt(float(np.sum(np.square(pcm.astype(np.float64)))) / (frame.samples * 32767**2))
    if rms <= 0:
        return -127
    return max(-127, min(0, round(20 * math.log10(rms))))


#: aiortc's sender computes the RFC 6465 audio level of every audio frame it sends with a
#: Python loop over the samples (0.15 ms per 20 ms frame, on the event loop). It looks the
#: function up on its ``aiortc.rtp`` module at each call; this process only ever sends our voice
#: track, so the module's function is replaced here, once, by a numpy version that returns the
#: same value (tests/peer/test_voice_units.py checks it against aiortc's).
rtp.compute_audio_level_dbov = _audio_level_dbov
