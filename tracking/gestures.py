"""Hand gestures from hand landmarks: thumbs-up, peace sign, wave.

A small rule-based classifier on what :mod:`tracking.body_geometry` measures (finger curls,
finger and hand directions in the body frame, the wrist's image position), with the hysteresis a
chat needs: a static gesture must be held for :data:`HOLD_S` before it counts, it fires *once*
per holding (not 30 times a second), and the same gesture from the same hand is not announced
again within :data:`COOLDOWN_S`. A wave is an open hand, fingers up, whose wrist swings from
side to side: :data:`WAVE_SWINGS` reversals of at least :data:`WAVE_AMPLITUDE` (a fraction of
the image width) within :data:`WAVE_WINDOW_S`.

Samples arrive at the hand model's rate (about 10 Hz with the default schedule), which is
plenty for a 2-4 Hz wave; thresholds are in seconds, not samples, so other rates work too.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from protocol.body import Side, Vec3

from .body_geometry import HandObservation

#: A static gesture must be seen this long before it is announced.
HOLD_S = 0.25
#: The same gesture from the same hand is not announced again within this.
COOLDOWN_S = 2.0
#: A gap in observations longer than this starts the hand's history afresh.
MAX_GAP_S = 0.5
WAVE_WINDOW_S = 1.6
WAVE_AMPLITUDE = 0.03
WAVE_SWINGS = 2
#: Curl thresholds: a finger counts as extended below ``STRAIGHT``, folded above ``FOLDED``.
STRAIGHT = 0.35
FOLDED = 0.55
#: Pointing "up" means the direction's y component is at least this (about 50 degrees from
#: horizontal).
UP = 0.75
#: Index and middle finger must open into a V of at least this (radians) for a peace sign.
PEACE_V_RAD = 0.2


@dataclass(frozen=True, slots=True)
class GestureEvent:
    name: str  # one of protocol.body.GESTURES
    side: Side
    media_ns: int


def _angle(a: Vec3, b: Vec3) -> float:
    c = a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
    return math.acos(max(-1.0, min(1.0, c)))


def static_gesture(hand: HandObservation) -> str | None:
    """``thumbs_up``, ``peace``, ``open`` (open hand, fingers up: a wave's pose) or None."""
    curls = hand.shape().curls
    thumb, index, middle, ring, pinky = curls
    thumb_dir = hand.finger_direction(0)
    index_dir, middle_dir = hand.finger_direction(1), hand.finger_direction(2)
    if (
        thumb < STRAIGHT
        and min(index, middle, ring, pinky) > FOLDED
        and thumb_dir is not None
        and thumb_dir[1] >= UP
    ):
        return "thumbs_up"
    if (
        index < STRAIGHT
        and middle < STRAIGHT
        and min(ring, pinky) > FOLDED
        and index_dir is not None
        and middle_dir is not None
        and (index_dir[1] + middle_dir[1]) / 2 >= UP
        and _angle(index_dir, middle_dir) >= PEACE_V_RAD
    ):
        return "peace"
    direction = hand.direction()
    if max(index, middle, ring, pinky) < STRAIGHT and direction is not None and direction[1] >= UP:
        return "open"
    return None


@dataclass(slots=True)
class _HandHistory:
    last_s: float = -math.inf
    candidate: str | None = None
    since_s: float = 0.0
    latched: bool = False
    fired_s: dict[str, float] = field(default_factory=dict)
    #: (time, wrist x) while the hand is open and up, for the wave.
    xs: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=64))


class GestureClassifier:
    """Feed it each observed hand (already assigned to a side); it returns the gestures that
    start now, at most one per call."""

    def __init__(self) -> None:
        self._hands = [_HandHistory(), _HandHistory()]

    def reset(self) -> None:
        self._hands = [_HandHistory(), _HandHistory()]

    def observe(self, side: Side, hand: HandObservation, media_ns: int) -> list[GestureEvent]:
        return self.observe_static(side, static_gesture(hand), hand.wrist_xy[0], media_ns)

    def observe_static(
        self, side: Side, gesture: str | None, wrist_x: float, media_ns: int
    ) -> list[GestureEvent]:
        """The classifier's state machine on an already classified sample (what
        :meth:`observe` does after :func:`static_gesture`)."""
        t = media_ns / 1e9
        h = self._hands[side]
        if t - h.last_s > MAX_GAP_S:
            h.candidate, h.latched = None, False
            h.xs.clear()
        h.last_s = t
        if gesture != h.candidate:
            h.candidate, h.since_s, h.latched = gesture, t, False
        events: list[GestureEvent] = []
        if gesture == "open":
            h.xs.append((t, wrist_x))
            if self._waving(h, t) and self._may_fire(h, "wave", t):
                h.fired_s["wave"] = t
                h.xs.clear()
                events.append(GestureEvent("wave", side, media_ns))
        else:
            h.xs.clear()
            if (
                gesture is not None
                and not h.latched
                and t - h.since_s >= HOLD_S
                and self._may_fire(h, gesture, t)
            ):
                h.latched = True
                h.fired_s[gesture] = t
                events.append(GestureEvent(gesture, side, media_ns))
        return events

    @staticmethod
    def _may_fire(h: _HandHistory, name: str, t: float) -> bool:
        return t - h.fired_s.get(name, -math.inf) >= COOLDOWN_S

    @staticmethod
    def _waving(h: _HandHistory, t: float) -> bool:
        """Count direction reversals of the wrist's x with swings of WAVE_AMPLITUDE or more."""
        xs = [x for ts, x in h.xs if t - ts <= WAVE_WINDOW_S]
        if len(xs) < 3:
            return False
        reversals = 0
        direction = 0
        anchor = xs[0]
        for x in xs[1:]:
            if direction >= 0 and x <= anchor - WAVE_AMPLITUDE:
                reversals += direction > 0
                direction, anchor = -1, x
            elif direction <= 0 and x >= anchor + WAVE_AMPLITUDE:
                reversals += direction < 0
                direction, anchor = 1, x
            elif (direction > 0 and x > anchor) or (direction < 0 and x < anchor):
                anchor = x  # still swinging the same way: follow the extreme
        return reversals >= WAVE_SWINGS
