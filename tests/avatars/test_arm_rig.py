"""Bone layers (FORMAT.md, "Bones"): how they pose, what the validator refuses, and that every
built-in avatar carries a working arm rig."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from avatars import PackValidationError, builtin_ids, load_pack, validate_pack
from avatars.bones import MIN_STRETCH, apply
from avatars.compose import compose, pose_layers
from avatars.model import AvatarPack
from tests.avatars.packkit import solid, write_pack

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

Edit = Callable[[Path, str, str], None]

#: A one-arm pack: the subject's left arm (drawn on the viewer's right) hanging from x = 300.
ARM_PACK: dict[str, Any] = {
    "format": 1,
    "id": "armtest",
    "name": "Arm test",
    "version": "1.0.0",
    "canvas": [400, 400],
}
INDEX_CURL = {"param": "indexCurlLeft", "target": "scale_y", "gain": -0.7, "min": 0.0, "max": 1.0}
# fmt: off
#: id, image, parent, position, pivot, z, and the rest of the layer (its bone or bindings).
ARM_LAYERS: list[tuple[str, str, str, list[int], list[int], int, dict[str, Any]]] = [
    ("body", "body", "", [100, 250], [200, 400], 0, {}),
    ("upper_arm_left", "seg", "body", [290, 200], [300, 200], 2,
     {"bone": {"driver": "upperArmLeft", "foreshorten": 1.0}}),
    ("forearm_left", "seg", "upper_arm_left", [290, 300], [300, 300], 3,
     {"bone": {"driver": "forearmLeft"}}),
    ("hand_left", "hand", "forearm_left", [285, 400], [300, 400], 4,
     {"bone": {"driver": "handLeft", "foreshorten": 0.5}}),
    ("index_left", "finger", "hand_left", [296, 430], [300, 430], 5, {"bindings": [INDEX_CURL]}),
]
# fmt: on
ARM_IMAGES = {
    "body": ((200, 150), (40, 80, 200, 255)),
    "seg": ((20, 100), (220, 180, 150, 255)),
    "hand": ((30, 30), (200, 150, 120, 255)),
    "finger": ((8, 25), (180, 120, 100, 255)),
}


@pytest.fixture
def arm_pack(tmp_path: Path) -> Path:
    keys = ("id", "image", "parent", "position", "pivot", "z")
    layers = [
        dict(zip(keys, (lid, f"layers/{image}.png", *row), strict=True)) | more
        for lid, image, *row, more in ARM_LAYERS
    ]
    images = {f"layers/{name}.png": solid(*spec) for name, spec in ARM_IMAGES.items()}
    return write_pack(tmp_path / "armtest", ARM_PACK, [], layers, images)


def poses(pack: AvatarPack, params: dict[str, float]) -> dict[str, tuple[float, ...]]:
    return {
        la.id: m for la, (m, _) in zip(pack.layers, pose_layers(pack.layers, params), strict=True)
    }


def test_valid_arm_pack_loads_with_its_bones(arm_pack: Path) -> None:
    assert validate_pack(arm_pack) == []
    pack = load_pack(arm_pack)
    bone = pack.layer("hand_left").bone
    assert bone is not None and bone.driver == "handLeft" and bone.foreshorten == 0.5
    assert pack.layer("forearm_left").bone.foreshorten == 1.0  # type: ignore[union-attr]
    assert pack.layer("index_left").bone is None


def test_at_rest_every_layer_stays_where_it_is_drawn(arm_pack: Path) -> None:
    m = poses(load_pack(arm_pack), {})
    for layer_id in ("upper_arm_left", "forearm_left", "hand_left", "index_left"):
        assert np.allclose(m[layer_id], (1, 0, 0, 0, 1, 0)), layer_id


def test_a_bone_points_along_its_segment_relative_to_its_parent_bone(arm_pack: Path) -> None:
    pack = load_pack(arm_pack)
    # Upper arm swung out to the subject's left (viewer's right), forearm hanging down.
    m = poses(pack, {"upperArmAngleLeft": math.pi / 2})
    elbow = apply(m["upper_arm_left"], 300, 300)  # the upper arm's drawn end
    assert np.allclose(elbow, (400, 200), atol=1e-6)
    # The forearm follows its own angle (0 = down), not its parent's: it still hangs.
    assert np.allclose(apply(m["forearm_left"], 300, 300), elbow, atol=1e-6)
    assert np.allclose(apply(m["forearm_left"], 300, 400), (400, 300), atol=1e-6)
    # Forearm straight up (about pi) from that elbow: the wrist is 100 px above it.
    m = poses(pack, {"upperArmAngleLeft": math.pi / 2, "forearmAngleLeft": math.pi})
    assert np.allclose(apply(m["forearm_left"], 300, 400), (400, 100), atol=1e-6)
    # The hand keeps hanging unless its own angle says otherwise (it is a bone too).
    assert np.allclose(apply(m["hand_left"], 300, 430), (400, 130), atol=1e-6)


def test_foreshortening_shortens_the_bone_and_carries_its_children(arm_pack: Path) -> None:
    pack = load_pack(arm_pack)
    m = poses(pack, {"upperArmForwardLeft": 1.0})  # pointing straight at the camera
    assert np.allclose(apply(m["upper_arm_left"], 300, 300), (300, 200 + 100 * MIN_STRETCH))
    # The forearm is not squashed, only moved to the shortened elbow.
    fore = m["forearm_left"]
    assert np.allclose(apply(fore, 300, 300), (300, 200 + 100 * MIN_STRETCH))
    assert np.allclose(apply(fore, 300, 400), (300, 300 + 100 * MIN_STRETCH))
    # Half forward, foreshorten 0.5 on the hand: 1 - 0.5 * (1 - sqrt(1 - 0.25)).
    m = poses(pack, {"handForwardLeft": 0.5})
    k = 1 - 0.5 * (1 - math.sqrt(0.75))
    assert np.allclose(apply(m["hand_left"], 300, 430), (300, 400 + 30 * k))


def test_compose_draws_a_raised_arm_where_the_pose_puts_it(arm_pack: Path) -> None:
    pack = load_pack(arm_pack)
    rest = np.asarray(compose(pack, {}))
    up = np.asarray(compose(pack, {"upperArmAngleLeft": math.pi, "forearmAngleLeft": math.pi}))
    # Straight up: the arm covers x = 300, y 0..200 (upper arm 100..200, forearm 0..100).
    assert rest[150, 300, 3] == 0 and up[150, 300, 3] == 255
    assert rest[50, 300, 3] == 0 and up[50, 300, 3] == 255
    assert rest[250, 300, 3] == 255 and up[250, 300, 3] == 0


@pytest.mark.parametrize(
    ("old", "new", "needles"),
    [
        (
            'driver = "forearmLeft"',
            'driver = "forarmLeft"',
            ("'forearm_left' bone: unknown driver 'forarmLeft'", "did you mean 'forearmLeft'"),
        ),
        (
            "foreshorten = 0.5",
            "foreshorten = 1.5",
            ("'hand_left' bone: foreshorten must be a number in 0..1, got 1.5",),
        ),
        (
            '{ driver = "forearmLeft" }',
            '{ driver = "forearmLeft", length = 3 }',
            ("'forearm_left' bone: unknown key 'length'",),
        ),
        (
            "pivot = [300, 300]",
            "pivot = [350, 300]",
            (
                "'forearm_left' bone: pivot [350, 300] (the joint) is outside the layer's image",
                "x 290..310, y 300..400",
            ),
        ),
        (
            'driver = "handLeft"',
            'driver = "handRight"',
            (
                "layer 'hand_left': bone driven by 'handRight' hangs from bone 'forearm_left' "
                "driven by 'forearmLeft'",
            ),
        ),
        (
            'parent = "body"',
            'parent = "hand_left"',
            ("parent cycle: upper_arm_left -> hand_left -> forearm_left -> upper_arm_left",),
        ),
        (
            'bone = { driver = "forearmLeft" }',
            'bone = "forearmLeft"',
            ("'forearm_left': 'bone' must be a table ([layers.bone]), got 'forearmLeft'",),
        ),
    ],
)
def test_validator_refuses_bad_rigs_precisely(
    arm_pack: Path, edit_manifest: Edit, old: str, new: str, needles: tuple[str, ...]
) -> None:
    edit_manifest(arm_pack, old, new)
    problems = validate_pack(arm_pack)
    assert any(all(n in p for n in needles) for p in problems), problems
    with pytest.raises(PackValidationError):
        load_pack(arm_pack)


ARM_PARTS = ("upper_arm", "forearm", "hand", "thumb", "index", "middle", "ring", "pinky")


@pytest.mark.parametrize("avatar_id", builtin_ids())
def test_every_builtin_has_a_rigged_arm_per_side(avatar_id: str) -> None:
    pack = load_pack(avatar_id)
    assert validate_pack(avatar_id) == []
    for side, param_side in (("left", "Left"), ("right", "Right")):
        for part in ARM_PARTS:
            layer = pack.layer(f"{part}_{side}")
            if part in ("upper_arm", "forearm", "hand"):
                driver = {"upper_arm": "upperArm", "forearm": "forearm", "hand": "hand"}[part]
                assert layer.bone is not None and layer.bone.driver == driver + param_side
        assert pack.layer(f"upper_arm_{side}").parent == "body"


@pytest.mark.parametrize("avatar_id", builtin_ids())
def test_every_builtin_raises_its_hand_and_curls_its_fingers(avatar_id: str) -> None:
    """Software render: the subject's left hand raised up beside the head shows up on the
    viewer's right, upper half; curling the fingers changes the hand."""
    pack = load_pack(avatar_id)
    up = {"upperArmAngleLeft": 1.2, "forearmAngleLeft": math.pi, "handAngleLeft": math.pi}
    rest = np.asarray(compose(pack, {}, size=256), dtype=np.int16)
    raised = np.asarray(compose(pack, up, size=256), dtype=np.int16)
    region = (slice(40, 200), slice(160, 256))  # viewer's right, above the shoulders
    diff = np.abs(raised - rest)[region].max(axis=2)
    assert (diff > 40).sum() > 300, f"{avatar_id}: raised arm hardly changed the right side"
    left_side = np.abs(raised - rest)[:, :100].max(axis=2)
    assert (left_side > 40).sum() == 0, f"{avatar_id}: the other arm moved"
    fist = dict(up, **{f"{f}CurlLeft": 1.0 for f in ("index", "middle", "ring", "pinky")})
    curled = np.asarray(compose(pack, fist, size=256), dtype=np.int16)
    changed = (np.abs(curled - raised).max(axis=2) > 40).sum()
    assert changed > 40, f"{avatar_id}: curling the fingers changed only {changed} px"
