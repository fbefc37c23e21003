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

SIDES: tuple[str, str] = ("Left", "Right")
#: The three arm segments a bone layer can follow (FORMAT.md, "Bones").
BONES: tuple[str, ...] = ("upperArm", "forearm", "hand")
FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")

#: Bone driver name (``forearmLeft``) -> (angle parameter, forward parameter). The angle is the
#: segment's direction projected on the frontal plane (radians, 0 = hanging down, + = swung
#: toward the subject's left); forward is its component toward the camera (-1..1), which makes
#: the drawn segment shorter (foreshortening).
BONE_DRIVERS: dict[str, tuple[str, str]] = {
    f"{bone}{side}": (f"{bone}Angle{side}", f"{bone}Forward{side}")
    for side in SIDES
    for bone in BONES
}


def _arm_params(side: str) -> tuple[str, ...]:
    return (
        *(name for bone in BONES for name in BONE_DRIVERS[f"{bone}{side}"]),
        f"palmFacing{side}",
    )


def _hand_params(side: str) -> tuple[str, ...]:
    return (*(f"{finger}Curl{side}" for finger in FINGERS), f"fingerSpread{side}")


#: Upper-body parameters in groups that come and go together on the wire: an arm or a hand that
#: is not seen eases back to rest on its own (render_window.motion), the torso with the body.
BODY_GROUPS: dict[str, tuple[str, ...]] = {
    "torso": ("shoulderShrugLeft", "shoulderShrugRight", "torsoRoll"),
    "armLeft": _arm_params("Left"),
    "armRight": _arm_params("Right"),
    "handLeft": _hand_params("Left"),
    "handRight": _hand_params("Right"),
}
BODY_PARAMS: tuple[str, ...] = tuple(n for group in BODY_GROUPS.values() for n in group)
#: Body parameters that are signed (angles, directions), not weights in 0..1.
SIGNED_BODY_PARAMS: tuple[str, ...] = tuple(
    n for n in BODY_PARAMS if "Angle" in n or "Forward" in n or "Facing" in n or n == "torsoRoll"
)

#: Every parameter name a binding may name: blendshapes (minus MediaPipe's ``_neutral``), the
#: derived channels and the upper body above.
PARAM_NAMES: tuple[str, ...] = (
    tuple(n for n in BLENDSHAPE_NAMES if n != "_neutral") + DERIVED_PARAMS + BODY_PARAMS
)
PARAM_SET = frozenset(PARAM_NAMES)
