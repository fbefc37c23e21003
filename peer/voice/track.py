"""The audio track we send: 20 ms blocks from the voice engine, as Opus packets for aiortc.

One :class:`MicTrack` per link (aiortc's sender of a closed RTCPeerConnection may stop its
track, so a new link gets a fresh one); the engine's capture loop feeds the current link's
track through :meth:`MicTrack.feed`. aiortc's sender pulls :meth:`recv`, which encodes the block
(:class:`MonoOpusEncoder`, on the event loop) and yields the Opus packet for aiortc to send.

While muted the engine feeds silence, so the peer's playout keeps its timing and no
renegotiation is needed (the "send silence" choice: Opus codes digital silence in a few bytes
per packet, which :class:`MonoOpusEncoder` repeats without running the encoder once it has
settled, and unmuting is instant).
"""

from __future__ import annotations

import asyncio
import collections
import fractions
from typing import Any

import av
from aiortc import RTCRtpSender
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .sources import BLOCK, PCM, SAMPLE_RATE

TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
#: Blocks kept for a sender that is not pulling (link still connecting): older ones are dropped
#: so a track never starts with stale voice.
MAX_QUEUED = 3


class MicTrack(MediaStreamTrack):
    """Yields Opus packets, not frames: see :class:`MonoOpusEncoder` for why the encoding is
    done here, on the event loop."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        #: Captured blocks not yet pulled, with their capture index (at most MAX_QUEUED), and
        #: the sender's wait for the next one. A deque and a bare future rather than an
        #: asyncio.Queue: one block in, one out every 20 ms needs none of the Queue's
        #: bookkeeping (a third of the Python calls of the hand-over; issue 14's CPU budget).
        self._blocks: collections.deque[tuple[PCM, int]] = collections.deque(maxlen=MAX_QUEUED)
        self._waiter: asyncio.Future[None] | None = None
        self._fed = 0
        self._pending: collections.deque[av.Packet[Any]] = collections.deque()
        self.encoder = MonoOpusEncoder()
        self.sent_blocks = 0

    def feed(self, pcm: PCM) -> None:
        """The next captured block (the oldest is dropped beyond :data:`MAX_QUEUED`). Each
        keeps its capture index: blocks dropped here (aiortc's sender not keeping up on a
        starved machine) leave a gap in the RTP timestamps, which the receiver conceals as
        loss. Numbering only the blocks sent instead would make the timestamps run slower than
        real time, a step the receiver's jitter estimate reads as hundreds of ms of jitter
        (seen: a 300 ms buffer for 2 s after one stall)."""
        if self.readyState != "live":
            return
        self._blocks.append((pcm, self._fed))
        self._fed += 1
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def recv(self) -> av.Packet[Any]:  # aiortc takes Frame | Packet
        if self.readyState != "live":
            raise MediaStreamError
        while not self._pending:
            while not self._blocks:
                self._waiter = asyncio.get_running_loop().create_future()
                await self._waiter
            pcm, index = self._blocks.popleft()
            self._pending.extend(self.encoder.packets(pcm, index))
            self.sent_blocks += 1
        return self._pending.popleft()


class MonoOpusEncoder:
    """Our Opus encoder: mono 20 ms blocks, 64 kbit/s, CELT only at complexity 5, run by
    :class:`MicTrack`.

    What this changes in aiortc's sender, and why:

    - **Mono at 64 kbit/s.** aiortc's own ``OpusEncoder`` upmixes every frame to stereo,
      re-chunks it through a resampler and encodes stereo at 96 kbit/s: for one voice from one
      microphone that is more bits than one voice needs and ~1.7x the encoding CPU. At 64
      kbit/s libopus codes speech in CELT, which keeps the waveform (espeak speech through
      encode+decode correlates 0.97 with the original, against 0.91 at 32 kbit/s where it
      switches to SILK/hybrid, whose parametric low band does not) and costs less CPU than the
      hybrid modes (0.5 ms against 0.76 ms per 20 ms block, encode + decode, on this
      machine). The SDP still says ``opus/48000/2`` as RFC 7587 requires; every Opus decoder
      plays a mono stream.
    - **Encoded on the event loop, handed to aiortc as packets.** aiortc's sender encodes each
      *frame* a track yields in its thread pool (``run_in_executor``): per 20 ms block a
      future, a work-queue put, a worker wake-up, a self-pipe write and two GIL hand-overs,
      which on a busy 2-core machine cost more CPU than the 0.2 ms encode itself (profiled:
      a quarter of the networking thread's voice time sat in that hand-over). A track that
      yields encoded *packets* takes aiortc's other, documented path (``Encoder.pack``, used
      for pre-encoded media), which runs inline; so :class:`MicTrack` encodes and yields
      packets, and :class:`OpusPacker` packs them. A side effect: aiortc computes the RFC 6465
      audio level header only for frames, so our packets carry none (nothing we talk to uses
      it; it was a Python loop over every sample before we replaced it anyway).
    - **CELT only ("restricted low delay"), complexity 5** (issue 14's CPU budget). At 64
      kbit/s the VoIP application codes speech in CELT anyway, but it keeps SILK's analysis and
      its 4 ms of extra look-ahead. The low-delay application is CELT alone: 2.5 ms of
      algorithmic delay instead of 6.5 ms (4 ms off mouth-to-ear), no speech high-pass in
      front of the coder, and a closer waveform (espeak speech through encode+decode correlates
      0.998 with the original, against 0.974 in VoIP mode). Complexity 5 of 10 (FFmpeg's
      ``compression_level``) drops the costliest of CELT's search effort: the encode measured
      169 against 221 us per block (-24%) on this machine, at the same 0.998. Lower settings
      save a few us more each and give up more of CELT's analysis; 5 is the middle of the
      range, where we measured no loss.
    - **Digital silence is encoded until the encoder settles, then repeated** (issue 14's CPU
      budget). A muted microphone (the engine feeds zeros) or none at all ("silence") still
      sends a packet every 20 ms so the peer's playout keeps its timing, and libopus spends
      about as long on a block of zeros as on speech (~125 against ~150 us). A few blocks
      into the zeros the encoder emits the same tiny CELT silence frame (3 bytes) every time;
      once it has given the same bytes :data:`SILENCE_SETTLE` times in a row for zero input,
      further zero blocks reuse those bytes without running the encoder. Sound resumes
      through the encoder as usual: its state is the one it had after the last silent block
      it saw, so the next packets differ from an encoder that had seen every zero (a
      different, equally good encoding: decoded speech correlates 0.9981 with the original
      either way, measured on espeak speech cut by pauses of 3-40 blocks)."""

    BITRATE = 64_000
    #: Identical packets for zero input after which zero blocks reuse them (see above).
    SILENCE_SETTLE = 2
    #: FFmpeg's libopus options: "lowdelay" = OPUS_APPLICATION_RESTRICTED_LOWDELAY (CELT only),
    #: "compression_level" = OPUS_SET_COMPLEXITY.
    OPTIONS = {"application": "lowdelay", "compression_level": "5"}

    def __init__(self) -> None:
        self.codec: Any = av.CodecContext.create("libopus", "w")
        self.codec.bit_rate = self.BITRATE
        self.codec.format = "s16"
        self.codec.layout = "mono"
        self.codec.sample_rate = SAMPLE_RATE
        self.codec.time_base = TIME_BASE
        self.codec.options = dict(self.OPTIONS)
        #: The encoder's last packet for a block of zeros, and how many times in a row it
        #: gave exactly those bytes (the silence shortcut of the class docstring).
        self._silent_bytes = b""
        self._silent_run = 0
        #: Blocks encoded, and zero blocks answered without the encoder (for tests and stats).
        self.encoded = 0
        self.silence_reused = 0

    def packets(self, pcm: PCM, index: int) -> list[av.Packet[Any]]:
        """Block number ``index`` (of the capture timeline) encoded. One 20 ms block in, one
        packet out, stamped with the block's own capture position (gaps included), not the
        encoder's count of what it got."""
        silent = not pcm.any()
        if silent and self._silent_run >= self.SILENCE_SETTLE:
            self.silence_reused += 1
            return [self._stamp(av.Packet(self._silent_bytes), index)]
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, BLOCK), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = index * BLOCK
        frame.time_base = TIME_BASE
        out: list[av.Packet[Any]] = list(self.codec.encode(frame))
        self.encoded += 1
        for packet in out:
            self._stamp(packet, index)
        if silent and len(out) == 1:
            payload = bytes(out[0])
            same = payload == self._silent_bytes
            self._silent_run = self._silent_run + 1 if same else 1
            self._silent_bytes = payload
        else:
            self._silent_run = 0
        return out

    @staticmethod
    def _stamp(packet: av.Packet[Any], index: int) -> av.Packet[Any]:
        packet.pts = index * BLOCK
        packet.time_base = TIME_BASE
        return packet


