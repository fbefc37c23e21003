"""From a wire :class:`ParamFrame` to the named parameters avatar bindings read.

A pure mapping (no state, no clock) so it can be unit-tested and reused by any renderer. The
motion code works on fixed-order float vectors (fast to interpolate with numpy); renderers get a
``dict[str, float]`` keyed by :data:`avatars.params.PARAM_NAMES`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from avatars.params import PARAM_NAMES
from protocol.blendshapes import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES
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


def vector_to_dict(vec: Vector) -> dict[str, float]:
    """A parameter vector as the ``name -> value`` dict renderers read."""
    return dict(zip(PARAM_NAMES, vec.tolist(), strict=True))


def frame_to_params(frame: ParamFrame) -> dict[str, float]:
    """The named parameters of one frame (see avatars/FORMAT.md, "Parameters")."""
    return vector_to_dict(frame_to_vector(frame))


def neutral_vector() -> Vector:
    """Every parameter at rest."""
    return np.zeros(NUM_PARAMS, dtype=np.float64)
