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

import av
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
        self._queue: asyncio.Queue[PCM] = asyncio.Queue(maxsize=MAX_QUEUED)
        self._samples = 0
        #: capture_ns of the block last handed to aiortc (for the delay estimate).
        self.sent_blocks = 0

    def feed(self, pcm: PCM) -> None:
        if self.readyState != "live":
            return
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(pcm)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        pcm = await self._queue.get()
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, BLOCK), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._samples
        frame.time_base = TIME_BASE
        self._samples += BLOCK
        self.sent_blocks += 1
        return frame
