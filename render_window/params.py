"""From a wire :class:`ParamFrame` to the named parameters avatar bindings read.

A pure mapping (no state, no clock) so it can be unit-tested and reused by any renderer. The
motion code works on fixed-order float vectors (fast to interpolate with numpy); renderers get a
``dict[str, float]`` keyed by :data:`avatars.params.PARAM_NAMES`.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from avatars.params import BODY_GROUPS, BONE_DRIVERS, FINGERS, PARAM_NAMES, SIDES
from protocol.blendshapes import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES
from protocol.body import ArmPose, BodyPose, HandShape, Side, Vec3
from protocol.frame import Emotion, FrameFlags, ParamFrame

Vector = npt.NDArray[np.float64]

#: name -> position in a parameter vector.
PARAM_INDEX: dict[str, int] = {name: i for i, name in enumerate(PARAM_NAMES)}
NUM_PARAMS = len(PARAM_NAMES)

#: Head translation (cm, relative to the calibrated rest) that maps to +-1: a head rarely moves
#: more than a hand's width from where it was calibrated while the user stays in frame.
HEAD_TRANSLATION_RANGE_CM = 10.0

_EMOTION_PARAM = {
    Emotion.HAPPY: "emotionHappy",
    Emotion.SAD: "emotionSad",
    Emotion.ANGRY: "emotionAngry",
    Emotion.SURPRISED: "emotionSurprised",
}

# Blendshape byte index -> vector index, for every channel a binding may name.
_BLEND_MAP: tuple[tuple[int, int], ...] = tuple(
    (BLENDSHAPE_INDEX[name], PARAM_INDEX[name]) for name in BLENDSHAPE_NAMES if name in PARAM_INDEX
)
_BLEND_SRC = np.array([s for s, _ in _BLEND_MAP], dtype=np.intp)
_BLEND_DST = np.array([d for _, d in _BLEND_MAP], dtype=np.intp)


def _clamp(value: float, lo: float, hi: float) -> float:
    return lo if value < lo else hi if value > hi else value


def gaze(weights: dict[str, float]) -> tuple[float, float]:
    """``(gazeX, gazeY)`` from the eight ``eyeLook*`` weights.

    x + = toward the subject's own left: the left eye looks *out* and the right eye looks *in*;
    y + = up. Each is the mean of the two eyes, so it stays in -1..1.
    """
    x = (
        weights["eyeLookOutLeft"]
        + weights["eyeLookInRight"]
        - weights["eyeLookInLeft"]
        - weights["eyeLookOutRight"]
    ) / 2.0
    y = (
        weights["eyeLookUpLeft"]
        + weights["eyeLookUpRight"]
        - weights["eyeLookDownLeft"]
        - weights["eyeLookDownRight"]
    ) / 2.0
    return _clamp(x, -1.0, 1.0), _clamp(y, -1.0, 1.0)


def frame_to_vector(frame: ParamFrame) -> Vector:
    """The frame's parameters as a vector in :data:`PARAM_NAMES` order (``breath`` = 0: the
    renderer's idle life makes it)."""
    vec = np.zeros(NUM_PARAMS, dtype=np.float64)
    raw = np.frombuffer(frame.blendshapes, dtype=np.uint8).astype(np.float64) / 255.0
    vec[_BLEND_DST] = raw[_BLEND_SRC]
    w = {name: float(raw[BLENDSHAPE_INDEX[name]]) for name in _EYE_LOOK}
    pitch, yaw, roll = frame.head_rotation
    vec[PARAM_INDEX["headPitch"]] = pitch
    vec[PARAM_INDEX["headYaw"]] = yaw
    vec[PARAM_INDEX["headRoll"]] = roll
    if frame.flags & FrameFlags.CALIBRATED:
        # Uncalibrated translation is absolute camera space (z is tens of cm): meaningless
        # as an offset from rest, so it stays 0 until the user calibrates.
        for axis, value in zip(("headX", "headY", "headZ"), frame.head_translation, strict=True):
            vec[PARAM_INDEX[axis]] = _clamp(value / HEAD_TRANSLATION_RANGE_CM, -1.0, 1.0)
    gx, gy = gaze(w)
    vec[PARAM_INDEX["gazeX"]] = gx
    vec[PARAM_INDEX["gazeY"]] = gy
    vec[PARAM_INDEX["mouthOpen"]] = raw[BLENDSHAPE_INDEX["jawOpen"]]
    vec[PARAM_INDEX["smile"]] = (
        raw[BLENDSHAPE_INDEX["mouthSmileLeft"]] + raw[BLENDSHAPE_INDEX["mouthSmileRight"]]
    ) / 2.0
    if frame.emotion is not None and frame.emotion in _EMOTION_PARAM:
        vec[PARAM_INDEX[_EMOTION_PARAM[frame.emotion]]] = _clamp(frame.emotion_weight, 0.0, 1.0)
    if frame.body is not None:
        put_body(vec, frame.body)  # sides not seen stay at rest (0); motion holds them instead
    return vec


