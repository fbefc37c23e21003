"""Head pose from the transformation matrix: the Euler convention, its signs, and mirroring."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.blendshapes import BLENDSHAPE_INDEX, MIRROR_PERMUTATION
from protocol.frame import FrameFlags, ParamFrame
from tracking.params import RawParams
from tracking.pose import (
    euler_from_rotation,
    matrix_from_pose,
    mirror_pose,
    pose_from_matrix,
    rotation_from_euler,
)

angle = st.floats(-1.2, 1.2)


@given(angle, angle, angle)
def test_euler_round_trip(pitch: float, yaw: float, roll: float) -> None:
    r = rotation_from_euler(pitch, yaw, roll)
    assert np.allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.allclose(euler_from_rotation(r), (pitch, yaw, roll), atol=1e-9)


def test_signs_match_the_avatar_contract() -> None:
    """Camera space is x right, y up, z toward the viewer; the face's nose points along its +z,
    its crown along +y. avatars/FORMAT.md: pitch + = looking down, yaw + = turning to the
    subject's left (the image's right, unmirrored), roll + = tilting to the subject's left."""
    a = 0.3
    nose = rotation_from_euler(a, 0, 0) @ [0, 0, 1]
    assert nose[1] < 0  # looking down: the nose points below the camera axis
    nose = rotation_from_euler(0, a, 0) @ [0, 0, 1]
    assert nose[0] > 0  # turned toward the image's right = the subject's own left
    crown = rotation_from_euler(0, 0, a) @ [0, 1, 0]
    assert crown[0] > 0  # head tilted toward the image's right = the subject's left shoulder


def test_pose_from_a_synthetic_matrix() -> None:
    m = matrix_from_pose((0.1, -0.2, 0.05), (3.0, -2.0, -40.0))
    rotation, translation = pose_from_matrix(m.tolist())
    assert rotation == pytest.approx((0.1, -0.2, 0.05), abs=1e-12)
    assert translation == (3.0, -2.0, -40.0)
    # A pure rotation of +10 degrees about camera +z (counter-clockwise on screen, as measured
    # on a rotated photo) is a roll toward the subject's RIGHT: negative.
    c, s = math.cos(math.radians(10)), math.sin(math.radians(10))
    rz = np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, -30], [0, 0, 0, 1]])
    (pitch, yaw, roll), _ = pose_from_matrix(rz)
    assert roll == pytest.approx(-math.radians(10))
    assert pitch == pytest.approx(0) and yaw == pytest.approx(0)


@given(angle, angle, angle)
def test_mirroring_the_image_is_conjugation_by_a_reflection(p: float, y: float, r: float) -> None:
    """Flipping the image (x -> -x) maps the pose R to M R M, M = diag(-1, 1, 1): pitch stays,
    yaw and roll change sign, t_x changes sign - what mirror_pose and ParamFrame.mirrored do."""
    flip = np.diag([-1.0, 1.0, 1.0, 1.0])
    m = matrix_from_pose((p, y, r), (4.0, 1.0, -50.0))
    mirrored = pose_from_matrix(flip @ m @ flip)
    expected = mirror_pose((p, y, r), (4.0, 1.0, -50.0))
    assert np.allclose(mirrored[0], expected[0], atol=1e-9)
    assert np.allclose(mirrored[1], expected[1])


def test_raw_mirror_equals_param_frame_mirrored_exactly() -> None:
    """The tracker's mirror correction (on floats) and ParamFrame.mirrored (on the wire form)
    agree bit for bit after quantisation; left and right channels swap exactly."""
    rng = np.random.default_rng(7)
    weights = rng.random(52)
    raw = RawParams(weights, np.array([0.1, 0.2, -0.3]), np.array([1.5, -2.0, -45.0]))
    frame = ParamFrame.from_weights(
        1, 1000, raw.weights, head_rotation=(0.1, 0.2, -0.3), head_translation=(1.5, -2.0, -45.0)
    )
    m = raw.mirrored()
    from_raw = ParamFrame.from_weights(
        1,
        1000,
        m.weights,
        flags=FrameFlags.FACE_PRESENT | FrameFlags.MIRRORED,
        head_rotation=tuple(m.rotation),
        head_translation=tuple(m.translation),
    )
    assert from_raw.encode() == frame.mirrored().encode()
    left, right = BLENDSHAPE_INDEX["eyeBlinkLeft"], BLENDSHAPE_INDEX["eyeBlinkRight"]
    assert m.weights[left] == weights[right] and m.weights[right] == weights[left]
    assert m.weights[BLENDSHAPE_INDEX["jawOpen"]] == weights[BLENDSHAPE_INDEX["jawOpen"]]
    assert all(MIRROR_PERMUTATION[MIRROR_PERMUTATION[i]] == i for i in range(52))
    assert np.array_equal(raw.mirrored().mirrored().weights, weights)
