"""Names a binding in an avatar pack may use (see FORMAT.md)."""

from __future__ import annotations

from protocol.blendshapes import BLENDSHAPE_NAMES

DERIVED_PARAMS: tuple[str, ...] = (
    "headPitch",
    "headYaw",
    "headRoll",
    "headX",
    "headY",
    "headZ",
    "gazeX",
    "gazeY",
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
