"""Adaptive playout of the peer's voice: our jitter buffer, Opus decoding and loss concealment.

What this changes in aiortc, and why
------------------------------------
aiortc's ``RTCRtpReceiver`` puts every audio RTP packet in a fixed ``JitterBuffer(capacity=16,
prefetch=4)`` and decodes on a thread into the remote track's queue. Prefetch 4 means a packet
waits until four 20 ms packets are queued behind it: about 80 ms of delay on every path, even a
clean loopback, and a lost packet is simply skipped (a click and a 20 ms hole, no
concealment). That fixed buffer is too slow for a conversation on a clean path and has no
concealment for a lossy one.

So for the audio receiver of each link, :func:`install_tap` replaces that one receiver's jitter
buffer object (aiortc's private ``_RTCRtpReceiver__jitter_buffer``, an instance attribute set
in its constructor) with :class:`PacketTap`, a ``JitterBuffer`` subclass whose ``add`` hands
every depayloaded Opus packet to our :class:`PlayoutBuffer` and never returns a frame, so
aiortc's decoder thread stays idle. Nothing else in aiortc is touched: SRTP, RTCP receiver
reports, SSRC tracking and statistics all still run in aiortc. The replacement is done here,
by name, only on the receivers we install it on; a future aiortc that renames the attribute
makes :func:`install_tap` raise instead of silently keeping the fixed buffer.

The playout buffer
------------------
The playout loop asks for one 20 ms block per tick (:meth:`PlayoutBuffer.pull`). The buffer
plays packets in RTP timestamp order from a cursor and adapts its depth to measured jitter:

- jitter: each packet's relative transit ``arrival - ts / 48 kHz``; over the last
  :data:`JITTER_WINDOW` packets, the spread of the 95th percentile above the minimum is how
  late a packet can be compared to the earliest. ``target_ms = 20 ms + spread + 5 ms margin``
  (20 ms: the frame at the cursor must be there at the tick), within
  [:data:`MIN_TARGET_MS`, :data:`MAX_TARGET_MS`]. A clean loopback settles at ~25-30 ms; with
  40 +- 10 ms network delay the spread is ~20 ms and the target ~45-50 ms.
- underrun (nothing at or after the cursor: the next packet is late): play a concealment block
  and *do not* advance, which adds 20 ms of delay exactly when the path needed it.
- loss (the cursor's packet is missing, a later one is here, and the missing one is later
  than 95% of packets arrive: its arrival deadline, ``ts / 48 kHz`` + the window's lowest
  transit + the spread + margin, has passed; or the next one has already waited the jitter
  allowance, ``target - 20 ms``; or the buffer is at or above its target): conceal and
  advance at once. Waiting one more tick for a packet that is not coming would add 20 ms
  of delay that stays until a pause sheds it. A sender
  that bursts (a busy machine sends two packets back to back) and network jitter reorder
  packets; the allowance keeps a reordered packet from being taken for a lost one.
- too deep: a block of silence (a pause between words) is dropped as soon as the buffer has
  been a frame deeper than its target for 60 ms (inaudible, so it can be quick); in speech
  without pauses, one packet is skipped once the lowest level over the last
  :data:`SHRINK_WINDOW` ticks (200 ms) exceeds the target by a frame.

Lip-sync hold
-------------
When the peer's avatar reaches our screen later than their voice reaches our speaker, call/
asks for a *hold* (:meth:`PlayoutBuffer.set_hold`, from :class:`protocol.commands.SetSyncHold`;
the decision is :mod:`call.lipsync`): extra delay on top of the jitter target, as WebRTC's
NetEq takes a minimum delay from its stream synchronisation. ``target_ms`` is then the jitter
target plus the hold (``jitter_target_ms`` stays the jitter part alone, for the stats). A
larger target is *grown* into gently: while the buffer has been a frame short of it over
:data:`SHRINK_WINDOW` pulls, a 20 ms block of silence is inserted in a pause (the last block
played was quiet; inaudible), and in speech without pauses, after :data:`GROW_SPEECH_PULLS`,
one concealment block (the same repeat an underrun plays). A smaller one is shed by the rules
above (pauses first). Without a hold nothing here changes: the natural path grows only on
underruns, as before.

Concealment: the last decoded block repeated with a 0.5 gain per repeat (after three in a row,
silence), faded in and out over 2.5 ms to avoid clicks. Cheap and good enough for isolated 20
ms losses at 5%, where speech stays intelligible; Opus' own PLC would need the raw libopus API,
which PyAV does not expose. For the same reason the sender does not turn on Opus in-band FEC:
recovering a lost frame from the next packet's redundancy needs libopus' decode with
``decode_fec=1``, which neither PyAV nor aiortc offer, so the FEC bits would be sent for
nothing.
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtp import RtpPacket

from .sources import BLOCK, BLOCK_MS, PCM, SAMPLE_RATE, silence
from .stats import dbfs

log = logging.getLogger(__name__)

#: Packets in the jitter estimate (2 s of 20 ms packets).
JITTER_WINDOW = 100
#: The target for the first second of a link, before the estimate has half a window: the
#: first seconds after connecting are the burstiest (DTLS just done, hello, avatar offers,
#: clock sync on both event loops), and a start without underruns is worth 30 ms for one second
#: (shed in the first pauses afterwards).
START_TARGET_MS = 60.0
#: The target is recomputed every this many pulls (100 ms).
TARGET_EVERY = 5
MIN_TARGET_MS = 20.0
MAX_TARGET_MS = 300.0
MARGIN_MS = 5.0
#: Ticks over which the buffer's lowest level must exceed the target before a packet is skipped.
SHRINK_WINDOW = 10
#: Pulls over which the buffer must stay a frame too deep before a pause is dropped, and how
#: quiet a pause is (dBFS: below the voice activity threshold of :mod:`peer.voice.stats`).
QUIET_WINDOW = 3
QUIET_DBFS = -45.0
#: More buffered than this is not jitter but a stall (or a sender clock jump): restart.
RESET_MS = 1000.0
#: Lip-sync hold: pulls a short buffer waits for a pause before a concealment block grows it
#: in speech (1 s: speech has a pause between most words, this is the exception).
GROW_SPEECH_PULLS = 50
#: Repeats of the last block before concealment becomes silence.
MAX_CONCEAL = 3
_FADE = SAMPLE_RATE // 400  # 2.5 ms
#: The fade-in after concealment and the fade-out of the last repeat (made once, not per block).
_RAMP_IN = np.linspace(0.0, 1.0, _FADE, dtype=np.float32)
_RAMP_OUT = _RAMP_IN[::-1].copy()
_ATTR = "_RTCRtpReceiver__jitter_buffer"


@dataclass(slots=True)
class _Packet:
    payload: bytes
    arrival_ns: int


class OpusDecoder:
    """PyAV's libopus decoder, mono 48 kHz int16 out.

    A packet byte-identical to the previous one, which decoded to nothing but zeros, is
    answered with zeros without running libopus: the stream of a muted peer or one without a
    microphone (the same 3-byte CELT silence frame every 20 ms, see
    :class:`peer.voice.track.MonoOpusEncoder`) then costs no decoding (~50 us a block;
    issue 14's CPU budget). Only the exact bytes that just gave digital silence qualify, so a
    decoder state still fading out (its output not yet all zeros) is always decoded; on our
    own streams the output is bit-identical to decoding every packet (tested)."""

    def __init__(self) -> None:
        from av import CodecContext

        self.codec: Any = CodecContext.create("libopus", "r")
        self.codec.format = "s16"
        self.codec.layout = "mono"
        self.codec.sample_rate = SAMPLE_RATE
        #: The last payload that decoded to all zeros (b"": none yet, or sound since).
        self._silent_payload = b""
        #: Packets answered as silence without decoding (for tests and stats).
        self.silence_reused = 0

    def decode(self, payload: bytes) -> PCM | None:
        if payload == self._silent_payload:
            self.silence_reused += 1
            return silence()
        pcm = self._decode(payload)
        self._silent_payload = payload if pcm is not None and not pcm.any() else b""
        return pcm

    def _decode(self, payload: bytes) -> PCM | None:
        from av import Packet

        try:
            frames = self.codec.decode(Packet(payload))
        except Exception as e:  # a corrupt packet from the network: conceal it
            log.debug("opus decode failed: %s", e)
            return None
        if not frames:
            return None
        if len(frames) == 1 and _packed_s16_mono(frames[0]):  # the usual case: one 20 ms frame
            # The samples straight from the frame's buffer, copied once (the decoder reuses
            # its buffers): what to_ndarray gives, without its format lookups and vstack.
            frame = frames[0]
            raw = np.frombuffer(frame.planes[0], dtype=np.int16, count=frame.samples).copy()
        elif len(frames) == 1:
            raw = frames[0].to_ndarray().reshape(-1)
        else:
            raw = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
        pcm: PCM = np.asarray(raw, dtype=np.int16)
        if len(pcm) != BLOCK:
            pcm = np.resize(pcm, BLOCK) if len(pcm) else silence()
        return pcm


def _packed_s16_mono(frame: Any) -> bool:
    return bool(frame.format.name == "s16" and frame.layout.nb_channels == 1)


class PlayoutBuffer:
    """One link's received voice: packets in, one 20 ms block per :meth:`pull` out."""

    def __init__(self) -> None:
        self.decoder = OpusDecoder()
        self.packets: dict[int, _Packet] = {}
        self.cursor: int | None = None  # unwrapped RTP timestamp of the next block to play
        self._last_ts32: int | None = None
        self._ts_base = 0  # unwrapped = ts32 + _ts_base
        self._transits: collections.deque[float] = collections.deque(maxlen=JITTER_WINDOW)
        self._levels: collections.deque[float] = collections.deque(maxlen=SHRINK_WINDOW)
        self._last: PCM = silence()
        self._concealed_run = 0
        #: The jitter target alone (ms) and the lip-sync hold on top of it (ms);
        #: ``target_ms`` is their sum, the depth the buffer keeps.
        self.jitter_target_ms = START_TARGET_MS
        self.hold_ms = 0.0
        self.target_ms = START_TARGET_MS
        self._short_pulls = 0
        self._pulls = 0
        #: The jitter estimate: the lowest relative transit of the window (ms; None until the
        #: first estimate) and how much later than that the 95th percentile arrives.
        self._base_transit: float | None = None
        self._spread = 0.0
        # counters (since the link came up)
        self.received = 0
        self.late = 0  # arrived after their turn had passed
        self.played = 0
        self.concealed = 0
        self.lost = 0
        self.skipped = 0
        self.underruns = 0
        self.stretched = 0  # blocks inserted to grow into a lip-sync hold
        #: Time packets spent here, arrival to playout (ms), smoothed.
        self.wait_ms = 0.0

    # -- input (from PacketTap, on the event loop) -------------------------------------------
    def push(self, ts32: int, payload: bytes, arrival_ns: int) -> None:
        ts = self._unwrap(ts32)
        self.received += 1
        self._transits.append(arrival_ns / 1e6 - ts * 1000 / SAMPLE_RATE)
        if self.cursor is not None and ts < self.cursor:
            self.late += 1
            return
        self.packets[ts] = _Packet(payload, arrival_ns)

    def _unwrap(self, ts32: int) -> int:
        if self._last_ts32 is not None:
            delta = (ts32 - self._last_ts32) & 0xFFFFFFFF
            if delta >= 1 << 31:  # backwards (reordered)
                delta -= 1 << 32
            unwrapped = self._last_ts32 + self._ts_base + delta
            self._ts_base = unwrapped - ts32
        self._last_ts32 = ts32
        return ts32 + self._ts_base

    # -- jitter ---------------------------------------------------------------------------
    def _update_target(self) -> None:
        """Every :data:`TARGET_EVERY` pulls (the estimate moves slowly; a partition of 100
        values per 20 ms block would be most of the playout's CPU)."""
        self._pulls += 1
        if len(self._transits) < 5 or self._pulls % TARGET_EVERY:
            return
        values = np.fromiter(self._transits, dtype=np.float64)
        k = int(0.95 * (len(values) - 1))
        self._base_transit = float(values.min())
        spread = float(np.partition(values, k)[k]) - self._base_transit
        self._spread = spread
        floor = MIN_TARGET_MS if len(values) >= JITTER_WINDOW // 2 else START_TARGET_MS
        self.jitter_target_ms = min(MAX_TARGET_MS, max(floor, BLOCK_MS + spread + MARGIN_MS))
        self.target_ms = self.jitter_target_ms + self.hold_ms

    def set_hold(self, hold_ms: float) -> None:
        """Keep ``hold_ms`` more voice buffered than jitter needs (lip sync; see the module
        docstring). Takes effect on the target at once; the depth follows in pauses."""
        self.hold_ms = max(0.0, min(MAX_TARGET_MS, hold_ms))
        self.target_ms = self.jitter_target_ms + self.hold_ms

    def level_ms(self) -> float:
        """Voice buffered from the cursor to the newest packet (ms, 0 if none)."""
        if self.cursor is None or not self.packets:
            return 0.0
        newest = max(self.packets)
        return max(0.0, (newest + BLOCK - self.cursor) * 1000 / SAMPLE_RATE)

    # -- output (from the playout loop, once per 20 ms tick) -------------------------------
    def pull(self, now_ns: int, play_ns: int | None = None) -> PCM | None:
        """The block to play now; None before the first packet's turn (play silence).
        ``play_ns``: when the block is heard, on the sink's clock (the playout loop's slot);
        a starved loop pulls late and catches up, and the time a packet waited is to the
        moment it is heard, not to the late pull (that overstated the audio delay under load
        by the loop's lag). Decisions (loss, underrun) stay on ``now_ns``: what has arrived."""
        self._update_target()
        if self.cursor is None:
            if not self.packets:
                return None
            first = min(self.packets)
            # Start once the first packet has waited the jitter margin beyond one frame.
            if (now_ns - self.packets[first].arrival_ns) / 1e6 < self.target_ms - BLOCK_MS:
                return None
            self.cursor = first
        level = self.level_ms()
        if level > RESET_MS:
            log.info("voice buffer %.0f ms deep: restarting playout at the newest packet", level)
            newest = max(self.packets)
            self.packets = {t: p for t, p in self.packets.items() if t >= newest - BLOCK}
            self.cursor = min(self.packets)
            level = self.level_ms()
        self._levels.append(level)
        if self._grow():
            return self._stretch()
        if (
            len(self._levels) == SHRINK_WINDOW
            and min(self._levels) > self.target_ms + BLOCK_MS
            and self.cursor in self.packets
        ):
            self._skip_one()
        packet = self.packets.pop(self.cursor, None) if self.cursor is not None else None
        assert self.cursor is not None
        if packet is not None:
            pcm = self.decoder.decode(packet.payload)
            self.cursor += BLOCK
            if pcm is not None and self._quiet_skip(pcm):
                # Too deep and this block is a pause: drop it and play the next one now.
                # Shedding delay in pauses is inaudible, so it needs no waiting window.
                self.skipped += 1
                nxt = self.packets.pop(self.cursor, None)
                if nxt is not None:
                    packet, pcm = nxt, self.decoder.decode(nxt.payload)
                    self.cursor += BLOCK
            heard = now_ns if play_ns is None else play_ns
            self.wait_ms += 0.1 * ((heard - packet.arrival_ns) / 1e6 - self.wait_ms)
            if pcm is None:
                self.lost += 1
                return self._conceal()
            return self._play(pcm)
        after = self.packets.get(self.cursor + BLOCK)
        if (
            (after is not None and (now_ns - after.arrival_ns) / 1e6 >= self.target_ms - BLOCK_MS)
            or (self.packets and max(self.packets) > self.cursor and level >= self.target_ms)
            or self._overdue(now_ns)
        ):
            self.lost += 1
            self.cursor += BLOCK
        else:
            self.underruns += 1  # late: wait for it, 20 ms more delay from now on
        return self._conceal()

    def _grow(self) -> bool:
        """A lip-sync hold the buffer is short of: a frame below its target over the whole
        :data:`SHRINK_WINDOW`, and either the last block played was a pause or the shortfall
        has lasted :data:`GROW_SPEECH_PULLS`. Never without a hold (see the module docstring)."""
        if self.hold_ms <= 0.0 or len(self._levels) < SHRINK_WINDOW:
            self._short_pulls = 0
            return False
        if max(self._levels) >= self.target_ms - BLOCK_MS:
            self._short_pulls = 0
            return False
        self._short_pulls += 1
        return self.played > 0 and (
            dbfs(self._last) < QUIET_DBFS or self._short_pulls >= GROW_SPEECH_PULLS
        )

    def _stretch(self) -> PCM:
        """Play one block without advancing the cursor: 20 ms more delay. In a pause that is
        silence (the pause just lasts 20 ms longer); in speech, a concealment block."""
        self.stretched += 1
        self._levels.clear()
        self._short_pulls = 0
        if dbfs(self._last) < QUIET_DBFS:
            return silence()
        return self._conceal()

    def _overdue(self, now_ns: int) -> bool:
        """The cursor's packet is later than 95% of packets arrive (its relative transit
        would exceed the window's lowest by more than the measured spread, plus the margin)
        while a later packet is here: lost, conceal it now. Waiting for it (an underrun) would
        add 20 ms of delay that stays until the next pause sheds it: at 5% loss that is most
        of the impaired path's p95."""
        if self._base_transit is None or self.cursor is None or not self.packets:
            return False
        if max(self.packets) <= self.cursor:
            return False  # nothing after it: a stall, not a loss
        due_ms = self.cursor * 1000 / SAMPLE_RATE + self._base_transit + self._spread + MARGIN_MS
        return now_ns / 1e6 >= due_ms

    def _quiet_skip(self, pcm: PCM) -> bool:
        """True when the buffer has been a frame deeper than its target over the last
        :data:`QUIET_WINDOW` pulls, the next block is already here, and ``pcm`` is a pause."""
        if len(self._levels) < QUIET_WINDOW or self.cursor is None:
            return False
        recent = list(self._levels)[-QUIET_WINDOW:]
        if min(recent) <= self.target_ms + BLOCK_MS or self.cursor not in self.packets:
            return False
        if dbfs(pcm) >= QUIET_DBFS:
            return False
        self._levels.clear()
        return True

    def _skip_one(self) -> None:
        """Drop the packet at the cursor (buffer deeper than needed). It is still decoded, so
        the decoder's state stays continuous."""
        assert self.cursor is not None
        self.decoder.decode(self.packets.pop(self.cursor).payload)
        self.cursor += BLOCK
        self.skipped += 1
        self._levels.clear()

    def _play(self, pcm: PCM) -> PCM:
        if self._concealed_run:  # fade in after concealment
            pcm = pcm.copy()
            pcm[:_FADE] = (pcm[:_FADE].astype(np.float32) * _RAMP_IN).astype(np.int16)
        self._concealed_run = 0
        self._last = pcm
        self.played += 1
        return pcm

    def _conceal(self) -> PCM:
        self._concealed_run += 1
        self.concealed += 1
        if self._concealed_run > MAX_CONCEAL:
            return silence()
        out = self._last.astype(np.float32) * 0.5**self._concealed_run
        if self._concealed_run == MAX_CONCEAL:  # the last repeat fades out
            out[-_FADE:] *= _RAMP_OUT
        return out.astype(np.int16)

    # -- stats ----------------------------------------------------------------------------
    def loss_pct(self) -> float:
        expected = self.played + self.lost
        return 100.0 * self.lost / expected if expected else 0.0

    def concealed_pct(self) -> float:
        total = self.played + self.concealed
        return 100.0 * self.concealed / total if total else 0.0


class PacketTap(JitterBuffer):
    """Stands in for aiortc's audio jitter buffer on one receiver (see the module docstring):
    every packet goes to the :class:`PlayoutBuffer`; aiortc's decoder never gets a frame."""

    def __init__(self, playout: PlayoutBuffer) -> None:
        super().__init__(capacity=16)
        self.playout = playout

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        data = getattr(packet, "_data", b"")  # aiortc's depayloaded payload
        if data:
            self.playout.push(packet.timestamp, bytes(data), time.monotonic_ns())
        return False, None


def install_tap(receiver: RTCRtpReceiver, playout: PlayoutBuffer) -> None:
    """Replace ``receiver``'s fixed audio jitter buffer with a :class:`PacketTap`."""
    if not isinstance(getattr(receiver, _ATTR, None), JitterBuffer):
        raise RuntimeError(
            f"aiortc's RTCRtpReceiver has no {_ATTR}: this aiortc version is not supported"
        )
    setattr(receiver, _ATTR, PacketTap(playout))
