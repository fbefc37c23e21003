"""Smooth motion from irregular parameter frames: playout delay, interpolation, bounded
extrapolation, error smoothing and easing into idle life.

Frames arrive at the tracker's rate (20-30 Hz) with network jitter; the window draws at 60 Hz.
Each frame's capture time is on the *sender's* clock, so we never compare it with ours directly:
the playout clock is ``sample = now - offset - delay`` where ``offset`` is the smallest transit
(arrival - capture) seen recently (clock offset plus the fastest path) and ``delay`` is the
playout delay: one sender frame interval (so there is always a frame ahead to interpolate toward)
plus ``JITTER_K`` times RFC 3550 inter-arrival jitter, capped at ``MAX_DELAY_S``. In low-latency
mode the interval term is left out and the gap is bridged by extrapolation. A frame later
than that is covered by extrapolating from the last two frames for at most ``MAX_EXTRAPOLATE_S``;
the jump back when it arrives is smoothed away. When frames stop, the face is lost or tracking is
paused, a critically damped spring carries the pose into :class:`IdleLife`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from avatars.params import POSE_PARAMS, SIGNED_BODY_PARAMS
from protocol.frame import FrameFlags, ParamFrame

from .idle import IdleLife
from .lipsync import LipSync, voice_mouth
from .params import (
    GROUP_INDEX,
    GROUP_NAMES,
    PARAM_INDEX,
    Vector,
    body_presence,
    frame_to_vector,
    neutral_vector,
)

#: Jitter multiplier: 3x mean deviation covers nearly all late frames on a normal path.
JITTER_K = 3.0
#: Cap on the playout delay: beyond this, latency hurts more than an occasional extrapolation.
MAX_DELAY_S = 0.060
#: Extrapolation horizon: longer than that, velocity guesses become visible nonsense.
MAX_EXTRAPOLATE_S = 0.100
#: No frame for this long means the stream stopped: ease into idle.
STALE_AFTER_S = 0.5
#: Natural frequency of the idle spring (rad/s): settles in ~0.5 s without overshoot.
IDLE_OMEGA = 9.0
#: Time constant with which an extrapolation error is blended away after a late frame arrives.
CORRECTION_TAU_S = 0.05
#: Allowed upward creep of the transit baseline (s per s): follows clock drift and route
#: changes without letting one slow frame raise the baseline.
OFFSET_CREEP = 0.002
#: A transit this far above the baseline means the sender's clock jumped (restart): re-anchor.
OFFSET_RESET_S = 1.0
#: A body group missing for less than this keeps its pose (a hand model that runs every other
#: frame, one missed detection); longer, it eases to rest.
BODY_GRACE_S = 0.15
#: Frames kept for interpolation: about 2 s at 60 Hz, enough for a lip-sync delay (at most
#: 1 s, protocol.commands.MAX_PEER_DELAY_MS) at any tracker rate.
HISTORY = 128

# Channels that must stay in 0..1 after extrapolation (blendshapes and derived weights).
_UNIT = np.ones(len(PARAM_INDEX), dtype=bool)
for _name in (*POSE_PARAMS, "breath", *SIGNED_BODY_PARAMS):
    _UNIT[PARAM_INDEX[_name]] = False
_BREATH = PARAM_INDEX["breath"]


@dataclass(slots=True)
class _Entry:
    capture: float  # sender clock, s
    arrival: float  # our clock, s
    seq: int
    vec: Vector
    flags: FrameFlags
    capture_ns: int  # capture on *our* CLOCK_MONOTONIC (the ring slot's), ns; 0 = unknown
    present: tuple[bool, ...] = ()  # per body group (params.GROUP_NAMES): seen in this frame


class Shown(NamedTuple):
    """A frame whose parameters first reach the screen in a sample: what capture -> present
    latency needs (our clock throughout; ``capture_ns`` 0 when the writer could not tell)."""

    seq: int
    capture_ns: int
    arrival: float  # when it reached us (the ring write), our monotonic s
    #: When the playout clock let it show (our monotonic s; its arrival when it came late for
    #: that clock): ``due - arrival`` is the playout hold, ``present - due`` the window's wait
    #: and drawing. 0 when unknown (a lip-sync delay sets the moment instead).
    due: float = 0.0


@dataclass(slots=True)
class Sample:
    """One display-time result of :meth:`Motion.sample`."""

    params: Vector
    #: Frames whose parameters first reach the screen in this sample, oldest first.
    newly_shown: list[Shown] = field(default_factory=list)
    #: Newest seq the sample includes, or -1.
    shown_seq: int = -1
    idle_weight: float = 1.0
    extrapolating: bool = False
    #: True when the pose equals the shown frame exactly (no blend, no pending correction; body
    #: groups not in the frame are fully at rest, none is between rest and tracking).
    settled: bool = False


class Motion:
    """Turns pushed frames into a pose at any display time. Not thread-safe (render thread)."""

    def __init__(
        self, idle: IdleLife | None = None, *, breathe: bool = True, low_latency: bool = False
    ) -> None:
        self.idle = idle or IdleLife()
        self.breathe = breathe
        #: Low-latency mode: no frame interval in the playout delay (only the jitter term);
        #: the pose is extrapolated between frames (dead reckoning), which saves about one
        #: frame interval of latency but overshoots briefly on sudden stops.
        self.low_latency = low_latency
        self._frames: deque[_Entry] = deque(maxlen=HISTORY)
        self._offset: float | None = None
        self._offset_at = 0.0
        self._jitter = 0.0
        self._interval = 1.0 / 30.0
        self._last_arrival = -math.inf
        self._reported_seq: int | None = None
        self._idle_w = 1.0
        self._idle_v = 0.0
        self._last_t: float | None = None
        self._correction = neutral_vector()
        self._last_out: Vector | None = None
        self._last_s: float | None = None
        self._last_extrapolating = False
        self._last_tracked = neutral_vector()
        #: One idle spring per body group (params.GROUP_NAMES): an arm or hand that leaves the
        #: picture eases to rest on its own while the face stays tracked.
        self._group_w = np.ones(len(GROUP_NAMES))
        self._group_v = np.zeros(len(GROUP_NAMES))
        self._group_seen = np.full(len(GROUP_NAMES), -math.inf)  # our clock, last arrival seen
        self._weights = np.ones(len(PARAM_INDEX))
        self.frames_received = 0
        self.late_frames = 0
        #: Lip sync: the audio path's delay and the mouth drawn from the voice.
        self.lipsync = LipSync()

    # -- input ---------------------------------------------------------------------------
    @property
    def delay(self) -> float:
        """Current playout delay in seconds."""
        base = 0.0 if self.low_latency else self._interval
        return min(MAX_DELAY_S, base + JITTER_K * self._jitter)

    @property
    def jitter(self) -> float:
        return self._jitter

    def push(self, frame: ParamFrame, arrival: float, capture_ns: int = 0) -> None:
        """Add a received frame; ``arrival`` is our monotonic clock in seconds, ``capture_ns``
        the frame's capture time mapped onto our clock by whoever wrote it (0 = unknown).
        Only :class:`Shown` reports carry ``capture_ns``: the playout clock keeps using the
        sender's own timestamps, which need no clock offset."""
        capture = frame.timestamp_us / 1e6
        transit = arrival - capture
        if self._frames:
            prev = self._frames[-1]
            if capture <= prev.capture:
                if capture < prev.capture - OFFSET_RESET_S:
                    self._frames.clear()  # the sender restarted its clock
                    self._last_s, self._last_extrapolating = None, False
                else:
                    return  # duplicate or reordered: the newer one already won
        if (
            self._offset is None
            or transit < self._offset
            or transit > self._offset + OFFSET_RESET_S
        ):
            self._offset = transit
        else:
            self._offset = min(transit, self._offset + OFFSET_CREEP * (arrival - self._offset_at))
        self._offset_at = arrival
        if self._frames:
            prev = self._frames[-1]
            d = (arrival - prev.arrival) - (capture - prev.capture)
            self._jitter += (abs(d) - self._jitter) / 16.0  # RFC 3550, section 6.4.1
            gap = capture - prev.capture
            if 0.004 < gap < 0.25:
                self._interval += (gap - self._interval) / 8.0
        vec = frame_to_vector(frame)
        present = body_presence(frame)
        self._group_seen[np.array(present, dtype=bool)] = arrival
        if self._frames:
            # A side not seen holds its last pose in the stream (its spring eases it to rest
            # from there), so interpolation never snaps a raised arm down between two frames.
            held = self._frames[-1].vec
            for seen, idx in zip(present, GROUP_INDEX, strict=True):
                if not seen:
                    vec[idx] = held[idx]
        self._frames.append(
            _Entry(capture, arrival, frame.seq, vec, frame.flags, capture_ns, present)
        )
        if self._last_s is not None and self._last_extrapolating:
            # The last drawn pose was a guess past the newest frame; this frame may contradict
            # it. Keep the pose continuous: carry the error and let it decay (no jump).
            fixed, _, _ = self._tracked_at(self._last_s)
            self._correction = self._correction + self._last_tracked - fixed
            self._last_extrapolating = False
        self._last_arrival = arrival
        self.lipsync.observe(capture, capture_ns)
        self.frames_received += 1

    def reset(self) -> None:
        """Forget the stream (avatar switch keeps motion; a new peer calls this)."""
        self._frames.clear()
        self._offset = None
        self._reported_seq = None
        self._last_s = None

    # -- output --------------------------------------------------------------------------
    def next_shown_at(self) -> float | None:
        """Our monotonic time (s) at which the oldest received frame not yet on screen is first
        shown by :meth:`sample` (becomes the frame the pose moves toward: the playout clock
        passes the frame before it); in the past when it already could be; None when every
        received frame was shown, or while a lip-sync delay holds the peer back (then the
        frame's moment follows the voice, not this clock). What the window's pacer presents
        on (render_window.pacing)."""
        frames, reported = self._frames, self._reported_seq
        if not frames or self._offset is None or self.lipsync.applied > 0.0:
            return None
        if reported is not None and not seq_after(frames[-1].seq, reported):
            return None
        k = len(frames) - 1
        while k > 0 and (reported is None or seq_after(frames[k - 1].seq, reported)):
            k -= 1
        if k == 0:
            return -math.inf
        return frames[k - 1].capture + self._offset + self.delay

    def _tracked_at(self, s: float) -> tuple[Vector, int, bool]:
        """Interpolated pose at sender time ``s``: (vector, index of upper frame, extrapolating)."""
        frames = self._frames
        last = len(frames) - 1
        if s <= frames[0].capture:
            return frames[0].vec, 0, False
        if s >= frames[last].capture:
            newest = frames[last]
            if last == 0 or s == newest.capture:
                return newest.vec, last, False
            prev = frames[last - 1]
            span = newest.capture - prev.capture
            ahead = min(s - newest.capture, MAX_EXTRAPOLATE_S, span * 3.0)
            vec = newest.vec + (newest.vec - prev.vec) * (ahead / span)
            vec = np.where(_UNIT, np.clip(vec, 0.0, 1.0), vec)
            return vec, last, bool(np.any(vec != newest.vec))
        hi = last
        while frames[hi - 1].capture > s:
            hi -= 1
        a, b = frames[hi - 1], frames[hi]
        k = (s - a.capture) / (b.capture - a.capture)
        return a.vec + (b.vec - a.vec) * k, hi, False

    def _wants_idle(self, now: float) -> bool:
        if not self._frames or now - self._last_arrival > STALE_AFTER_S:
            return True
        flags = self._frames[-1].flags
        # HELD: the tracker lost the face for a moment and repeats the last pose; keep it.
        tracked = flags & (FrameFlags.FACE_PRESENT | FrameFlags.HELD)
        return bool(flags & FrameFlags.PAUSED) or not tracked

    def sample(self, now: float) -> Sample:
        """The pose to draw at our monotonic time ``now`` (seconds)."""
        dt = 0.0 if self._last_t is None else max(0.0, min(0.25, now - self._last_t))
        self._last_t = now
        out = Sample(params=self._last_tracked)
        tracked = self._last_tracked
        if self._frames and self._offset is not None:
            self.lipsync.step(dt)
            s = self.lipsync.sample_time(now, now - self._offset - self.delay, self._offset)
            tracked, hi, out.extrapolating = self._tracked_at(s)
            upper = self._frames[hi]
            out.shown_seq = upper.seq
            reported = self._reported_seq
            # Newest first from the upper frame back to the last one reported (the history is
            # long enough for a lip-sync delay; walking all of it every frame would not be).
            k = hi
            hold = self._offset + self.delay
            while k >= 0 and (reported is None or seq_after(self._frames[k].seq, reported)):
                e = self._frames[k]
                due = max(e.arrival, self._frames[k - 1].capture + hold) if k > 0 else e.arrival
                held = self.lipsync.applied > 0.0
                out.newly_shown.append(Shown(e.seq, e.capture_ns, e.arrival, 0.0 if held else due))
                k -= 1
            out.newly_shown.reverse()
            if out.newly_shown:
                self._reported_seq = out.newly_shown[-1].seq
            self._last_tracked = tracked
            self._last_s = s
            self._last_extrapolating = out.extrapolating
        self._correction *= math.exp(-dt / CORRECTION_TAU_S) if dt > 0 else 1.0
        # Critically damped spring toward idle (1) or tracking (0).
        target = 1.0 if self._wants_idle(now) else 0.0
        w, v = self._idle_w, self._idle_v
        if dt > 0:
            acc = -2.0 * IDLE_OMEGA * v - IDLE_OMEGA * IDLE_OMEGA * (w - target)
            v += acc * dt
            w += v * dt
            if (w - target) * (self._idle_w - target) < 0 or abs(w - target) < 1e-4:
                w, v = target, 0.0  # no overshoot past the target
        self._idle_w, self._idle_v = min(1.0, max(0.0, w)), v
        self._step_groups(now, dt)
        weights = self._weights
        weights[:] = self._idle_w
        for gw, idx in zip(self._group_w, GROUP_INDEX, strict=True):
            weights[idx] = gw
        pose = tracked + self._correction
        if np.any(weights > 0.0):
            pose = pose + (self.idle.pose(now, sway_arms=self.breathe) - pose) * weights
        pose = np.array(pose, dtype=np.float64)
        if self.breathe:
            pose[_BREATH] = self.idle.breath(now)
        fresh = bool(self._frames) and now - self._last_arrival <= STALE_AFTER_S
        voice = fresh and voice_mouth(self._frames[-1].flags)
        self.lipsync.draw_mouth(pose, tracked + self._correction, voice, dt)
        out.params = pose
        out.idle_weight = self._idle_w
        out.settled = (
            self._idle_w == 0.0
            and bool(np.all((self._group_w == 0.0) | (self._group_w == 1.0)))
            and not out.extrapolating
            and float(np.max(np.abs(self._correction))) < 1e-3
        )
        self._last_out = pose
        return out

    def _step_groups(self, now: float, dt: float) -> None:
        """The body groups' springs: toward rest when the group is not in the newest frame (or
        the stream stopped or paused), toward tracking when it is. Independent of the face:
        hands can be seen while the face is not, and the other way round."""
        stopped = not self._frames or now - self._last_arrival > STALE_AFTER_S
        stopped = stopped or bool(self._frames[-1].flags & FrameFlags.PAUSED)
        missing = now - self._group_seen > BODY_GRACE_S
        target = np.where(missing | stopped, 1.0, 0.0)
        if dt <= 0:
            return
        w, v = self._group_w, self._group_v
        acc = -2.0 * IDLE_OMEGA * v - IDLE_OMEGA * IDLE_OMEGA * (w - target)
        nv = v + acc * dt
        nw = w + nv * dt
        done = ((nw - target) * (w - target) < 0) | (np.abs(nw - target) < 1e-4)
        nw = np.where(done, target, nw)
        nv = np.where(done, 0.0, nv)
        self._group_w, self._group_v = np.clip(nw, 0.0, 1.0), nv

    @property
    def idle_weight(self) -> float:
        return self._idle_w

    @property
    def body_weights(self) -> dict[str, float]:
        """Each body group's idle weight (1 = at rest, 0 = tracked), for tests and stats."""
        return dict(zip(GROUP_NAMES, self._group_w.tolist(), strict=True))

    @property
    def last_flags(self) -> FrameFlags:
        """Flags of the newest frame (0 before any)."""
        return self._frames[-1].flags if self._frames else FrameFlags(0)


def seq_after(a: int, b: int) -> bool:
    """``a`` comes after ``b`` in 32-bit wrapping sequence space."""
    return 0 < ((a - b) & 0xFFFFFFFF) < 0x80000000
