"""A VRM 0.x model with arms drawn by the real renderer: nova's 0.x copy (scripts/make_vrm0.py).

Through the screenshot CLI under a real Xvfb: the raised arm shows on the same side as the 1.0
nova's, blink and aa work through ``blendShapeMaster``, and the whole picture is the 1.0
nova's (0.x faces -Z, keeps MToon in ``materialProperties`` and names things its own way: a
loader that got any of it wrong would draw a different picture).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from .test_arms3d import WAVE, _skin
from .test_gl3d import Pixels, iris, mouth, picture

VRM0 = Path(__file__).resolve().parents[1] / "avatars" / "data" / "nova-vrm0.vrm"
#: The wave, with the avatar's left eye shut and the mouth open ("aa").
POSE = json.dumps({**WAVE, "eyeBlinkLeft": 1.0, "jawOpen": 1.0})


@pytest.fixture(scope="module")
def shots(xvfb_display: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Pixels]:
    tmp = tmp_path_factory.mktemp("vrm0")
    return {
        "rest": picture(xvfb_display, tmp, VRM0),
        "posed": picture(xvfb_display, tmp, VRM0, "--pose", POSE),
        "nova": picture(xvfb_display, tmp, "nova", "--pose", POSE),
    }


def test_the_0x_copy_waves_blinks_and_opens_its_mouth(shots: dict[str, Pixels]) -> None:
    rest, posed = shots["rest"], shots["posed"]
    h, w = posed.shape[:2]
    # The user's right arm: up on the viewer's left, as with nova (test_arms3d); the other
    # arm hangs out of the upper picture.
    assert _skin(posed)[: h // 2, : w // 3].sum() > 800
    assert _skin(posed)[: h // 2, w * 2 // 3 :].sum() == 0
    assert _skin(rest)[: h // 2, : w // 3].sum() == 0
    # blink_l closes the avatar's left eye (the viewer's right) only; a opens the mouth.
    half = w // 2
    eyes_rest, eyes = iris(rest), iris(posed)
    assert eyes_rest[:, half:].sum() > 30 and eyes[:, half:].sum() < 0.1 * eyes_rest[:, half:].sum()
    assert eyes[:, :half].sum() > 0.9 * eyes_rest[:, :half].sum()
    assert mouth(posed).sum() > 3 * mouth(rest).sum() > 0


def test_the_0x_copy_draws_the_same_picture_as_nova(shots: dict[str, Pixels]) -> None:
    diff = np.abs(shots["posed"].astype(int) - shots["nova"].astype(int)).max(axis=2)
    # Colours pass through sRGB in the 0.x file: a level of rounding, nothing more.
    assert int(diff.max()) <= 2, f"{int((diff > 2).sum())} px differ by more than 2 levels"
