"""Arms, hands and fingers of a 3D humanoid from the body parameters (render_window.arms3d).

The pose tests check where bones end up (world positions of the posed rig: pure numpy, fast):
on the built-in nova (VRM 1.0, T-pose rest) and on a VRM 0.x-style rig facing -Z in an A-pose
with rest rotations on its bones. The pixel test draws nova through the screenshot CLI under a
real Xvfb: the user's right arm raised shows on the viewer's left, and a fist is a fist.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from avatars.avatar3d import load_avatar
from avatars.model3d import Model, Node
from protocol.body import Side
from render_window.arms3d import palm_from, segment
from render_window.params import segment_angle
from render_window.pose3d import Poser

from .test_gl3d import Pixels, picture

#: The user's right arm raised sideways and bent up at the elbow, palm to the camera: a wave.
WAVE = {
    "upperArmAngleRight": -1.45,
    "forearmAngleRight": -3.1,
    "handAngleRight": -3.1,
    "palmFacingRight": 1.0,
}
FIST = {f"{f}CurlRight": 1.0 for f in ("thumb", "index", "middle", "ring", "pinky")}


def posed(model: Model, params: dict[str, float]) -> dict[str, npt.NDArray[np.float32]]:
    """World position of every humanoid bone in the posed model."""
    world = Poser(model).pose(params).world
    return {b: world[k][:3, 3] for b, k in model.humanoid.items()}


@pytest.fixture(scope="module")
def nova() -> Model:
    m = load_avatar("nova")
    assert isinstance(m, Model)
    return m


def test_segment_directions_round_trip_the_parameters() -> None:
    for v in [(0.0, -1.0, 0.0), (-0.6, 0.8, 0.0), (0.3, 0.5, 0.81), (0.7, -0.1, -0.7)]:
        u = np.array(v) / np.linalg.norm(v)
        side = Side.RIGHT if u[0] < 0 else Side.LEFT
        params = {"upperArmAngleLeft": segment_angle(tuple(u), side), "upperArmForwardLeft": u[2]}
        assert np.allclose(segment(params, "upperArm", "Left"), u, atol=1e-6)
    # A palm's forward component is what the frame carries; the rest of it is made up.
    for facing in (-1.0, -0.4, 0.0, 0.7, 1.0):
        hand = np.array([0.0, -1.0, 0.0], np.float32)
        n = palm_from(hand, facing, 1.0)
        assert abs(float(n @ hand)) < 1e-6 and math.isclose(float(n[2]), facing, abs_tol=1e-6)
    assert np.allclose(palm_from(np.array([0, -1, 0], np.float32), 0.0, 1.0), (-1, 0, 0))


def test_nova_hangs_its_arms_at_rest_and_raises_the_one_asked(nova: Model) -> None:
    rest = posed(nova, {})
    for side, sx in (("left", 1), ("right", -1)):
        # Hanging: the hand straight below the shoulder joint, at the avatar's own side.
        up, hand = rest[f"{side}UpperArm"], rest[f"{side}Hand"]
        assert hand[1] < up[1] - 0.3 and abs(hand[0] - up[0]) < 0.02 and sx * hand[0] > 0.1
    wave = posed(nova, WAVE)
    head = wave["head"]
    # The user's right arm is the avatar's right (-x: the viewer's left), and it is up.
    assert wave["rightHand"][1] > head[1] and wave["rightHand"][0] < -0.2
    assert np.allclose(wave["leftHand"], rest["leftHand"], atol=1e-5)  # the other stays
    # Tracking loss eases every body parameter to 0 (render_window.motion): that is rest.
    zeros = posed(nova, {k: 0.0 for k in WAVE})
    assert np.allclose(zeros["rightHand"], rest["rightHand"], atol=1e-5)


def test_nova_fingers_curl_toward_the_palm(nova: Model) -> None:
    open_hand = posed(nova, WAVE)
    fist = posed(nova, {**WAVE, **FIST})
    palm_out = np.array([0.0, 0.0, 1.0])  # the waving palm faces the camera (+z)
    for finger in ("Index", "Middle", "Ring", "Little"):
        tip = f"right{finger}Distal"
        # Open: the finger points up; curled: its tip comes down toward the palm, forward.
        assert fist[tip][1] < open_hand[tip][1] - 0.02, finger
        assert float((fist[tip] - open_hand[tip]) @ palm_out) > 0.0, finger
    assert np.allclose(fist["rightHand"], open_hand["rightHand"], atol=1e-5)


def _vrm0_rig() -> Model:
    """A VRM 0.x-style skeleton: facing -Z (its left arm along -x), arms in an A-pose 30
    degrees below horizontal, and rest rotations on the arm bones (as Blender exports have)."""

    def node(name: str, t: tuple[float, float, float], children: list[int], q: float = 0.0) -> Node:
        half = q / 2  # a rest rotation about z by q radians
        return Node(
            name, children, np.array(t, np.float32),
            np.array([0, 0, math.sin(half), math.cos(half)], np.float32),
            np.ones(3, np.float32), None,
        )  # fmt: skip

    a = math.radians(30)

    def arm_offset(length: float, sx: float, q: float) -> tuple[float, float, float]:
        # The bone's rest rotation q turns its local frame: undo it so the joint lands on
        # the A-pose line (length along (sx cos a, -sin a)).
        x, y = sx * length * math.cos(a), -length * math.sin(a)
        return (x * math.cos(q) + y * math.sin(q), -x * math.sin(q) + y * math.cos(q), 0.0)

    nodes = [
        node("hips", (0, 1.0, 0), [1]),
        node("chest", (0, 0.3, 0), [2, 3]),
        node("head", (0, 0.25, 0), []),
        # 0.x faces -Z: the avatar's left arm lies along -x.
        node("lUpper", (-0.18, 0.15, 0), [4], q=0.4),
        node("lLower", arm_offset(0.26, -1, 0.4), [5], q=-0.2),
        node("lHand", arm_offset(0.24, -1, 0.2), []),
    ]
    return Model(
        id="rig0", nodes=nodes, roots=[0], meshes=[], skins=[], materials=[], images=[],
        vrm_version="0.x",
        humanoid={"hips": 0, "chest": 1, "head": 2, "leftUpperArm": 3, "leftLowerArm": 4,
                  "leftHand": 5},
        expressions={},
    )  # fmt: skip


def test_a_vrm0_a_pose_rig_points_where_the_parameters_say() -> None:
    rig = _vrm0_rig()
    for target in [(0.0, -1.0, 0.0), (0.7071, 0.7071, 0.0), (0.0, 0.0, 1.0), (0.6, 0.0, 0.8)]:
        t = np.array(target, np.float32)
        params = {}
        for bone in ("upperArm", "forearm"):
            params[f"{bone}AngleLeft"] = segment_angle(tuple(t), Side.LEFT)
            params[f"{bone}ForwardLeft"] = float(t[2])
        p = posed(rig, params)
        upper = p["leftLowerArm"] - p["leftUpperArm"]
        lower = p["leftHand"] - p["leftLowerArm"]
        # In the renderer's world (the 0.x model turned to face the camera) the user's own
        # left (+x) is the avatar's left: each segment points along the tracked direction.
        assert np.allclose(upper / np.linalg.norm(upper), t, atol=1e-3), (target, upper)
        assert np.allclose(lower / np.linalg.norm(lower), t, atol=1e-3), (target, lower)


def _skin(img: Pixels) -> npt.NDArray[np.bool_]:
    r, g, b = (img[..., k].astype(int) for k in range(3))
    return (r > 200) & (g > 160) & (b > 130) & (r > b + 30)


def test_nova_waves_on_the_correct_side_and_makes_a_fist(xvfb_display: str, tmp_path: Path) -> None:
    import json

    wave = picture(xvfb_display, tmp_path, "nova", "--pose", json.dumps(WAVE))
    fist = picture(xvfb_display, tmp_path, "nova", "--pose", json.dumps({**WAVE, **FIST}))
    h, w = wave.shape[:2]
    # The user's right arm is the avatar's right: on the viewer's left, up beside the head
    # (where nothing of nova is at rest: the pose tests put the hanging hands far below);
    # the other arm hangs, out of the upper picture.
    hand = (slice(0, h // 2), slice(0, w // 3))
    assert _skin(wave)[hand].sum() > 800
    assert _skin(wave)[: h // 2, w * 2 // 3 :].sum() == 0
    # Curled fingers: the open hand's fingers are gone from above the palm.
    top_open = np.flatnonzero(_skin(wave)[hand].any(axis=1))[0]
    top_fist = np.flatnonzero(_skin(fist)[hand].any(axis=1))[0]
    assert top_fist > top_open + 10
    assert _skin(fist)[hand].sum() < 0.8 * _skin(wave)[hand].sum()
