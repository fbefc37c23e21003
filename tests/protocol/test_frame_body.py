"""Body keys of the parameter frame (8..12): golden bytes, size, strict decoding, mirroring, seed
view, and compatibility with builds that do not know them."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import TARGET_BODY_FRAME_BYTES, DecodeError, EncodeError, ParamFrame
from protocol.body import (
    REST,
    ArmPose,
    BodyPose,
    HandShape,
    Side,
    normalized,
    rest_arm,
)

from .test_frame import GOLDEN_FULL, full_frame, wire_with

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

REPO = Path(__file__).resolve().parents[2]

BODY = BodyPose(
    shoulder_shrug=(0.5, 1.0),
    torso_roll=-0.25,
    arms=(
        ArmPose((0, -1, 0), (0, 0, 1), (1, 0, 0), (0, 0, -1)),
        ArmPose((-1, 0, 0), (-0.6, 0.8, 0), (0, 1, 0), (0, 0, 1)),
    ),
    hands=(HandShape((0, 0.25, 0.5, 0.75, 1.0), 0.2), HandShape((1, 1, 1, 1, 1), 0.0)),
)
# GOLDEN_FULL's map grows from 8 entries (a8) to 13 (ad), then: 08 43 80 ff ec torso (shrug 128,
# 255; roll -20 = round(-0.25 / (pi/2) * 127)); 09 4c.. left arm (00 81 00 = (0,-1,0), 00 00 7f,
# 7f 00 00, 00 00 81); 0a 4c.. right arm (81 00 00, b4 66 00 = (-76, 102, 0), 00 7f 00, 00 00 7f);
# 0b 46.. left hand (00 40 80 bf ff 33); 0c 46.. right hand (ff ff ff ff ff 00).
GOLDEN_BODY = (
    b"\xad"
    + GOLDEN_FULL[1:]
    + bytes.fromhex(
        "084380ffec"
        "094c00810000007f7f0000000081"
        "0a4c810000b46600007f0000007f"
        "0b46004080bfff33"
        "0c46ffffffffff00"
    )
)


def body_frame(body: BodyPose | None = BODY) -> ParamFrame:
    frame = full_frame()
    frame.body = body
    return frame


def test_golden_body_frame_encodes_exactly_and_round_trips() -> None:
    assert body_frame().encode() == GOLDEN_BODY
    assert ParamFrame.decode(GOLDEN_BODY).encode() == GOLDEN_BODY


def test_full_frame_with_face_hands_and_body_fits_200_bytes() -> None:
    worst = body_frame(
        BodyPose(
            shoulder_shrug=(1.0, 1.0),
            torso_roll=-1.5,
            arms=(
                ArmPose((-1, -1, -1), (-1, 1, -1), (1, -1, 1), (-1, -1, 1)),
                ArmPose((1, 1, 1), (-1, -1, -1), (1, 1, -1), (-1, 1, 1)),
            ),
            hands=(HandShape((1.0,) * 5, 1.0), HandShape((1.0,) * 5, 1.0)),  # type: ignore[arg-type]
        )
    )
    worst.seq = 2**32 - 1
    worst.timestamp_us = 2**62
    assert len(worst.encode()) <= TARGET_BODY_FRAME_BYTES == 200
    assert len(GOLDEN_BODY) <= TARGET_BODY_FRAME_BYTES


def test_decoded_body_values() -> None:
    body = ParamFrame.decode(GOLDEN_BODY).body
    assert body is not None
    assert body.shoulder_shrug == (128 / 255, 1.0)
    assert body.torso_roll == pytest.approx(-0.25, abs=0.01)
    left, right = body.arms
    assert left is not None and right is not None
    assert left.upper_arm == (0.0, -1.0, 0.0) and left.hand == (1.0, 0.0, 0.0)
    assert right.forearm == pytest.approx((-0.6, 0.8, 0.0), abs=0.01)
    assert math.hypot(*right.forearm) == pytest.approx(1.0)  # renormalised
    assert body.hand(Side.LEFT) == HandShape((0.0, 64 / 255, 128 / 255, 191 / 255, 1.0), 51 / 255)
    assert body.hand(Side.RIGHT) is not None and body.hand(Side.RIGHT).curl("pinky") == 1.0  # type: ignore[union-attr]


def test_unseen_sides_are_absent_keys_and_none() -> None:
    one = BodyPose(arms=(None, rest_arm(Side.RIGHT)), hands=(HandShape((0.1,) * 5, 0.5), None))  # type: ignore[arg-type]
    wire = body_frame(one).to_wire_map()
    assert 8 in wire and 10 in wire and 11 in wire and 9 not in wire and 12 not in wire
    back = ParamFrame.decode(cbor2.dumps(wire)).body
    assert back is not None and back.arms[0] is None and back.hands[1] is None
    assert back.arms[1] == rest_arm(Side.RIGHT)
    # No body at all: no keys, body None (what a face-only sender or an old build sends).
    assert ParamFrame.decode(GOLDEN_FULL).body is None
    assert not set(full_frame().to_wire_map()) & {8, 9, 10, 11, 12}


def _wire(**overrides: object) -> bytes:
    return wire_with(body_frame(), **overrides)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_wire(k8=[0, 0, 0]), "torso must be a byte string"),
        (_wire(k8=b"\x00\x00"), "torso: expected 3 bytes, got 2"),
        (_wire(k9=b"\x00" * 11), "left arm: expected 12 bytes, got 11"),
        (_wire(k10="x" * 12), "right arm must be a byte string"),
        (_wire(k11=b"\x00" * 7), "left hand: expected 6 bytes, got 7"),
        (_wire(k12=None), "right hand must be a byte string"),
        (_wire(k9=bytes(12)), r"direction \(0, 0, 0\) is not a quantised unit vector"),
        (_wire(k10=bytes([10, 10, 10]) + bytes(9)), "not a quantised unit vector"),
        (_wire(k8=...), "arm or hand keys without the torso key 8"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_body_is_a_precise_decode_error(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        ParamFrame.decode(data)


def test_encoder_refuses_nan_and_zero_vectors() -> None:
    with pytest.raises(EncodeError, match="not finite"):
        body_frame(BodyPose(torso_roll=math.nan)).encode()
    with pytest.raises(EncodeError, match="no direction"):
        body_frame(
            BodyPose(arms=(ArmPose((0, 0, 0), (0, -1, 0), (0, -1, 0), (1, 0, 0)), None))
        ).encode()
    with pytest.raises(EncodeError, match="not finite"):
        body_frame(BodyPose(hands=(HandShape((math.nan,) * 5, 0.0), None))).encode()  # type: ignore[arg-type]


def test_out_of_range_values_are_clamped() -> None:
    big = body_frame(BodyPose(shoulder_shrug=(-1.0, 7.0), torso_roll=9.0)).encode()
    body = ParamFrame.decode(big).body
    assert body is not None and body.shoulder_shrug == (0.0, 1.0)
    assert body.torso_roll == pytest.approx(math.pi / 2)
    # int8 -128 is accepted and renormalised like any other component
    odd = ParamFrame.decode(_wire(k9=bytes([0x80, 0, 0]) * 4)).body
    assert odd is not None and odd.arms[0] is not None and odd.arms[0].upper_arm == (-1.0, 0.0, 0.0)


def test_unknown_keys_beyond_the_body_stay_extras() -> None:
    wire = body_frame().to_wire_map()
    wire[13] = b"gaze"
    frame = ParamFrame.decode(cbor2.dumps(wire))
    assert frame.extras == {13: b"gaze"} and frame.body is not None


def test_mirroring_swaps_sides_and_flips_x() -> None:
    mirrored = body_frame().mirrored()
    body = mirrored.body
    assert body is not None
    assert body.shoulder_shrug == (1.0, 0.5) and body.torso_roll == 0.25
    assert body.arms[Side.LEFT] == ArmPose((1, 0, 0), (0.6, 0.8, 0), (0, 1, 0), (0, 0, 1))
    assert body.arms[Side.RIGHT] == ArmPose((0, -1, 0), (0, 0, 1), (-1, 0, 0), (0, 0, -1))
    assert body.hands == (BODY.hands[1], BODY.hands[0])
    assert mirrored.mirrored().body == BODY
    # REST is symmetric: each rest palm faces the body, so the mirror of REST is REST.
    assert REST.mirrored() == REST
    assert ParamFrame(seq=0, timestamp_us=0).mirrored().body is None


def test_seed_view_has_readable_body_names() -> None:
    seed = ParamFrame.decode(GOLDEN_BODY).to_seed()
    body = seed["body"]
    assert body["shoulderShrug"] == [0.502, 1.0]
    assert body["leftArm"]["upperArm"] == [0.0, -1.0, 0.0]
    assert body["rightArm"]["palmNormal"] == [0.0, 0.0, 1.0]
    assert body["leftHand"] == {
        "thumb": 0.0,
        "index": 0.251,
        "middle": 0.502,
        "ring": 0.749,
        "pinky": 1.0,
        "spread": 0.2,
    }
    assert "body" not in ParamFrame.decode(GOLDEN_FULL).to_seed()
    assert BodyPose().to_seed()["leftArm"] is None


def _pre_body_frame_module(tmp_path: Path) -> ModuleType:
    """protocol/frame.py as it was before the body keys (the commit before protocol/body.py),
    loaded as a package of its own: a real old decoder, not an imitation."""
    try:
        first = subprocess.run(
            ["git", "log", "--diff-filter=A", "--format=%H", "--", "protocol/body.py"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"no git history to take the old decoder from: {e}")
    if not first:
        pytest.skip("protocol/body.py is not committed yet: no pre-body decoder in history")
    old = tmp_path / "oldprotocol"
    old.mkdir()
    for name in ("__init__.py", "frame.py", "cbor.py", "blendshapes.py", "errors.py"):
        text = subprocess.run(
            ["git", "show", f"{first[-1]}~1:protocol/{name}"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if name == "__init__.py":
            text = '"""old protocol, frame only"""\n'
        (old / name).write_text(text)
    spec = importlib.util.spec_from_file_location(
        "oldprotocol", old / "__init__.py", submodule_search_locations=[str(old)]
    )
    assert spec is not None and spec.loader is not None
    pkg = importlib.util.module_from_spec(spec)
    sys.modules["oldprotocol"] = pkg
    spec.loader.exec_module(pkg)
    return importlib.import_module("oldprotocol.frame")


def test_old_decoder_ignores_body_keys_and_new_decoder_reads_old_frames(tmp_path: Path) -> None:
    old = _pre_body_frame_module(tmp_path)
    try:
        assert not hasattr(old.ParamFrame(seq=0, timestamp_us=0), "body")
        seen = old.ParamFrame.decode(GOLDEN_BODY)  # a body sender -> a peer without the feature
        assert seen.encode() == GOLDEN_FULL and set(seen.extras) == {8, 9, 10, 11, 12}
        sent = old.ParamFrame.decode(GOLDEN_FULL).encode()  # and the reverse
        assert ParamFrame.decode(sent).body is None
    finally:
        for name in [n for n in sys.modules if n.startswith("oldprotocol")]:
            del sys.modules[name]


unit = st.floats(-1.0, 1.0)
vec = st.tuples(unit, unit, unit).filter(lambda v: math.hypot(*v) > 0.1)
arm = st.builds(ArmPose, vec, vec, vec, vec)
hand = st.builds(HandShape, st.tuples(*[st.floats(0.0, 1.0)] * 5), st.floats(0.0, 1.0))


@settings(max_examples=200, deadline=None)
@given(
    shrug=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
    roll=st.floats(-1.5, 1.5),
    arms=st.tuples(st.none() | arm, st.none() | arm),
    hands=st.tuples(st.none() | hand, st.none() | hand),
)
def test_hypothesis_body_round_trip(
    shrug: tuple[float, float],
    roll: float,
    arms: tuple[ArmPose | None, ArmPose | None],
    hands: tuple[HandShape | None, HandShape | None],
) -> None:
    body = BodyPose(shrug, roll, arms, hands)
    data = body_frame(body).encode()
    assert len(data) <= TARGET_BODY_FRAME_BYTES
    back = ParamFrame.decode(data).body
    assert back is not None
    assert back.torso_roll == pytest.approx(roll, abs=0.01)
    for want, got in zip(arms, back.arms, strict=True):
        assert (want is None) == (got is None)
        if want is not None and got is not None:
            for w, g in zip(want.vectors(), got.vectors(), strict=True):
                cos = sum(a * b for a, b in zip(normalized(w), g, strict=True))
                assert cos > math.cos(math.radians(1.0))  # within a degree
    for want_h, got_h in zip(hands, back.hands, strict=True):
        assert (want_h is None) == (got_h is None)
        if want_h is not None and got_h is not None:
            assert got_h.curls == pytest.approx(want_h.curls, abs=1 / 255)
    assert ParamFrame.decode(body_frame(body).mirrored().encode()).body is not None
