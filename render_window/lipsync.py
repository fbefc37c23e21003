"""Lip sync: hold the peer's avatar back by the audio path's delay, and draw a mouth that the
peer's voice drives (frames flagged ``VOICE_MOUTH``) while the rest of the face idles.

**Delay.** The peer's voice reaches the speaker ``audio_delay_ms`` after it was captured
(packetisation, network, jitter buffer: the networking process measures it and ``call/``
sends it as :class:`protocol.commands.SetPeerDelay`). The avatar's own path is usually faster
(a parameter frame is sent as soon as it is tracked and is shown after a short playout delay),
so without help the lips move before the sound. The window therefore samples the peer's
motion at ``now - delay`` on *our* clock: a frame captured at ``T`` (its capture time mapped
onto this host's clock by the networking process, the ring slot's ``capture_ns``) reaches the
screen at ``T + delay``, exactly when the audio captured at ``T`` plays. Never earlier than
the motion's own playout clock allows (we cannot show a frame before it arrives: the delay is
a floor, "and no more" than the audio's), and a new delay is approached slowly
(:data:`SLEW`: the avatar runs at most 10% fast or slow while it catches up, which nobody
notices, where a jump would skip or freeze the face). Delay 0 (no voice, no audio flowing)
is exactly the low-latency path: the sample time is the motion's own.

**The other way round.** When the avatar's own path is the slower one (tracking on a busy
machine, a slow window), no hold here helps: a frame cannot be shown before it arrives. So the
window measures that path -- capture -> present of the motion's own sample time, without any
hold, per presented frame -- and reports its running median (:data:`PATH_WINDOW` frames)
about once a second as :class:`protocol.events.VideoPathDelay`; call/ (``call.lipsync``) then
holds the *voice* back by the difference (the playout buffer's lip-sync hold), the way
WebRTC's stream synchronisation delays whichever stream is ahead. A median, not a mean: one
stalled frame must not move the voice.

**Voice mouth.** A frame without ``FACE_PRESENT`` idles the face (eyes, head, brows come
from :class:`~render_window.idle.IdleLife`); with ``VOICE_MOUTH`` its mouth channels are real
(the sender estimated them from its microphone), so they are drawn from the stream, with a
spring like the idle one so the mouth eases in and out when voice frames start and stop.
"""

from __future__ import annotations

import collections
import statistics

import numpy as np

from avatars.params import PARAM_NAMES
from protocol.events import MAX_VIDEO_PATH_MS, VideoPathDelay
from protocol.frame import FrameFlags

from .params import PARAM_INDEX, Vector

#: Largest rate at which the applied delay follows a new target (s per s).
SLEW = 0.10
#: Changes smaller than this (ms) are not followed: the audio delay estimate wanders by a few
#: ms from second to second and chasing it would make the face speed up and slow down.
DEADBAND_MS = 4.0
#: Presented frames in the own-path median (1 s at 60 fps; longer when the window is slow).
PATH_WINDOW = 60
#: New frames needed before the own path is reported again (fewer: the peer is not on screen,
#: and a stale figure must not keep the voice held).
PATH_MIN_NEW = 5
#: Spring for the voice mouth's weight (rad/s): eases in/out in ~0.2 s.
MOUTH_OMEGA = 20.0
#: The channels a VOICE_MOUTH frame drives: every jaw and mouth blendshape and the derived
#: ``mouthOpen`` and ``smile``.
MOUTH_NAMES: tuple[str, ...] = tuple(
    n for n in PARAM_NAMES if n.startswith(("mouth", "jaw")) or n == "smile"
)
MOUTH_INDEX = np.array([PARAM_INDEX[n] for n in MOUTH_NAMES], dtype=np.intp)


