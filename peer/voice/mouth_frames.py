"""The voice DSP inside the networking process: echo cancellation on the microphone path, and
the mouth from the voice in the frames we send when the face is not tracked.

Hooked into :class:`peer.voice.engine.Voice` (``hooks``) and :class:`peer.frames.FramePump`
(``outgoing``, ``send_extra``) by :func:`install`:

- **Echo canceller** (:mod:`peer.voice.aec`): ``mic_filter`` processes every captured block,
  ``on_far_audio`` feeds it what the speaker plays. Only for a sound-device microphone: a WAV,
  the clip or silence has no acoustic path from our speaker (no echo, no room noise), and
  processing it would only colour a signal the tests compare sample by sample.
- **Mouth from voice** (:mod:`peer.voice.mouth`): every microphone block (after the canceller:
  the far talker's echo must not move our lips) feeds the estimator, which keeps the shapes
  of the last few hundred ms. Each outgoing frame whose face is not tracked (FACE_PRESENT
  clear, or PAUSED) gets the mouth channels of the shape captured nearest its timestamp and
  the VOICE_MOUTH flag; the blend weight ramps in and out over :data:`BLEND_S`, so the mouth
  eases from the tracked one to the voice's and back when the face returns. While muted the
  voice does not move the mouth (the peer hears nothing). With no frames from the tracker at
  all (no camera, tracker gone) :meth:`VoiceMouth.tick` sends frames of our own at ~30 Hz
  carrying only the voice mouth.

Sequence numbers: the receiver drops a frame whose seq is not after the last one, so frames we
make continue the tracker's numbering, and once we have sent some, the tracker's later frames
are shifted past ours (re-encoded) for the rest of the call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from protocol.blendshapes import BLENDSHAPE_INDEX, NUM_BLENDSHAPES
from protocol.errors import DecodeError, EncodeError
from protocol.frame import FrameFlags, ParamFrame

from .aec import EchoCanceller
from .mouth import MOUTH_CHANNELS, MouthEstimator, MouthShape
from .sources import PCM, SAMPLE_RATE, DeviceSource

if TYPE_CHECKING:
    from ..frames import FramePump
    from .engine import Voice

log = logging.getLogger(__name__)

#: The mouth eases between the tracked face's and the voice's over this long.
BLEND_S = 0.25
#: No tracker frame for this long after it had sent some: the face source is gone (tracker
#: crashed, camera unplugged), we send frames ourselves.
NO_TRACKER_S = 0.2
#: A link open this long without a single tracker frame: there is no camera at all. (Not
#: sooner: a tracker loading its model takes seconds, and frames of ours before its first
#: would shift its sequence numbers for the whole call.)
NO_CAMERA_S = 10.0
#: The voice mouth is used while the microphone was voiced this recently; after a longer
#: silence (or with a silent source: no sound device) the face idles as before.
VOICE_HOLD_S = 1.0
#: Rate of the frames we send ourselves.
OWN_HZ = 30.0
#: Formants are computed until this long after the last frame that needed the voice mouth.
KEEP_FORMANTS_S = 2.0
#: Shapes kept to match a frame's timestamp (10 ms each): 0.5 s.
SHAPES_KEPT = 50
_MOUTH_IDX = np.array([BLENDSHAPE_INDEX[n] for n in MOUTH_CHANNELS], dtype=np.intp)
_SEQ_MASK = 0xFFFFFFFF


class VoiceMouth:
    """Mouth from the microphone for the frames we send; see the module docstring."""

    def __init__(
        self, voice: Voice | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.voice = voice
        self._clock = clock
        self.estimator = MouthEstimator(SAMPLE_RATE)
        self.shapes: deque[MouthShape] = deque(maxlen=SHAPES_KEPT)
        self.weight = 0.0  # voice share of the mouth in the last frame sent
        self._weight_at = clock()
        self._last_seq: int | None = None
        self._last_ts = 0
        self._shift = 0
        self.own_frames = 0
        self.filled_frames = 0
        #: When (our clock) a frame last needed the voice's mouth (no face, or our own frame).
        self._needed_at = -1e9
        self._voiced_ns: int | None = None  # the newest shape with any voice in it

    # -- audio ---------------------------------------------------------------------------------
    def on_mic_audio(self, pcm: PCM, capture_ns: int) -> None:
        """Every microphone block (after echo cancellation)."""
        if self.voice is not None and self.voice.muted:
            pcm = np.zeros_like(pcm)  # muted: the lips must not say what the peer cannot hear
        # While the face is tracked nobody needs the shapes: levels only (cheap), formants
        # again as soon as a frame without a face goes out (within one block of audio).
        self.estimator.formants = self._clock() - self._needed_at < KEEP_FORMANTS_S
        for shape in self.estimator.feed(pcm, capture_ns):
            self.shapes.append(shape)
            if shape.gate > 0.0:
                self._voiced_ns = shape.at_ns

    def voiced(self) -> bool:
        """The microphone carried voice within :data:`VOICE_HOLD_S` (and we are not muted)."""
        if not self.shapes or self._voiced_ns is None:
            return False
        if self.voice is not None and self.voice.muted:
            return False
        return self.shapes[-1].at_ns - self._voiced_ns < VOICE_HOLD_S * 1e9

    def shape_at(self, t_ns: int) -> MouthShape | None:
        """The shape captured nearest ``t_ns`` (None before any audio)."""
        if not self.shapes:
            return None
        return min(self.shapes, key=lambda s: abs(s.at_ns - t_ns))

    # -- frames --------------------------------------------------------------------------------
    def _blend_toward(self, target: float) -> float:
        now = self._clock()
        step = (now - self._weight_at) / BLEND_S
        self._weight_at = now
        if target > self.weight:
            self.weight = min(target, self.weight + step)
        else:
            self.weight = max(target, self.weight - step)
        return self.weight

    def outgoing(self, payload: bytes) -> bytes:
        """A tracker frame on its way out: the voice's mouth when there is no face.

        The usual frame (face tracked, voice mouth blended out, sequence not shifted) goes
        out as it came, and for it only the header is read (:func:`peek_header`): decoding
        the whole frame to learn three integers cost more than the rest of this method
        (~35 us a frame, 30 frames a second; issue 14's CPU budget)."""
        frame: ParamFrame | None = None
        head = peek_header(payload)
        if head is None:  # not the canonical layout: the full decoder says what it is
            try:
                frame = ParamFrame.decode(payload)
            except DecodeError:
                return payload  # the pump's own checks deal with it
            head = (frame.seq, frame.timestamp_us, int(frame.flags))
        frame_seq, timestamp_us, flags = head
        tracked = flags & FrameFlags.FACE_PRESENT and not flags & FrameFlags.PAUSED
        audio = self.voiced()
        if not tracked:
            self._needed_at = self._clock()
        w = self._blend_toward(0.0 if tracked or not audio else 1.0)
        seq = (frame_seq + self._shift) & _SEQ_MASK
        if self._last_seq is not None and not _after(seq, self._last_seq):
            self._shift = (self._shift + (self._last_seq + 1 - seq)) & _SEQ_MASK
            seq = (frame_seq + self._shift) & _SEQ_MASK
        self._last_seq, self._last_ts = seq, max(self._last_ts, timestamp_us)
        if w <= 0.0 and seq == frame_seq:
            return payload
        if frame is None:
            try:
                frame = ParamFrame.decode(payload)
            except DecodeError:
                return payload
        changes: dict[str, Any] = {"seq": seq}
        shape = self.shape_at(frame.timestamp_us * 1000)
        if w > 0.0 and shape is not None:
            changes["blendshapes"] = _blend(frame.blendshapes, shape, w)
            changes["flags"] = frame.flags | FrameFlags.VOICE_MOUTH
            self.filled_frames += 1
        try:
            return dataclasses.replace(frame, **changes).encode()
        except EncodeError as e:
            log.debug("voice mouth: frame kept as it was: %s", e)
            return payload

    def own_frame(self) -> bytes | None:
        """A frame of our own (no tracker frames): the newest voice mouth, nothing else."""
        if not self.voiced():
            return None
        self._needed_at = self._clock()
        shape = self.shapes[-1]
        ts = max(shape.at_ns // 1000, self._last_ts + 1)
        seq = 0 if self._last_seq is None else (self._last_seq + 1) & _SEQ_MASK
        self.weight, self._weight_at = 1.0, self._clock()
        frame = ParamFrame(
            seq=seq,
            timestamp_us=ts,
            flags=FrameFlags.VOICE_MOUTH,
            blendshapes=_blend(bytes(NUM_BLENDSHAPES), shape, 1.0),
        )
        self._last_seq, self._last_ts = seq, ts
        self.own_frames += 1
        return frame.encode()

    async def own_frames_loop(self, pump: FramePump) -> None:
        """Send our own frames at ~30 Hz while the tracker sends none (see the constants).

        While the tracker's frames flow (the usual case) the loop does not poll at 30 Hz: it
        sleeps until the newest one would be :data:`NO_TRACKER_S` old, the first moment our
        own frames could be needed (at most 5 wake-ups a second instead of 30: issue 14's CPU
        budget). A tracker that stops is still noticed :data:`NO_TRACKER_S` after its last
        frame, as before."""
        period = 1.0 / OWN_HZ
        wait = period
        while True:
            await asyncio.sleep(wait)
            wait = period
            now = time.monotonic()
            if not pump.attached_at:
                continue  # no link: nothing to send on (and no sequence number to spend)
            if pump.last_local_write:
                quiet_for = now - pump.last_local_write
                if quiet_for < NO_TRACKER_S:
                    wait = max(period, min(NO_TRACKER_S, NO_TRACKER_S - quiet_for))
                    continue
            elif now - pump.attached_at < NO_CAMERA_S:
                wait = max(period, min(NO_TRACKER_S, pump.attached_at + NO_CAMERA_S - now))
                continue
            payload = self.own_frame()
            if payload is not None:
                pump.send_extra(payload)

    def stats(self) -> dict[str, Any]:
        return {
            "mouth_weight": round(self.weight, 3),
            "mouth_frames": self.filled_frames,
            "mouth_own_frames": self.own_frames,
        }


class VoiceDsp:
    """What :func:`install` set up: the canceller (None when not used) and the mouth."""

    def __init__(self, aec: EchoCanceller | None, why_no_aec: str, mouth: VoiceMouth) -> None:
        self.aec = aec
        self.why_no_aec = why_no_aec
        self.mouth = mouth

    def stats(self) -> dict[str, Any]:
        """Added to the ``voice`` stats: whether echo cancellation runs, the mouth's state."""
        echo = "on" if self.aec is not None and self.aec.active else f"off ({self.why_no_aec})"
        return {"echo_cancel": echo, **self.mouth.stats()}


def install(voice: Voice, pump: FramePump, *, echo_cancel: bool) -> VoiceDsp:
    """Hook the canceller and the voice mouth into a started :class:`Voice` and the pump."""
    aec: EchoCanceller | None = None
    why = ""
    if not echo_cancel:
        why = "switched off"
    elif not isinstance(voice.source, DeviceSource):
        why = "not a sound-device microphone"
    else:
        aec = EchoCanceller(SAMPLE_RATE, frame_ms=20)
        why = aec.unavailable
        if aec.active:
            canceller = aec
            voice.hooks.mic_filter = lambda pcm, _ns: canceller.process(pcm)
            voice.hooks.on_far_audio.append(lambda pcm, _ns: canceller.add_far(pcm))
    mouth = VoiceMouth(voice)
    voice.hooks.on_mic_audio.append(mouth.on_mic_audio)
    pump.outgoing = mouth.outgoing
    return VoiceDsp(aec, why, mouth)


def _blend(blendshapes: bytes, shape: MouthShape, w: float) -> bytes:
    """The frame's blendshape bytes with the mouth channels moved ``w`` of the way to
    ``shape``'s."""
    raw = np.frombuffer(blendshapes, dtype=np.uint8).astype(np.float64) / 255.0
    voice = np.array([shape.weights[n] for n in MOUTH_CHANNELS])
    raw[_MOUTH_IDX] += (voice - raw[_MOUTH_IDX]) * w
    return bytes(np.clip(np.rint(raw * 255.0), 0, 255).astype(np.uint8).tolist())


def peek_header(payload: bytes) -> tuple[int, int, int] | None:
    """``(seq, timestamp_us, flags)`` of a parameter frame in the canonical layout our
    encoder writes (:meth:`protocol.frame.ParamFrame.encode`: a CBOR map whose keys 0..3,
    version, seq, timestamp and flags, come first and in order, each an unsigned integer),
    read without decoding the rest; None for anything else (the caller then decodes in full,
    which also validates). A frame with another version is None too: its layout is not ours."""
    n = len(payload)
    if n < 9 or payload[0] >> 5 != 5 or payload[1:3] != b"\x00\x01":  # map; key 0 = 1
        return None
    pos = 3
    values: list[int] = []
    for key in (1, 2, 3):
        if pos + 1 >= n or payload[pos] != key:
            return None
        head = payload[pos + 1]
        info = head & 0x1F
        if head >> 5 != 0 or info > 27:  # not an unsigned integer, or an indefinite length
            return None
        size = 0 if info < 24 else 1 << (info - 24)
        end = pos + 2 + size
        if end > n:
            return None
        values.append(info if size == 0 else int.from_bytes(payload[pos + 2 : end], "big"))
        pos = end
    seq, timestamp_us, flags = values
    if seq > _SEQ_MASK or timestamp_us >= 1 << 63 or flags > 0xFFFF:  # decode's bounds
        return None
    return seq, timestamp_us, flags


def _after(a: int, b: int) -> bool:
    return 0 < ((a - b) & _SEQ_MASK) < 0x80000000
