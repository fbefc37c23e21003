"""VMC bones for the upper body and hands (protocol.vmc_body): the names are Unity's
HumanBodyBones; the rotations, chained from the T-pose of VRM's normalised rig, point every arm
segment where the body frame says; shrug, lean, curl and spread move the way people do; and a
frame with a body carries those bones in its bundle (python-osc reads them), one without none."""

from __future__ import annotations

import math

import numpy as np
import pytest

from protocol.body import REST, REST_HAND, ArmPose, BodyPose, HandShape, Side
from protocol.frame import FrameFlags, ParamFrame
from protocol.vmc import ADDR_BONE, BundleEncoder, frame_messages, packet_messages
from protocol.vmc_body import body_bones, bone_names, q_mul, q_rotate, unity

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

#: The HumanBodyBones members a VMC body sender uses (Unity's enum, by name).
HUMAN_BODY_BONES = {"UpperChest"} | {
    f"{side}{part}"
    for side in ("Left", "Right")
    for part in (
        "Shoulder", "UpperArm", "LowerArm", "Hand",
        *(f"{f}{j}" for f in ("Thumb", "Index", "Middle", "Ring", "Little")
          for j in ("Proximal", "Intermediate", "Distal")),
    )
}  # fmt: skip
T_DIR = {Side.LEFT: (-1.0, 0.0, 0.0), Side.RIGHT: (1.0, 0.0, 0.0)}
T_PALM = (0.0, -1.0, 0.0)


def unit(v: tuple[float, float, float]) -> tuple[float, float, float]:
    n = math.sqrt(sum(c * c for c in v))
    return (v[0] / n, v[1] / n, v[2] / n)


def random_arm(rng: np.random.Generator) -> ArmPose:
    def vec() -> tuple[float, float, float]:
        x, y, z = rng.normal(size=3)
        return unit((float(x), float(y), float(z)))

    hand = vec()
    palm = vec()
    k = sum(a * b for a, b in zip(palm, hand, strict=True))
    palm = unit((palm[0] - k * hand[0], palm[1] - k * hand[1], palm[2] - k * hand[2]))
    return ArmPose(vec(), vec(), hand, palm)


def by_name(body: BodyPose) -> dict[str, tuple[float, float, float, float]]:
    return {name: rot for name, _pos, rot in body_bones(body)}


def test_names_are_unity_humanbodybones_and_fixed() -> None:
    names = bone_names()
    assert len(names) == len(set(names)) == 39
    assert set(names) == HUMAN_BODY_BONES
    assert [b[0] for b in body_bones(REST)] == names


@pytest.mark.parametrize("seed", range(10))
def test_the_chain_points_each_segment_where_the_body_frame_says(seed: int) -> None:
    rng = np.random.default_rng(seed)
    arms = (random_arm(rng), random_arm(rng))
    body = BodyPose(shoulder_shrug=(0.7, 0.2), arms=arms, hands=(REST_HAND, REST_HAND))
    rot = by_name(body)
    for side in Side:
        name = "Left" if side is Side.LEFT else "Right"
        arm = arms[side]
        shoulder = rot[f"{name}Shoulder"]
        upper = q_mul(shoulder, rot[f"{name}UpperArm"])
        fore = q_mul(upper, rot[f"{name}LowerArm"])
        hand = q_mul(fore, rot[f"{name}Hand"])
        assert q_rotate(upper, T_DIR[side]) == pytest.approx(unity(arm.upper_arm), abs=1e-9)
        assert q_rotate(fore, T_DIR[side]) == pytest.approx(unity(arm.forearm), abs=1e-9)
        assert q_rotate(hand, T_DIR[side]) == pytest.approx(unity(arm.hand), abs=1e-9)
        assert q_rotate(hand, T_PALM) == pytest.approx(unity(arm.palm_normal), abs=1e-9)


def test_an_arm_hanging_points_down_and_unseen_sides_are_at_rest() -> None:
    body = BodyPose()  # nothing seen: both sides at rest
    rot = by_name(body)
    for side in Side:
        name = "Left" if side is Side.LEFT else "Right"
        upper = q_mul(rot[f"{name}Shoulder"], rot[f"{name}UpperArm"])
        assert q_rotate(upper, T_DIR[side]) == pytest.approx((0.0, -1.0, 0.0), abs=1e-9)
    assert by_name(body) == by_name(REST)


def test_shrug_raises_each_shoulder_and_roll_leans_to_the_users_left() -> None:
    rot = by_name(BodyPose(shoulder_shrug=(1.0, 1.0), torso_roll=0.3))
    assert q_rotate(rot["LeftShoulder"], T_DIR[Side.LEFT])[1] > 0.3
    assert q_rotate(rot["RightShoulder"], T_DIR[Side.RIGHT])[1] > 0.3
    top = q_rotate(rot["UpperChest"], (0.0, 1.0, 0.0))
    assert top[0] < -0.25  # Unity -x: the avatar's (the user's own) left


def test_curl_bends_toward_the_palm_and_spread_fans_the_fingers() -> None:
    fist = HandShape(curls=(1.0, 1.0, 1.0, 1.0, 1.0), spread=0.0)
    splayed = HandShape(curls=(0.0, 0.0, 0.0, 0.0, 0.0), spread=1.0)
    for side in Side:
        name = "Left" if side is Side.LEFT else "Right"
        hands = [None, None]
        hands[side] = fist
        rot = by_name(BodyPose(hands=(hands[0], hands[1])))
        for finger in ("Index", "Middle", "Ring", "Little"):
            tip = q_rotate(rot[f"{name}{finger}Proximal"], T_DIR[side])
            assert tip[1] < -0.5, (name, finger)  # toward the palm (palm down in T-pose)
        hands[side] = splayed
        rot = by_name(BodyPose(hands=(hands[0], hands[1])))
        index = q_rotate(rot[f"{name}IndexProximal"], T_DIR[side])
        little = q_rotate(rot[f"{name}LittleProximal"], T_DIR[side])
        assert index[2] > 0.1 and little[2] < -0.1  # index toward the thumb (forward), little away


def test_a_frame_with_a_body_sends_its_bones() -> None:
    frame = ParamFrame(seq=1, timestamp_us=1, flags=FrameFlags.FACE_PRESENT, body=REST)
    data = BundleEncoder().encode(frame, 1.0)
    parsed = packet_messages(data)
    assert parsed == [
        (a, [pytest.approx(x, abs=1e-6) if isinstance(x, float) else x for x in args])
        for a, args in frame_messages(frame, 1.0)
    ]
    bones = [args[0] for a, args in parsed if a == ADDR_BONE]
    assert bones == ["Neck", "Head", *bone_names()]
    plain = packet_messages(BundleEncoder().encode(ParamFrame(seq=1, timestamp_us=1), 1.0))
    assert [args[0] for a, args in plain if a == ADDR_BONE] == ["Neck", "Head"]