class LipSync:
    """Per peer stream: the delay it is shown with, and the voice mouth's weight."""

    def __init__(self) -> None:
        #: The delay asked for (s) and the one applied now (s), on our clock.
        self.target = 0.0
        self.applied = 0.0
        #: our clock - sender clock (s), from frames whose capture time we know.
        self._mapping: float | None = None
        self.mouth_w = 0.0
        self._mouth_v = 0.0
        #: The capture instant the last sample shows, on our clock (ns; 0 = unknown).
        self.shown_ns = 0
        #: The capture instant the motion's own clock shows, without a hold (ns; 0 = unknown).
        self.own_ns = 0
        self._moving = False
        #: Own-path delays of recently presented frames (ms), and how many since the last report.
        self._paths: collections.deque[float] = collections.deque(maxlen=PATH_WINDOW)
        self._new_paths = 0

    def set_target(self, delay_ms: float) -> None:
        self.target = max(0.0, delay_ms) / 1000.0

    def observe(self, capture: float, capture_ns: int) -> None:
        """A frame captured at ``capture`` (sender clock, s) that the networking process says
        was captured at ``capture_ns`` on our clock (0 = it could not tell yet)."""
        if capture_ns:
            self._mapping = capture_ns / 1e9 - capture

    def step(self, dt: float) -> None:
        """Move the applied delay toward the target (at most :data:`SLEW` per second)."""
        gap = self.target - self.applied
        if not self._moving and abs(gap) * 1000.0 < DEADBAND_MS:
            return  # a wobble of the estimate: hold
        limit = SLEW * dt
        self.applied += max(-limit, min(limit, gap))
        self._moving = self.applied != self.target  # started: go all the way

    def sample_time(self, now: float, own: float, offset: float) -> float:
        """Sender-clock time to show at our time ``now``: the motion's own sample time
        ``own``, or later in the past when the audio is slower. ``offset`` (arrival -
        capture baseline) stands in for the clock mapping until one is known."""
        s = own
        if self.applied > 0.0:
            s = min(own, now - self.applied - (offset if self._mapping is None else self._mapping))
        mapping = self._mapping
        self.shown_ns = 0 if mapping is None else round((s + mapping) * 1e9)
        self.own_ns = 0 if mapping is None else round((own + mapping) * 1e9)
        return s

    def presented(self, present_ns: int) -> None:
        """The frame last sampled reached the screen at ``present_ns``: one own-path delay."""
        if self.own_ns:
            path = (present_ns - self.own_ns) / 1e6
            if 0.0 <= path <= MAX_VIDEO_PATH_MS:
                self._paths.append(path)
                self._new_paths += 1

    def path_ms(self) -> float | None:
        """The own path's running median (ms), None before any frame."""
        return round(statistics.median(self._paths), 1) if self._paths else None

    def report(self) -> VideoPathDelay | None:
        """The event to send now (the window calls this about once a second), or None when
        fewer than :data:`PATH_MIN_NEW` frames were presented since the last one."""
        path = self.path_ms()
        if path is None or self._new_paths < PATH_MIN_NEW:
            return None
        self._new_paths = 0
        return VideoPathDelay(delay_ms=path, frames=len(self._paths))

    def draw_mouth(self, pose: Vector, tracked: Vector, voice: bool, dt: float) -> None:
        """Blend the stream's mouth over ``pose`` (in place) by the voice mouth's weight,
        which springs toward 1 while ``voice`` (the newest frame is a fresh VOICE_MOUTH one)."""
        target = 1.0 if voice else 0.0
        w, v = self.mouth_w, self._mouth_v
        if dt > 0:
            acc = -2.0 * MOUTH_OMEGA * v - MOUTH_OMEGA * MOUTH_OMEGA * (w - target)
            v += acc * dt
            w += v * dt
            if (w - target) * (self.mouth_w - target) < 0 or abs(w - target) < 1e-4:
                w, v = target, 0.0
        self.mouth_w, self._mouth_v = min(1.0, max(0.0, w)), v
        if self.mouth_w > 0.0:
            idx = MOUTH_INDEX
            pose[idx] += (np.clip(tracked[idx], 0.0, 1.0) - pose[idx]) * self.mouth_w


def voice_mouth(flags: FrameFlags) -> bool:
    """The frame's mouth comes from the voice (drawn even though the face idles)."""
    return bool(flags & FrameFlags.VOICE_MOUTH)
