"""glTF/VRM loading (avatars.gltf) and the VRM 1.0 expression rules (avatars.vrm), on the
specification's conformance models and on hostile variations of them."""

from __future__ import annotations

import copy
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from avatars.gltf import MAX_ACCESSOR_COUNT, load_model, split_glb
from avatars.model3d import ModelError
from avatars.vrm import (
    ARKIT_NAMES,
    Expression,
    apply_binds,
    effective_weights,
    presets_from_params,
)

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

VRM_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "vrm"
IS_BINARY = VRM_DIR / "VRMC_vrm_expressions_isBinary_Overridden.vrm"
UV_ANIM = VRM_DIR / "VRMC_materials_mtoon_UV_Animation_Test.vrm"
needs_shared = pytest.mark.skipif(
    not IS_BINARY.exists(), reason="conformance models need ../shared/testdata/vrm"
)


def glb(doc: dict[str, Any], binary: bytes) -> bytes:
    """A GLB container around ``doc`` and ``binary`` (padded as the spec says)."""
    js = json.dumps(doc).encode()
    js += b" " * (-len(js) % 4)
    binary += b"\0" * (-len(binary) % 4)
    body = (
        struct.pack("<II", len(js), 0x4E4F534A) + js + struct.pack("<II", len(binary), 0x004E4942)
    )
    body += binary
    return struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body


@pytest.fixture
def conformance() -> tuple[dict[str, Any], bytes]:
    if not IS_BINARY.exists():
        pytest.skip("conformance models need ../shared/testdata/vrm")
    return split_glb(IS_BINARY.read_bytes())


@needs_shared
def test_conformance_model_parses() -> None:
    m = load_model(IS_BINARY)
    assert m.vrm_version == "1.0"
    assert m.humanoid["head"] == 0 and m.humanoid["hips"] == 21
    assert [x.name for x in m.materials][:1] == ["Validation Window"]
    assert m.images[0].shape == (512, 512, 4)
    assert set(m.expressions) == {"happy", "blink"}
    happy, blink = m.expressions["happy"], m.expressions["blink"]
    assert happy.override_blink == "blend" and not happy.is_binary
    assert blink.is_binary and blink.override_blink == "none"
    assert blink.texture_binds[0].offset == (0.0, 0.875)
    quad = m.meshes[0].primitives[0]
    assert quad.positions.shape == (4, 3)
    assert sorted(set(quad.indices.tolist())) == [0, 1, 2, 3]
    uv = load_model(UV_ANIM)
    assert [mt.uv_scroll for mt in uv.materials] == [(1.0, 0.0), (0.0, 1.0), (0.0, 0.0)]
    assert uv.materials[2].uv_rotation_speed == 1.0


@needs_shared
def test_is_binary_overridden_as_the_conformance_model_expects() -> None:
    """The README: blink (isBinary) must be completely suppressed while happy (overrideBlink:
    blend) is > 0; with happy at 0 it is all or nothing around 0.5."""
    ex = load_model(IS_BINARY).expressions
    for happy in (0.01, 0.3, 0.5, 0.99, 1.0):
        for blink in (0.0, 0.4, 0.6, 1.0):
            w = effective_weights(ex, {"happy": happy, "blink": blink})
            assert w["blink"] == 0.0, (happy, blink)
            assert w["happy"] == happy
    assert effective_weights(ex, {"blink": 0.6})["blink"] == 1.0
    assert effective_weights(ex, {"blink": 0.5})["blink"] == 0.0
    assert effective_weights(ex, {"blink": 7.0, "happy": -3})["blink"] == 1.0  # clamped


@needs_shared
def test_texture_transform_binds_move_the_validation_window() -> None:
    m = load_model(IS_BINARY)
    base = {i: (tuple(mt.tex_scale), tuple(mt.tex_offset)) for i, mt in enumerate(m.materials)}
    st = apply_binds(m.expressions, {"happy": 1.0, "blink": 0.0}, {}, base)
    assert st.tex_offset[0] == pytest.approx((0.875, 0.0))
    assert st.tex_scale[0] == pytest.approx((0.0, 0.0))
    # The happy meter goes from offset 0.501 (empty) toward 0.001 (full).
    assert st.tex_offset[2] == pytest.approx((0.0009765625 - 0.5009765625, 0.0))
    half = apply_binds(m.expressions, {"blink": 0.5}, {}, base)
    assert half.tex_offset[0] == pytest.approx((0.0, 0.4375))


