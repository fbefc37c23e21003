"""ParamFrame -> named avatar parameters (render_window/params.py)."""

from __future__ import annotations

import pytest

from avatars.params import PARAM_NAMES
from protocol.blendshapes import BLENDSHAPE_INDEX, NUM_BLENDSHAPES
from protocol.frame import Emotion, FrameFlags, ParamFrame
from render_window.params import frame_to_params, gaze


def frame(**weights: float) -> ParamFrame:
    w = [0.0] * NUM_BLENDSHAPES
    for name, value in weights.items():
        w[BLENDSHAPE_INDEX[name]] = value
    return ParamFrame.from_weights(1, 0, w, head_rotation=(0.1, -0.2, 0.3))


def test_every_param_name_is_present() -> None:
    p = frame_to_params(frame())
    assert list(p) == list(PARAM_NAMES)
    assert p["breath"] == 0.0


def test_head_rotation_and_blendshapes() -> None:
    p = frame_to_params(frame(eyeBlinkLeft=1.0, browInnerUp=0.5))
    assert p["headPitch"] == pytest.approx(0.1, abs=1e-3)
    assert p["headYaw"] == pytest.approx(-0.2, abs=1e-3)
    assert p["headRoll"] == pytest.approx(0.3, abs=1e-3)
    assert p["eyeBlinkLeft"] == 1.0 and p["eyeBlinkRight"] == 0.0
    assert p["browInnerUp"] == pytest.approx(0.5, abs=1 / 255)


def test_mouth_open_and_smile() -> None:
    p = frame_to_params(frame(jawOpen=0.6, mouthSmileLeft=1.0, mouthSmileRight=0.2))
    assert p["mouthOpen"] == pytest.approx(0.6, abs=1 / 255)
    assert p["smile"] == pytest.approx(0.6, abs=1 / 255)


def test_gaze_toward_the_subjects_left_is_positive() -> None:
    # Both eyes look toward the subject's left: the left eye looks out, the right eye in.
    p = frame_to_params(frame(eyeLookOutLeft=0.8, eyeLookInRight=0.8))
    assert p["gazeX"] == pytest.approx(0.8, abs=0.01)
    p = frame_to_params(frame(eyeLookInLeft=0.8, eyeLookOutRight=0.8))
    assert p["gazeX"] == pytest.approx(-0.8, abs=0.01)
    p = frame_to_params(frame(eyeLookUpLeft=1.0, eyeLookUpRight=1.0))
    assert p["gazeY"] == pytest.approx(1.0, abs=0.01)
    p = frame_to_params(frame(eyeLookDownLeft=0.5, eyeLookDownRight=0.5))
    assert p["gazeY"] == pytest.approx(-0.5, abs=0.01)


def test_gaze_is_clamped() -> None:
    names = ("eyeLookOutLeft", "eyeLookInRight", "eyeLookInLeft", "eyeLookOutRight")
    w = dict.fromkeys(names, 0.0) | dict.fromkeys(
        ("eyeLookUpLeft", "eyeLookUpRight", "eyeLookDownLeft", "eyeLookDownRight"), 0.0
    )
    w.update(eyeLookOutLeft=1.0, eyeLookInRight=1.0)
    assert gaze(w) == (1.0, 0.0)


def test_emotion_preset_maps_to_its_channel() -> None:
    f = frame()
    f.emotion, f.emotion_weight = Emotion.HAPPY, 0.7
    p = frame_to_params(f)
    assert p["emotionHappy"] == pytest.approx(0.7)
    assert p["emotionSad"] == 0.0
    f.emotion = Emotion.NEUTRAL
    assert all(frame_to_params(f)[n] == 0.0 for n in PARAM_NAMES if n.startswith("emotion"))


def test_head_translation_is_normalised_once_calibrated() -> None:
    f = frame()
    f.head_translation = (5.0, -50.0, -40.0)
    p = frame_to_params(f)
    assert (p["headX"], p["headY"], p["headZ"]) == (0.0, 0.0, 0.0)  # absolute camera space
    f.flags |= FrameFlags.CALIBRATED
    p = frame_to_params(f)
    assert p["headX"] == pytest.approx(0.5)
    assert p["headY"] == -1.0
