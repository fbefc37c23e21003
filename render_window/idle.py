"""Idle life: what an avatar does when nobody drives it, so it never freezes into a dead mask.

Auto-blinks at a human rate, breathes, sways a little and lets its gaze wander. Everything is a
function of time plus a seeded random schedule, so a run is reproducible with ``seed``.
"""

from __future__ import annotations

import math
import random

import numpy as np

from avatars.params import FINGERS
from protocol.body import REST_HAND

from .params import PARAM_INDEX, Vector, neutral_vector

#: People blink every 2-6 s at rest (about 15 per minute); a blink takes ~150 ms.
BLINK_INTERVAL_S = (2.0, 6.0)
BLINK_CLOSE_S = 0.06  # lids fall fast ...
BLINK_HOLD_S = 0.03
BLINK_OPEN_S = 0.08  # ... and rise a little slower
#: About one blink in eight comes as a double blink; it reads as natural, not mechanical.
DOUBLE_BLINK_CHANCE = 0.12
#: Resting breathing is ~15 breaths a minute.
BREATH_HZ = 0.25
#: Sway amplitudes (radians): a few degrees, enough to look alive, too little to look drunk.
SWAY_YAW = 0.07
SWAY_PITCH = 0.03
SWAY_ROLL = 0.04
#: Arms at rest hang a little away from the body and swing slightly (radians) with the sway;
#: hands rest half-open (protocol.body.REST_HAND).
ARM_REST_ANGLE = 0.08
ARM_SWAY = 0.035
#: Gaze saccades: a new fixation every 1-4 s, within a third of the eye's range.
GAZE_INTERVAL_S = (1.0, 4.0)
GAZE_RANGE = 0.3
GAZE_MOVE_S = 0.06