def test_block_and_blend_overrides() -> None:
    ex = {
        "aa": Expression("aa"),
        "blink": Expression("blink"),
        "lookUp": Expression("lookUp"),
        "surprised": Expression("surprised", override_mouth="block", override_blink="blend"),
        "angry": Expression("angry", override_blink="blend"),
    }
    w = effective_weights(ex, {"aa": 0.8, "blink": 1.0, "lookUp": 0.7, "surprised": 0.01})
    assert w["aa"] == 0.0  # block: any weight > 0 silences the mouth
    assert w["blink"] == pytest.approx(0.99)  # blend: times (1 - 0.01)
    assert w["lookUp"] == pytest.approx(0.7)  # not overridden
    w = effective_weights(ex, {"blink": 1.0, "surprised": 0.5, "angry": 0.5})
    assert w["blink"] == pytest.approx(0.25)  # two blenders multiply
    w = effective_weights(ex, {"aa": 0.8, "surprised": 0.0})
    assert w["aa"] == pytest.approx(0.8)  # block needs a weight > 0


def test_arkit_mapping_table() -> None:
    assert len(ARKIT_NAMES) == 52
    p = presets_from_params(
        {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 0.2, "jawOpen": 0.9, "mouthFunnel": 0.3}
    )
    assert p["blink"] == pytest.approx(0.2) and p["blinkLeft"] == pytest.approx(0.8)
    assert p["blinkRight"] == 0.0
    assert p["aa"] == pytest.approx(0.6) and p["oh"] == pytest.approx(0.3)
    p = presets_from_params({"mouthSmileLeft": 0.6, "mouthSmileRight": 0.8, "emotionSad": 0.4})
    assert p["happy"] == pytest.approx(0.7) and p["sad"] == pytest.approx(0.4)
    p = presets_from_params({"eyeLookOutLeft": 1.0, "eyeLookInRight": 1.0})
    assert p["lookLeft"] == 1.0 and p["lookRight"] == 0.0
    assert set(presets_from_params({})) >= {"happy", "aa", "blink", "lookUp", "relaxed"}


# -- hostile and malformed files -----------------------------------------------------------


def _broken(conf: tuple[dict[str, Any], bytes], edit: Any) -> bytes:
    doc, binary = copy.deepcopy(conf[0]), conf[1]
    out = edit(doc)
    return glb(doc, out if isinstance(out, bytes) else binary)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["accessors"][0].update(count=5), "run past bufferView"),
        (lambda d: d["accessors"][0].update(count=MAX_ACCESSOR_COUNT + 1), "count"),
        (lambda d: d["accessors"][0].update(componentType=9999), "componentType"),
        (lambda d: d["accessors"][3].update(byteOffset=7), "stride"),
        (lambda d: d["bufferViews"][0].update(byteOffset=10**9), "past its buffer"),
        (lambda d: d["bufferViews"][1].update(buffer=3), "missing buffer"),
        (lambda d: d["buffers"][0].update(uri="file:///etc/passwd"), "external URI"),
        (lambda d: d["buffers"][0].update(uri="http://example.invalid/x.bin"), "external URI"),
        (lambda d: d["buffers"][0].update(uri="../secret.bin"), "external URI"),
        (lambda d: d["images"][0].update(uri="file:///etc/hosts"), "external URI"),
        (lambda d: d["nodes"][0]["children"].append(0), "not a tree"),
        (lambda d: d["nodes"][0]["children"].append(999), "does not exist"),
        (lambda d: d["meshes"][0]["primitives"][0].update(indices=42), "does not exist"),
        (lambda d: b"", "byteLength"),
        (
            lambda d: d["extensions"]["VRMC_vrm"]["expressions"]["preset"]["happy"].update(
                morphTargetBinds=[{"node": 0, "index": 3, "weight": 1}]
            ),
            "without mesh",
        ),
    ],
)
def test_malformed_files_raise_one_precise_error(
    conformance: tuple[dict[str, Any], bytes], edit: Any, message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        load_model(_broken(conformance, edit))


def test_container_errors(conformance: tuple[dict[str, Any], bytes], tmp_path: Path) -> None:
    good = glb(*conformance)
    for data, message in [
        (good[: len(good) // 2], "truncated"),
        (good[:10], "truncated"),
        (b"PK\3\4" + good[4:], "bad magic"),
        (good[:12] + struct.pack("<II", 10**6, 0x4E4F534A) + good[20:], "truncated"),
        (good[:20] + b"{not json" + good[29:], "not valid JSON"),
    ]:
        with pytest.raises(ModelError, match=message):
            load_model(data)
    broken_png = bytearray(good)
    broken_png[-3000:] = bytes(3000)  # the last image's PNG chunks are zeros now
    with pytest.raises(ModelError, match=r"image \d: cannot decode"):
        load_model(bytes(broken_png))
    with pytest.raises(ModelError, match="cannot read"):
        load_model(tmp_path / "missing.vrm")


def test_random_corruption_never_escapes_model_error(
    conformance: tuple[dict[str, Any], bytes],
) -> None:
    good = bytearray(glb(*conformance))
    rng = np.random.default_rng(7)
    for _ in range(60):
        data = bytearray(good)
        for pos in rng.integers(0, len(data), size=int(rng.integers(1, 6))):
            data[int(pos)] = int(rng.integers(0, 256))
        try:
            load_model(bytes(data))
        except ModelError:
            pass
