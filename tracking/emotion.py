"""Emotion presets blended over tracking (TUI hotkeys: happy, sad, angry, surprised, neutral).

A preset is a small set of target blendshape values. With weight ``w`` each of the preset's
channels moves toward its target, ``y = x + w * (target - x)`` where the target is above the
tracked value (a preset adds an expression; it never suppresses what the face does beyond it),
and the frame carries the preset and weight too (``emotion``/``emotion_weight``), so a renderer
that has a dedicated expression can use that instead of the biased channels. ``NEUTRAL`` clears
the preset.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from protocol.blendshapes import BLENDSHAPE_INDEX
from protocol.frame import Emotion

Array = NDArray[np.float64]


def _targets(**values: float) -> tuple[NDArray[np.intp], Array]:
    names = []
    for name, v in values.items():
        names.append((name, v))
    idx = np.array([BLENDSHAPE_INDEX[n] for n, _ in names])
    return idx, np.array([v for _, v in names], dtype=np.float64)


#: Target values per preset, from ARKit/MediaPipe expression conventions (FACS-like).
PRESETS: dict[Emotion, tuple[NDArray[np.intp], Array]] = {
    Emotion.HAPPY: _targets(
        mouthSmileLeft=0.9,
        mouthSmileRight=0.9,
        cheekSquintLeft=0.5,
        cheekSquintRight=0.5,
        eyeSquintLeft=0.3,
        eyeSquintRight=0.3,
    ),
    Emotion.SAD: _targets(
        mouthFrownLeft=0.8,
        mouthFrownRight=0.8,
        browInnerUp=0.7,
        mouthShrugLower=0.4,
        eyeLookDownLeft=0.2,
        eyeLookDownRight=0.2,
    ),
    Emotion.ANGRY: _targets(
        browDownLeft=0.9,
        browDownRight=0.9,
        noseSneerLeft=0.5,
        noseSneerRight=0.5,
        mouthPressLeft=0.5,
        mouthPressRight=0.5,
        eyeSquintLeft=0.4,
        eyeSquintRight=0.4,
    ),
    Emotion.SURPRISED: _targets(
        browInnerUp=0.9,
        browOuterUpLeft=0.9,
        browOuterUpRight=0.9,
        eyeWideLeft=0.8,
        eyeWideRight=0.8,
        jawOpen=0.5,
    ),
}


def apply_emotion(weights: Array, emotion: Emotion | None, weight: float) -> Array:
    """``weights`` with ``emotion``'s channels pulled toward their targets by ``weight``."""
    if emotion is None or emotion not in PRESETS or weight <= 0:
        return weights
    idx, target = PRESETS[emotion]
    out = weights.copy()
    current = out[idx]
    out[idx] = np.where(target > current, current + min(weight, 1.0) * (target - current), current)
    return out
