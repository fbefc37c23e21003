"""Names a binding in an avatar pack may use (see FORMAT.md)."""

from __future__ import annotations

from protocol.blendshapes import BLENDSHAPE_NAMES

#: Head pose and gaze: signed values, not weights in 0..1.
POSE_PARAMS: tuple[str, ...] = (
    "headPitch",
    "headYaw",
    "headRoll",
    "headX",
    "headY",
    "headZ",
    "gazeX",
    "gazeY",
)

DERIVED_PARAMS: tuple[str, ...] = (
    *POSE_PARAMS,
    "mouthOpen",
    "smile",
    "breath",
    "emotionHappy",
    "emotionSad",
    "emotionAngry",
    "emotionSurprised",
)

#: Every parameter name a binding may name: blendshapes (minus MediaPipe's ``_neutral``) and
#: the derived channels above.
PARAM_NAMES: tuple[str, ...] = (
    tuple(n for n in BLENDSHAPE_NAMES if n != "_neutral") + DERIVED_PARAMS
)
PARAM_SET = frozenset(PARAM_NAMES)