class OpusPacker:
    """What aiortc's sender "encodes" our track with (:func:`install_encoder`): the packets are
    Opus already (:class:`MonoOpusEncoder`); each goes out as one RTP payload whose timestamp
    is its capture position from the first one sent. Same interface as aiortc's encoders."""

    def __init__(self) -> None:
        self._first_pts: int | None = None

    def encode(self, frame: av.AudioFrame, force_keyframe: bool = False) -> tuple[list[bytes], Any]:
        raise NotImplementedError("the voice track yields Opus packets, not frames")

    def pack(self, packet: av.Packet[Any]) -> tuple[list[bytes], int]:
        pts = packet.pts or 0
        if self._first_pts is None:
            self._first_pts = pts
        return [bytes(packet)], pts - self._first_pts


_ENCODER_ATTR = "_RTCRtpSender__encoder"


def install_encoder(sender: RTCRtpSender) -> None:
    """Give ``sender`` an :class:`OpusPacker` before it starts (aiortc creates its own encoder
    only when the attribute is still None: a stereo Opus encoder we would never use, or for a
    non-Opus codec one that would mislabel our Opus packets). Raises on an aiortc without
    that attribute rather than sending something else."""
    if not hasattr(sender, _ENCODER_ATTR) or getattr(sender, _ENCODER_ATTR) is not None:
        raise RuntimeError(f"aiortc's RTCRtpSender has no unset {_ENCODER_ATTR}: unsupported")
    setattr(sender, _ENCODER_ATTR, OpusPacker())