class IdleLife:
    """Idle pose at a given time. ``pose(t)`` is the idle target; ``breath(t)`` is the breathing
    phase, which the motion layer adds even while tracked (a tracked face breathes too)."""

    def __init__(self, seed: int | None = None, start: float = 0.0) -> None:
        self._rng = random.Random(seed)
        self._phase = [self._rng.uniform(0.0, 2.0 * math.pi) for _ in range(6)]
        self._next_blink = start + self._rng.uniform(0.8, 2.5)
        self._blinks: list[float] = []  # start times of scheduled blinks
        self._gaze_from = (0.0, 0.0)
        self._gaze_to = (0.0, 0.0)
        self._gaze_at = start
        self._next_gaze = start + self._rng.uniform(*GAZE_INTERVAL_S)

    def _schedule(self, t: float) -> None:
        while t >= self._next_blink:
            start = self._next_blink
            self._blinks.append(start)
            if self._rng.random() < DOUBLE_BLINK_CHANCE:
                self._blinks.append(start + BLINK_CLOSE_S + BLINK_HOLD_S + BLINK_OPEN_S + 0.08)
            self._next_blink = start + self._rng.uniform(*BLINK_INTERVAL_S)
        length = BLINK_CLOSE_S + BLINK_HOLD_S + BLINK_OPEN_S
        self._blinks = [b for b in self._blinks if b + length > t - 1.0]
        while t >= self._next_gaze:
            self._gaze_from = self._gaze_at_time(self._next_gaze)
            self._gaze_to = (
                self._rng.uniform(-GAZE_RANGE, GAZE_RANGE),
                self._rng.uniform(-GAZE_RANGE, GAZE_RANGE) * 0.6,
            )
            self._gaze_at = self._next_gaze
            self._next_gaze += self._rng.uniform(*GAZE_INTERVAL_S)

    def blink(self, t: float) -> float:
        """Lid closure 0..1 at ``t`` from the blink schedule."""
        self._schedule(t)
        value = 0.0
        for start in self._blinks:
            dt = t - start
            if dt < 0:
                continue
            if dt < BLINK_CLOSE_S:
                v = dt / BLINK_CLOSE_S
            elif dt < BLINK_CLOSE_S + BLINK_HOLD_S:
                v = 1.0
            elif dt < BLINK_CLOSE_S + BLINK_HOLD_S + BLINK_OPEN_S:
                v = 1.0 - (dt - BLINK_CLOSE_S - BLINK_HOLD_S) / BLINK_OPEN_S
            else:
                continue
            value = max(value, v)
        return value

    def _gaze_at_time(self, t: float) -> tuple[float, float]:
        k = min(1.0, max(0.0, (t - self._gaze_at) / GAZE_MOVE_S))
        k = k * k * (3 - 2 * k)
        fx, fy = self._gaze_from
        tx, ty = self._gaze_to
        return fx + (tx - fx) * k, fy + (ty - fy) * k

    @staticmethod
    def breath(t: float) -> float:
        return math.sin(2.0 * math.pi * BREATH_HZ * t)

    def pose(self, t: float, sway_arms: bool = True) -> Vector:
        """The full idle pose (head sway, blinks, gaze, arms at rest; ``breath`` included) at
        ``t``. ``sway_arms`` False holds the arms still (the window's ``--no-breath``: a
        steady picture for tests)."""
        vec = neutral_vector()
        self._schedule(t)
        p = self._phase
        # Two incommensurate sines per axis so the sway never visibly repeats.
        yaw = 0.7 * math.sin(2 * math.pi * 0.071 * t + p[0]) + 0.3 * math.sin(
            2 * math.pi * 0.173 * t + p[1]
        )
        pitch = 0.6 * math.sin(2 * math.pi * 0.053 * t + p[2]) + 0.4 * math.sin(
            2 * math.pi * 0.131 * t + p[3]
        )
        roll = 0.7 * math.sin(2 * math.pi * 0.061 * t + p[4]) + 0.3 * math.sin(
            2 * math.pi * 0.157 * t + p[5]
        )
        vec[PARAM_INDEX["headYaw"]] = SWAY_YAW * yaw
        vec[PARAM_INDEX["headPitch"]] = SWAY_PITCH * pitch
        vec[PARAM_INDEX["headRoll"]] = SWAY_ROLL * roll
        b = self.blink(t)
        vec[PARAM_INDEX["eyeBlinkLeft"]] = b
        vec[PARAM_INDEX["eyeBlinkRight"]] = b
        gx, gy = self._gaze_at_time(t)
        vec[PARAM_INDEX["gazeX"]] = gx
        vec[PARAM_INDEX["gazeY"]] = gy
        # A hint of a resting smile: a blank face reads as cold.
        vec[PARAM_INDEX["smile"]] = 0.08
        vec[PARAM_INDEX["breath"]] = self.breath(t)
        self._rest_body(vec, t, roll if sway_arms else None)
        return np.asarray(vec)

    @staticmethod
    def _rest_body(vec: Vector, t: float, roll: float | None) -> None:
        """Arms hanging relaxed (a little outward, + toward the subject's left), swaying with
        the head's roll and a slower swing (none when ``roll`` is None); hands half-open."""
        swing = 0.0 if roll is None else 0.6 * roll + 0.4 * math.sin(2 * math.pi * 0.09 * t)
        for side, out in (("Left", 1.0), ("Right", -1.0)):
            base = out * ARM_REST_ANGLE + ARM_SWAY * swing
            vec[PARAM_INDEX[f"upperArmAngle{side}"]] = base
            vec[PARAM_INDEX[f"forearmAngle{side}"]] = base + out * 0.04
            vec[PARAM_INDEX[f"handAngle{side}"]] = base + out * 0.06
            for finger, curl in zip(FINGERS, REST_HAND.curls, strict=True):
                vec[PARAM_INDEX[f"{finger}Curl{side}"]] = curl
            vec[PARAM_INDEX[f"fingerSpread{side}"]] = REST_HAND.spread
