"""A VRM 0.x model with arms: nova converted by scripts/make_vrm0.py (tests/avatars/data).

The copy faces -Z, names its bones and expressions the 0.x way and keeps its MToon in
``materialProperties``; loading it must give the same avatar as the 1.0 nova: the same
materials, the same expressions (through ``blendShapeMaster``), and - once the renderer turns
it round - the same bone positions in any pose.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from avatars.avatar3d import load_avatar
from avatars.glb import split_glb
from avatars.gltf import load_model
from avatars.model3d import Model
from avatars.vrm0 import mtoon_v1, shading_v1, srgb_to_linear
from render_window.pose3d import Poser

REPO = Path(__file__).resolve().parents[2]
VRM0 = REPO / "tests" / "avatars" / "data" / "nova-vrm0.vrm"

#: The user's right arm up and waving with a fist, the left forward, head and torso turned.
POSE = {
    "upperArmAngleRight": -1.45, "forearmAngleRight": -3.1, "handAngleRight": -3.1,
    "palmFacingRight": 1.0, "indexCurlRight": 1.0, "thumbCurlRight": 0.7,
    "upperArmAngleLeft": 1.2, "upperArmForwardLeft": 0.5, "forearmAngleLeft": 2.5,
    "headYaw": 0.3, "headRoll": 0.2, "torsoRoll": 0.2, "shoulderShrugLeft": 1.0,
}  # fmt: skip


@pytest.fixture(scope="module")
def models() -> tuple[Model, Model]:
    v0 = load_model(VRM0, "nova-vrm0")
    v1 = load_avatar("nova")
    assert isinstance(v1, Model)
    return v0, v1


def test_the_file_is_vrm_0x_as_a_0x_exporter_writes_it() -> None:
    doc, _ = split_glb(VRM0.read_bytes())
    assert set(doc["extensions"]) == {"VRM"} and doc["extensions"]["VRM"]["specVersion"] == "0.0"
    vrm = doc["extensions"]["VRM"]
    bones = vrm["humanoid"]["humanBones"]
    assert isinstance(bones, list) and {"bone", "node"} <= set(bones[0])
    names = {b["bone"] for b in bones}
    # 0.x thumbs: Proximal/Intermediate/Distal (1.0 has Metacarpal/Proximal/Distal).
    assert {"leftThumbProximal", "leftThumbIntermediate", "leftThumbDistal"} <= names
    assert not any("Metacarpal" in n for n in names)
    groups = {g["presetName"]: g for g in vrm["blendShapeMaster"]["blendShapeGroups"]}
    assert {"joy", "a", "blink", "blink_l", "lookleft"} <= set(groups)
    assert groups["blink"]["binds"][0]["weight"] == 100.0  # 0.x weights are 0..100
    assert vrm["firstPerson"]["lookAtTypeName"] == "BlendShape"
    assert [p["shader"] for p in vrm["materialProperties"]] == ["VRM/MToon"] * len(doc["materials"])
    # It faces -Z: the avatar's left upper arm lies at -x (nova 1.0: +x).
    left = next(b["node"] for b in bones if b["bone"] == "leftUpperArm")
    chest = next(b["node"] for b in bones if b["bone"] == "chest")
    assert doc["nodes"][chest]["children"] and doc["nodes"][left]["translation"][0] < 0


def test_it_loads_with_its_arm_bones_and_0x_expressions(models: tuple[Model, Model]) -> None:
    v0, v1 = models
    assert v0.vrm_version == "0.x" and v1.vrm_version == "1.0"
    assert not v0.perfect_sync  # only the bound targets: expressions go through the presets
    for side in ("left", "right"):
        for bone in ("Shoulder", "UpperArm", "LowerArm", "Hand", "IndexProximal"):
            assert f"{side}{bone}" in v0.humanoid
    assert v0.lookat_type == "expression"
    for name in ("blink", "blinkLeft", "aa", "happy", "lookLeft"):
        e0, e1 = v0.expressions[name], v1.expressions[name]
        t0 = {v0.meshes[2].target_names[b.index]: b.weight for b in e0.morph_binds}
        t1 = {v1.meshes[2].target_names[b.index]: b.weight for b in e1.morph_binds}
        assert t0 == pytest.approx(t1), name  # weights 0..100 scaled, indices renumbered


def test_its_mtoon_materials_load_as_the_1_0_ones(models: tuple[Model, Model]) -> None:
    """The 0.x path used to ignore materialProperties: no shade colour, no rim, the default
    toony and shift - a plain lit model with a dark half face."""
    v0, v1 = models
    for a, b in zip(v0.materials, v1.materials, strict=True):
        assert a.name == b.name
        for field in ("base_color", "shade_color", "rim_color", "shading_shift", "shading_toony"):
            assert np.allclose(getattr(a, field), getattr(b, field), atol=1e-4), (a.name, field)
        assert a.double_sided == b.double_sided and a.shade_textured == b.shade_textured


def test_mtoon_0x_migration_follows_univrm() -> None:
    # UniVRM's MigrationTests: the 0.x defaults and lambert.
    assert shading_v1(0.9, 0.0) == pytest.approx((0.95, -0.05))
    assert shading_v1(0.0, 0.0) == pytest.approx((0.5, -0.5))
    assert srgb_to_linear(1.0) == pytest.approx(1.0) and srgb_to_linear(0.5) == pytest.approx(
        0.2140, abs=1e-4
    )
    mt, base = mtoon_v1(
        {
            "shader": "VRM/MToon",
            "floatProperties": {"_OutlineWidthMode": 1, "_OutlineWidth": 0.3, "_UvAnimScrollY": 1},
            "vectorProperties": {"_Color": [1, 1, 1, 0.5], "_ShadeColor": [0.5, 0.5, 0.5, 1]},
            "textureProperties": {"_ShadeTexture": 0},
        }
    )
    assert mt["outlineWidthMode"] == "worldCoordinates"
    assert mt["outlineWidthFactor"] == pytest.approx(0.003)  # centimetres -> metres
    assert mt["uvAnimationScrollYSpeedFactor"] == -1.0  # 0.x scrolls V the other way
    assert mt["shadeColorFactor"] == pytest.approx([0.2140] * 3, abs=1e-4)
    assert "shadeMultiplyTexture" in mt and base == [1.0, 1.0, 1.0, 0.5]
    # Other shaders, or junk, mean "no MToon" rather than an error.
    assert mtoon_v1({"shader": "VRM/UnlitTexture"}) == ({}, None)
    assert (
        mtoon_v1({"shader": "VRM/MToon", "floatProperties": [], "vectorProperties": 3})[1] is None
    )
    assert mtoon_v1("junk") == ({}, None)


def test_posed_it_puts_every_bone_where_nova_does(models: tuple[Model, Model]) -> None:
    """The renderer turns a 0.x model round: its left arm (at -x in the file) must then follow
    the user's left just as the 1.0 nova's does, in the same places."""
    v0, v1 = models
    for params in ({}, POSE):
        w0 = Poser(v0).pose(params).world
        w1 = Poser(v1).pose(params).world
        for bone, k in v1.humanoid.items():
            name0 = bone.replace("ThumbProximal", "ThumbIntermediate").replace(
                "ThumbMetacarpal", "ThumbProximal"
            )
            p0, p1 = w0[v0.humanoid[name0]][:3, 3], w1[k][:3, 3]
            assert np.allclose(p0, p1, atol=1e-5), (bone, p0, p1)


def test_eye_bones_look_where_nova_s_do(models: tuple[Model, Model]) -> None:
    """lookAt by bone (0.x ``lookAtTypeName: Bone``): an eye's forward is -Z in the 0.x file,
    +Z in 1.0; posed, both look the same way."""
    v0, v1 = (dataclasses.replace(m, lookat_type="bone") for m in models)
    for params in ({"gazeX": 0.6}, {"gazeX": -0.4, "gazeY": -0.3, "headYaw": 0.3}):
        w0, w1 = Poser(v0).pose(params).world, Poser(v1).pose(params).world
        for eye in ("leftEye", "rightEye"):
            look0 = w0[v0.humanoid[eye]][:3, :3] @ np.array([0.0, 0.0, -1.0])
            look1 = w1[v1.humanoid[eye]][:3, :3] @ np.array([0.0, 0.0, 1.0])
            assert look1[2] < 0.99 and np.allclose(look0, look1, atol=1e-5), (params, eye)


def test_the_committed_copy_is_what_the_script_makes(tmp_path: Path) -> None:
    out = tmp_path / "v0.vrm"
    subprocess.run(
        [sys.executable, "scripts/make_vrm0.py", "--out", str(out)],
        cwd=REPO, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    assert out.read_bytes() == VRM0.read_bytes(), "run python scripts/make_vrm0.py"
