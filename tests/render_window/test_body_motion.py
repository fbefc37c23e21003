"""Arms and hands through the window's motion layer: frame -> parameters, the same interpolation
as the face, and each unseen arm or hand easing to rest on its own (never frozen in the air)."""

from __future__ import annotations

import itertools
import math

import pytest

from protocol.blendshapes import NUM_BLENDSHAPES
from protocol.body import ArmPose, BodyPose, HandShape, Side
from protocol.frame import FrameFlags, ParamFrame
from render_window.idle import IdleLife
from render_window.motion import BODY_GRACE_S, Motion
from render_window.params import PARAM_INDEX, frame_to_params, segment_angle

HZ = 30.0
UP = (0.0, 1.0, 0.0)
DOWN = (0.0, -1.0, 0.0)
OUT_LEFT = (1.0, 0.0, 0.0)  # toward the user's own left
RAISED = ArmPose(upper_arm=OUT_LEFT, forearm=UP, hand=UP, palm_normal=(0.0, 0.0, 1.0))
OPEN = HandShape(curls=(0.0, 0.0, 0.0, 0.0, 0.0), spread=0.6)
FIST = HandShape(curls=(1.0, 1.0, 1.0, 1.0, 1.0), spread=0.0)
UPPER_L = PARAM_INDEX["upperArmAngleLeft"]
FORE_L = PARAM_INDEX["forearmAngleLeft"]
INDEX_L = PARAM_INDEX["indexCurlLeft"]


def body(arm: ArmPose | None = RAISED, hand: HandShape | None = OPEN) -> BodyPose:
    return BodyPose(arms=(arm, None), hands=(hand, None))


def frame(seq: int, t: float, b: BodyPose | None) -> ParamFrame:
    return ParamFrame.from_weights(
        seq, round(t * 1e6), [0.0] * NUM_BLENDSHAPES, flags=FrameFlags.FACE_PRESENT, body=b
    )


def run(
    m: Motion, poses: list[BodyPose | None], start: float = 0.0
) -> list[tuple[float, list[float]]]:
    """Push one frame per pose at 30 Hz (arriving 5 ms later) and sample at 60 Hz; returns
    (time, [upper arm angle, forearm angle, index curl]) per sample."""
    out = []
    for i, b in enumerate(poses):
        t = start + i / HZ
        m.push(frame(i, t, b), t + 0.005)
        for k in (0.006, 0.006 + 1 / 60):
            s = m.sample(t + k)
            out.append((t + k, [s.params[UPPER_L], s.params[FORE_L], s.params[INDEX_L]]))
    return out


def test_frame_body_becomes_named_parameters() -> None:
    p = frame_to_params(frame(1, 0.0, body(hand=FIST)))
    assert p["upperArmAngleLeft"] == pytest.approx(math.pi / 2)  # out to the user's left
    assert p["forearmAngleLeft"] == pytest.approx(math.pi)  # straight up
    assert p["palmFacingLeft"] == pytest.approx(1.0)
    assert p["indexCurlLeft"] == p["thumbCurlLeft"] == 1.0
    assert p["upperArmAngleRight"] == 0.0 and p["indexCurlRight"] == 0.0  # unseen: rest
    # Old peers (no body) leave every body parameter at rest.
    assert all(v == 0.0 for k, v in frame_to_params(frame(1, 0.0, None)).items() if "Arm" in k)


def test_angles_wrap_across_the_chest_not_overhead() -> None:
    """Straight up is about +pi for the left arm and -pi for the right, so raising either arm
    over the head and bringing it down again never sweeps through the wrong side."""
    assert segment_angle((0.01, 1.0, 0.0), Side.LEFT) == pytest.approx(math.pi, abs=0.02)
    assert segment_angle((-0.01, 1.0, 0.0), Side.LEFT) == pytest.approx(math.pi, abs=0.02)
    assert segment_angle((0.01, 1.0, 0.0), Side.RIGHT) == pytest.approx(-math.pi, abs=0.02)
    assert segment_angle((-1.0, 0.0, 0.0), Side.RIGHT) == pytest.approx(-math.pi / 2)
    assert segment_angle(DOWN, Side.LEFT) == 0.0


def test_a_seen_arm_is_followed_after_easing_in() -> None:
    m = Motion(IdleLife(seed=1), breathe=False)
    samples = run(m, [body()] * 60)
    upper, fore, curl = samples[-1][1]
    assert upper == pytest.approx(math.pi / 2, abs=1e-6)
    assert fore == pytest.approx(math.pi, abs=1e-6)
    assert curl == pytest.approx(0.0, abs=1e-6)
    assert m.body_weights["armLeft"] == 0.0 and m.body_weights["armRight"] == 1.0
    # Easing in, not a jump: the first samples lie between rest and the tracked pose.
    firsts = [s[1][1] for s in samples[:20]]
    assert any(0.3 < f < math.pi - 0.3 for f in firsts), firsts


def test_an_arm_that_leaves_eases_to_rest_and_does_not_freeze() -> None:
    m = Motion(IdleLife(seed=1), breathe=False)
    run(m, [body()] * 45)
    gone = run(m, [body(arm=None, hand=None)] * 45, start=45 / HZ)
    fore = [s[1][1] for s in gone]
    t0 = gone[0][0]
    # Within the grace period the arm holds (one missed detection must not twitch it) ...
    held = [f for (t, _), f in zip(gone, fore, strict=True) if t - t0 < BODY_GRACE_S - 0.04]
    assert held and all(f == pytest.approx(math.pi, abs=0.05) for f in held)
    # ... then it comes down smoothly, every step small, to the hanging rest (idle sway only).
    steps = [abs(b - a) for a, b in itertools.pairwise(fore)]
    assert max(steps) < 0.45, max(steps)
    assert abs(fore[-1]) < 0.2, fore[-1]
    assert gone[-1][1][2] == pytest.approx(0.2, abs=0.05)  # fingers relaxed (REST_HAND)
    assert m.body_weights["armLeft"] == pytest.approx(1.0, abs=1e-3)


def test_arms_rest_with_life_while_the_body_is_unseen() -> None:
    """No body at all (an old peer): arms hang and sway a little, not a frozen picture (the
    window's --no-breath holds them still for pixel tests)."""
    m = Motion(IdleLife(seed=3), breathe=True)
    samples = run(m, [None] * 150)  # 5 s
    upper = [s[1][0] for s in samples]
    assert max(abs(u) for u in upper) < 0.3
    assert max(upper) - min(upper) > 0.01
    still = Motion(IdleLife(seed=3), breathe=False)
    assert len({round(s[1][0], 9) for s in run(still, [None] * 60)}) == 1


def test_a_hand_flicker_inside_the_grace_period_keeps_the_pose() -> None:
    """Hands detected every other frame (alternating models) must not pump toward rest."""
    m = Motion(IdleLife(seed=1), breathe=False)
    run(m, [body()] * 45)
    flicker = run(m, [body() if i % 2 else body(None, None) for i in range(30)], start=45 / HZ)
    assert all(s[1][1] == pytest.approx(math.pi, abs=0.02) for s in flicker)
    assert m.body_weights["armLeft"] == 0.0


def test_a_paused_stream_rests_the_arms() -> None:
    m = Motion(IdleLife(seed=1), breathe=False)
    run(m, [body()] * 45)
    for i in range(45, 90):
        t = i / HZ
        f = frame(i, t, body())
        f.flags = FrameFlags.PAUSED
        m.push(f, t + 0.005)
        m.sample(t + 0.006)
    assert m.body_weights["armLeft"] == pytest.approx(1.0, abs=1e-3)