_EYE_LOOK = (
    "eyeLookOutLeft",
    "eyeLookInRight",
    "eyeLookInLeft",
    "eyeLookOutRight",
    "eyeLookUpLeft",
    "eyeLookUpRight",
    "eyeLookDownLeft",
    "eyeLookDownRight",
)


#: Body parameter groups (:data:`avatars.params.BODY_GROUPS`) as index arrays, in a fixed order:
#: what :func:`body_presence` reports on and the motion layer eases one by one.
GROUP_NAMES: tuple[str, ...] = tuple(BODY_GROUPS)
GROUP_INDEX: tuple[npt.NDArray[np.intp], ...] = tuple(
    np.array([PARAM_INDEX[n] for n in BODY_GROUPS[g]], dtype=np.intp) for g in GROUP_NAMES
)
#: An arm pointing this close to straight across the chest is where its angle wraps: the far
#: side of the body, where an upper arm or forearm rarely points, so interpolation between
#: frames (and easing to rest) never sweeps the long way round.
_WRAP = 0.75 * math.pi


def segment_angle(v: Vec3, side: Side) -> float:
    """The direction ``v`` (body frame) projected on the frontal plane, as an angle from hanging
    down, + toward the subject's left; continuous over every direction that arm can reach
    (wrapping only across the chest toward the other side)."""
    a = math.atan2(v[0], -v[1])
    if side is Side.LEFT and a < -_WRAP:
        a += 2.0 * math.pi
    elif side is Side.RIGHT and a > _WRAP:
        a -= 2.0 * math.pi
    return a


def _put_arm(vec: Vector, side: Side, arm: ArmPose) -> None:
    s = SIDES[side]
    for bone, v in (("upperArm", arm.upper_arm), ("forearm", arm.forearm), ("hand", arm.hand)):
        angle, forward = BONE_DRIVERS[f"{bone}{s}"]
        vec[PARAM_INDEX[angle]] = segment_angle(v, side)
        vec[PARAM_INDEX[forward]] = _clamp(v[2], -1.0, 1.0)
    vec[PARAM_INDEX[f"palmFacing{s}"]] = _clamp(arm.palm_normal[2], -1.0, 1.0)


def _put_hand(vec: Vector, side: Side, hand: HandShape) -> None:
    s = SIDES[side]
    for finger, curl in zip(FINGERS, hand.curls, strict=True):
        vec[PARAM_INDEX[f"{finger}Curl{s}"]] = _clamp(curl, 0.0, 1.0)
    vec[PARAM_INDEX[f"fingerSpread{s}"]] = _clamp(hand.spread, 0.0, 1.0)


def put_body(vec: Vector, body: BodyPose) -> None:
    """Write ``body``'s parameters into ``vec``; a side not seen is left as it is."""
    vec[PARAM_INDEX["shoulderShrugLeft"]] = _clamp(body.shoulder_shrug[0], 0.0, 1.0)
    vec[PARAM_INDEX["shoulderShrugRight"]] = _clamp(body.shoulder_shrug[1], 0.0, 1.0)
    vec[PARAM_INDEX["torsoRoll"]] = _clamp(body.torso_roll, -math.pi / 2, math.pi / 2)
    for side in Side:
        arm, hand = body.arms[side], body.hands[side]
        if arm is not None:
            _put_arm(vec, side, arm)
        if hand is not None:
            _put_hand(vec, side, hand)


def body_presence(frame: ParamFrame) -> tuple[bool, ...]:
    """Which :data:`GROUP_NAMES` the frame carries (all False without a body)."""
    body = frame.body
    if body is None:
        return (False,) * len(GROUP_NAMES)
    seen = {
        "torso": True,
        "armLeft": body.arms[Side.LEFT] is not None,
        "armRight": body.arms[Side.RIGHT] is not None,
        "handLeft": body.hands[Side.LEFT] is not None,
        "handRight": body.hands[Side.RIGHT] is not None,
    }
    return tuple(seen[g] for g in GROUP_NAMES)


def vector_to_dict(vec: Vector) -> dict[str, float]:
    """A parameter vector as the ``name -> value`` dict renderers read."""
    return dict(zip(PARAM_NAMES, vec.tolist(), strict=True))


def frame_to_params(frame: ParamFrame) -> dict[str, float]:
    """The named parameters of one frame (see avatars/FORMAT.md, "Parameters")."""
    return vector_to_dict(frame_to_vector(frame))


def neutral_vector() -> Vector:
    """Every parameter at rest."""
    return np.zeros(NUM_PARAMS, dtype=np.float64)
