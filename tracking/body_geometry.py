"""Landmarks -> body-frame directions and finger articulation (pure numpy, no MediaPipe).

MediaPipe's *world* landmarks (metres; pose: origin between the hips, hands: origin at the
hand's centre) use the image's axes: +x to the image's right, +y down, +z away from the camera.
For a person facing an unmirrored camera the image's right is their own left, so the body frame
of :mod:`protocol.body` (+x = the user's left, +y up, +z toward the camera) is simply
``(x, -y, -z)``. The pose model names its landmarks by the person's anatomical side; the hand
model's handedness label, on the real test images (faces/s3, s5: checked against the pose's
wrists), also names the anatomical side for an unmirrored image and flips for a flipped one, so
everything here is computed as if the image were unmirrored and a mirrored tracker mirrors the
finished :class:`BodyPose` back (like the face's parameters).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from protocol.body import HandShape, Side, Vec3

Array = NDArray[np.float64]

#: BlazePose landmark indexes: (shoulder, elbow, wrist, pinky, index, ear) per side.
POSE_JOINTS = {
    Side.LEFT: (11, 13, 15, 17, 19, 7),
    Side.RIGHT: (12, 14, 16, 18, 20, 8),
}
#: A pose landmark counts as seen above this visibility and presence.
MIN_VISIBILITY = 0.5
#: Hand landmark indexes of each finger's chain, base to tip (thumb: CMC, MCP, IP, tip).
FINGERS = ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))
WRIST, INDEX_MCP, MIDDLE_MCP, PINKY_MCP = 0, 5, 9, 17
#: Summed joint bend (radians) of a straight and of a fully curled finger; thumb separately
#: (two joints, less travel). Measured on MediaPipe's world landmarks: an open hand sums to
#: about 0.2-0.5 rad per finger, a fist to about 3.5-4.
_CURL_RANGE = (0.45, 3.6)
_THUMB_CURL_RANGE = (0.35, 1.6)
#: Angle between the index and pinky directions for fingers together / splayed.
_SPREAD_RANGE = (0.2, 1.0)


def to_body(v: Array) -> Array:
    """Image-axes world coordinates -> the body frame (x stays, y and z flip)."""
    out: Array = v * np.array([1.0, -1.0, -1.0])
    return out


def unit(v: Array) -> Vec3 | None:
    n = float(np.linalg.norm(v))
    if not math.isfinite(n) or n < 1e-6:
        return None
    return (float(v[0] / n), float(v[1] / n), float(v[2] / n))


def _angle(a: Array, b: Array) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < 1e-9 or nb < 1e-9:
        return 0.0
    c = float(np.dot(a, b)) / (na * nb)
    return math.acos(max(-1.0, min(1.0, c)))


def _ramp(x: float, lo: float, hi: float) -> float:
    return max(0.0, min(1.0, (x - lo) / (hi - lo)))


def palm_normal(wrist: Array, index: Array, pinky: Array, side: Side) -> Vec3 | None:
    """Out of the palm, from three body-frame points. For a right hand held up with the palm to
    the camera the index knuckle is toward the user's left (+x) of the pinky's, and
    (index - wrist) x (pinky - wrist) points to +z: out of the palm; a left hand is its mirror."""
    a, b = index - wrist, pinky - wrist
    n = np.cross(a, b) if side is Side.RIGHT else np.cross(b, a)
    return unit(n)


@dataclass(frozen=True, slots=True)
class HandObservation:
    """One hand as the hand model saw it, already in the body frame (of the image as given)."""

    side_label: Side  # the model's own handedness guess
    score: float
    wrist_xy: tuple[float, float]  # normalised image position of the wrist
    points: Array  # 21 x 3 body-frame world landmarks (metres)

    def shape(self) -> HandShape:
        return hand_shape(self.points)

    def direction(self) -> Vec3 | None:
        return unit(self.points[MIDDLE_MCP] - self.points[WRIST])

    def palm_normal(self, side: Side) -> Vec3 | None:
        p = self.points
        return palm_normal(p[WRIST], p[INDEX_MCP], p[PINKY_MCP], side)

    def finger_direction(self, finger: int) -> Vec3 | None:
        """Base -> tip of one finger (0 = thumb ... 4 = pinky)."""
        chain = FINGERS[finger]
        return unit(self.points[chain[-1]] - self.points[chain[1 if finger == 0 else 0]])


def hand_shape(points: Array) -> HandShape:
    """Curl per finger (summed joint bends, mapped to 0..1) and the index-pinky splay."""
    curls: list[float] = []
    for finger, chain in enumerate(FINGERS):
        if finger == 0:
            segs = [points[chain[i + 1]] - points[chain[i]] for i in range(3)]
            bend = _angle(segs[0], segs[1]) + _angle(segs[1], segs[2])
            curls.append(_ramp(bend, *_THUMB_CURL_RANGE))
        else:
            joints = (WRIST, *chain)
            segs = [points[joints[i + 1]] - points[joints[i]] for i in range(4)]
            bend = sum(_angle(segs[i], segs[i + 1]) for i in range(3))
            curls.append(_ramp(bend, *_CURL_RANGE))
    splay = _angle(points[8] - points[5], points[20] - points[17])
    return HandShape(
        curls=(curls[0], curls[1], curls[2], curls[3], curls[4]),
        spread=_ramp(splay, *_SPREAD_RANGE),
    )


@dataclass(frozen=True, slots=True)
class ArmObservation:
    """One arm from the pose model, in the body frame."""

    upper_arm: Vec3
    forearm: Vec3
    hand: Vec3  # from the pose's own hand points (the hand model refines it when it sees it)
    palm_normal: Vec3
    wrist_xy: tuple[float, float]  # normalised image position of the wrist


@dataclass(frozen=True, slots=True)
class PoseObservation:
    arms: tuple[ArmObservation | None, ArmObservation | None]
    #: Vertical ear-to-shoulder distance over shoulder width, per side (None: not seen). It
    #: shrinks when a shoulder rises; the tracker compares it with the user's own resting value.
    ear_ratio: tuple[float | None, float | None]
    torso_roll: float | None
    #: Image positions of the wrists the pose model saw (for telling hands apart).
    wrists_xy: tuple[tuple[float, float] | None, tuple[float, float] | None]


def pose_observation(world: Array, image: Array, seen: Array) -> PoseObservation:
    """``world``: 33 x 3 world landmarks (image axes), ``image``: 33 x 2 normalised image
    positions, ``seen``: 33 booleans (visibility and presence above :data:`MIN_VISIBILITY`)."""
    body = to_body(world)
    arms: list[ArmObservation | None] = [None, None]
    wrists: list[tuple[float, float] | None] = [None, None]
    ears: list[float | None] = [None, None]
    ls, rs = POSE_JOINTS[Side.LEFT][0], POSE_JOINTS[Side.RIGHT][0]
    shoulders_seen = bool(seen[ls] and seen[rs])
    width = float(np.linalg.norm(body[ls] - body[rs])) if shoulders_seen else 0.0
    for side, (sh, el, wr, pk, ix, ear) in POSE_JOINTS.items():
        if seen[wr]:
            wrists[side] = (float(image[wr][0]), float(image[wr][1]))
        if shoulders_seen and seen[ear] and width > 1e-3:
            ears[side] = float(body[ear][1] - body[sh][1]) / width
        if not (seen[sh] and seen[el] and seen[wr]):
            continue
        upper, fore = unit(body[el] - body[sh]), unit(body[wr] - body[el])
        knuckles = (body[pk] + body[ix]) / 2
        hand = unit(knuckles - body[wr]) or fore
        normal = palm_normal(body[wr], body[ix], body[pk], side)
        if upper is None or fore is None or hand is None:
            continue
        if normal is None:
            normal = (-1.0, 0.0, 0.0) if side is Side.LEFT else (1.0, 0.0, 0.0)
        arms[side] = ArmObservation(upper, fore, hand, normal, wrists[side] or (0.0, 0.0))
    roll = None
    if shoulders_seen:
        v = body[ls] - body[rs]
        roll = math.atan2(-float(v[1]), float(v[0]))
    return PoseObservation(
        arms=(arms[0], arms[1]),
        ear_ratio=(ears[0], ears[1]),
        torso_roll=roll,
        wrists_xy=(wrists[0], wrists[1]),
    )
