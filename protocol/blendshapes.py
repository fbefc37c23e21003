"""The 52 blendshape channels in MediaPipe FaceLandmarker's canonical output order.

The order *is* the wire format: a frame carries one byte per channel at these indexes, so this
tuple must never be reordered; new channels can only be appended in a new frame version.
Left/right follow MediaPipe (and ARKit): ``...Left`` is the *subject's own* left side, which
appears on the right of an unmirrored camera image.
"""

from __future__ import annotations

BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral",
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeLookDownLeft",
    "eyeLookDownRight",
    "eyeLookInLeft",
    "eyeLookInRight",
    "eyeLookOutLeft",
    "eyeLookOutRight",
    "eyeLookUpLeft",
    "eyeLookUpRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "eyeWideLeft",
    "eyeWideRight",
    "jawForward",
    "jawLeft",
    "jawOpen",
    "jawRight",
    "mouthClose",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthFunnel",
    "mouthLeft",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthPucker",
    "mouthRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "noseSneerLeft",
    "noseSneerRight",
)

NUM_BLENDSHAPES = len(BLENDSHAPE_NAMES)
assert NUM_BLENDSHAPES == 52

#: name -> index, for code that works by name (avatar bindings, the seed's named view).
BLENDSHAPE_INDEX: dict[str, int] = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}


def mirrored_name(name: str) -> str:
    """Return the channel that ``name`` becomes when the image is mirrored (Left <-> Right).

    ``mouthLeft``/``mouthRight`` and ``jawLeft``/``jawRight`` describe a movement direction, which
    also flips under a mirror, so the plain suffix swap is right for every channel.
    """
    if name.endswith("Left"):
        return name[: -len("Left")] + "Right"
    if name.endswith("Right"):
        return name[: -len("Right")] + "Left"
    return name


#: Index permutation that mirrors a blendshape vector:
#: ``mirrored[i] = values[MIRROR_PERMUTATION[i]]``.
MIRROR_PERMUTATION: tuple[int, ...] = tuple(
    BLENDSHAPE_INDEX[mirrored_name(n)] for n in BLENDSHAPE_NAMES
)
