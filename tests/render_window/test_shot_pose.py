"""``--pose`` and ``--emotion`` of ``python -m render_window --screenshot`` (render_window.shot).

The parse is pure, so most checks call it directly; one run of the real command shows a bad
value ends in one line and exit 2, before any window or display is needed.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from avatars.params import PARAM_NAMES
from render_window.shot import ShotError, parse_pose, pose_ranges

REPO = Path(__file__).resolve().parents[2]


def test_every_parameter_has_a_range_and_in_range_values_pass_unchanged() -> None:
    ranges = pose_ranges()
    assert set(PARAM_NAMES) <= set(ranges)
    assert ranges["headYaw"][:2] == (-math.pi / 2, math.pi / 2)
    assert ranges["jawOpen"][:2] == (0.0, 1.0)
    assert ranges["upperArmAngleRight"][:2] == (-2 * math.pi, 2 * math.pi)
    assert ranges["palmFacingLeft"][:2] == ranges["gazeX"][:2] == (-1.0, 1.0)
    pose = {"headYaw": -1.5, "jawOpen": 0.3, "upperArmAngleRight": -3.1, "gazeY": -1, "breath": 1}
    assert parse_pose(json.dumps(pose), None) == pose
    assert parse_pose(None, None) == {} and parse_pose("{}", None) == {}


@pytest.mark.parametrize(
    ("pose", "message"),
    [
        ("{headYaw: 1}", "--pose is not JSON: Expecting property name"),
        ('{"headYaw": 0.3', "--pose is not JSON"),
        ("[" * 100_000, "--pose is not JSON: nested too deeply"),
        ("1" * 5000, "--pose is not JSON"),  # past Python's digit limit for int()
        ('[{"headYaw": 0.3}]', "--pose must be a JSON object"),
        ('{"armRightRaise": 1}', "--pose: unknown parameter 'armRightRaise'"),
        ('{"eyeBlinkLeftt": 1}', "(did you mean 'eyeBlinkLeft'?)"),
        ('{"headYaw": 0.1, "headYaw": 0.2}', "--pose: 'headYaw' is given twice"),
        ('{"headYaw": "0.3"}', '--pose: headYaw must be a number, got "0.3"'),
        ('{"jawOpen": true}', "--pose: jawOpen must be a number, got true"),
        ('{"jawOpen": null}', "--pose: jawOpen must be a number, got null"),
        ('{"headYaw": NaN}', "--pose: headYaw must be a finite number, got nan"),
        ('{"eyeBlinkLeft": -Infinity}', "--pose: eyeBlinkLeft must be a finite number"),
        ('{"headPitch": 1e400}', "--pose: headPitch must be a finite number, got inf"),
        ('{"headRoll": ' + "9" * 400 + "}", "--pose: headRoll must be a finite number"),
        # Degrees typed where radians go: the message names the range and the unit.
        ('{"headYaw": 15}', "--pose: headYaw 15 is outside -1.571..1.571 radians"),
        ('{"torsoRoll": -2}', "--pose: torsoRoll -2 is outside -1.571..1.571 radians"),
        ('{"forearmAngleLeft": 90}', "--pose: forearmAngleLeft 90 is outside -6.283..6.283"),
        ('{"gazeX": 1.5}', "--pose: gazeX 1.5 is outside -1..1"),
        ('{"palmFacingRight": -3}', "--pose: palmFacingRight -3 is outside -1..1"),
    ],
)
def test_bad_pose_is_one_clear_error(pose: str, message: str) -> None:
    with pytest.raises(ShotError) as e:
        parse_pose(pose, None)
    text = str(e.value)
    assert message in text and "\n" not in text and len(text) < 200, text


def test_weights_are_clamped_to_0_1_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Blendshapes, curls and emotions are weights: 1.2 means "fully", as the wire's byte
    would have it, so they are clamped (and said so), not refused."""
    with caplog.at_level(logging.WARNING, logger="render_window.shot"):
        got = parse_pose('{"jawOpen": 1.2, "eyeBlinkLeft": -0.5, "indexCurlLeft": 3}', "happy:7")
    assert got == {"jawOpen": 1.0, "eyeBlinkLeft": 0.0, "indexCurlLeft": 1.0, "emotionHappy": 1.0}
    said = caplog.text
    assert "--pose: jawOpen 1.2 clamped to 1" in said
    assert "--pose: eyeBlinkLeft -0.5 clamped to 0" in said
    assert "--emotion: weight 7 clamped to 1" in said


@pytest.mark.parametrize(
    ("emotion", "expected"),
    [
        ("happy", {"emotionHappy": 1.0}),
        ("Sad:0.25", {"emotionSad": 0.25}),
        ("angry:", {"emotionAngry": 1.0}),
    ],
)
def test_emotion_names_and_weights(emotion: str, expected: dict[str, float]) -> None:
    assert parse_pose(None, emotion) == expected


@pytest.mark.parametrize(
    ("emotion", "message"),
    [
        ("joy", "--emotion: 'joy' is not one of happy, sad, angry, surprised"),
        ("happy:lots", "--emotion: weight 'lots' is not a number"),
        ("happy:nan", "--emotion: weight must be a finite number, got nan"),
        ("happy:inf", "--emotion: weight must be a finite number, got inf"),
    ],
)
def test_bad_emotion_is_one_clear_error(emotion: str, message: str) -> None:
    with pytest.raises(ShotError, match="^" + re.escape(message)):
        parse_pose(None, emotion)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # refused before any window
    return subprocess.run(
        [sys.executable, "-m", "render_window", *args],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_command_refuses_a_bad_pose_in_one_line_with_exit_2(tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    proc = _cli("--avatar", "nova", "--screenshot", str(out), "--pose", '{"headYaw": 15}')
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "render_window: --pose: headYaw 15 is outside -1.571..1.571 radians (90 degrees is 1.571)"
    ]
    assert not out.exists()
    # Without --screenshot the window would ignore them: refused, not silently dropped.
    proc = _cli("--demo", "--pose", '{"headYaw": 0.3}', "--emotion", "happy")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--pose and --emotion only apply with --screenshot" in proc.stderr
