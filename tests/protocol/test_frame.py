"""Parameter frame: golden bytes, sizes, the seed view, and strict decoding."""

from __future__ import annotations

import json
import math
import struct

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import (
    MAX_FRAME_BYTES,
    NUM_BLENDSHAPES,
    TARGET_FRAME_BYTES,
    DecodeError,
    Emotion,
    FrameFlags,
    FrameTooLarge,
    ParamFrame,
    ProtocolError,
)
from protocol.blendshapes import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

# A full frame: every blendshape non-zero, pose, flags and an emotion. Hand-checked layout:
# a8 = map(8); 00 01 version; 01 07 seq; 02 1a.. timestamp; 03 03 flags; 04 83 f9.. rotation;
# 05 83 f9.. translation; 06 58 34 .. 52 blendshape bytes; 07 82 04 18 ff emotion.
GOLDEN_FULL = bytes.fromhex(
    "a800010107021a499602d203030483f93400f9b800f930000583f93e00f9c000f9d14006583400050a0f14191e"
    "23282d32373c41464b50555a5f64696e73787d82878c91969ba0a5aaafb4b9bec3c8cdd2d7dce1e6ebf0f5faff"
    "07820418ff"
)
GOLDEN_EMPTY = bytes.fromhex(
    "a700010100020003000483f90000f90000f900000583f90000f90000f90000065834"
) + bytes(52)


def full_frame() -> ParamFrame:
    return ParamFrame.from_weights(
        7,
        1_234_567_890,
        [i / 51 for i in range(NUM_BLENDSHAPES)],
        head_rotation=(0.25, -0.5, 0.125),
        head_translation=(1.5, -2.0, -42.0),
        flags=FrameFlags.FACE_PRESENT | FrameFlags.CALIBRATED,
        emotion=Emotion.SURPRISED,
        emotion_weight=1.0,
    )


def test_golden_full_frame_encodes_exactly() -> None:
    assert full_frame().encode() == GOLDEN_FULL


def test_golden_vectors_round_trip_exactly() -> None:
    for golden in (GOLDEN_FULL, GOLDEN_EMPTY):
        assert ParamFrame.decode(golden).encode() == golden
    assert ParamFrame(seq=0, timestamp_us=0).encode() == GOLDEN_EMPTY


def test_full_frame_fits_the_target() -> None:
    worst = ParamFrame.from_weights(
        2**32 - 1,
        2**62,
        [1.0] * NUM_BLENDSHAPES,
        head_rotation=(-3.0, 3.0, 1.1),
        head_translation=(-999.0, 999.0, -500.0),
        flags=FrameFlags(31),
        emotion=Emotion.ANGRY,
        emotion_weight=0.5,
    )
    assert len(worst.encode()) <= TARGET_FRAME_BYTES
    assert len(GOLDEN_FULL) <= TARGET_FRAME_BYTES


def test_decoded_values() -> None:
    frame = ParamFrame.decode(GOLDEN_FULL)
    assert frame.seq == 7 and frame.timestamp_us == 1_234_567_890
    assert frame.flags == FrameFlags.FACE_PRESENT | FrameFlags.CALIBRATED
    assert frame.head_rotation == (0.25, -0.5, 0.125)
    assert frame.head_translation == (1.5, -2.0, -42.0)
    assert frame.weight("noseSneerRight") == 1.0
    assert frame.weight("_neutral") == 0.0
    assert frame.emotion is Emotion.SURPRISED and frame.emotion_weight == 1.0


def test_seed_view_round_trip_and_json() -> None:
    seed = {
        "headRotation": [0.1, -0.2, 0.05],
        "eyeBlinkLeft": 0.9,
        "eyeBlinkRight": 0.1,
        "mouthOpen": 0.5,
        "smile": 0.75,
        "timestamp": 12345.678,
    }
    frame = ParamFrame.from_seed(seed)
    back = json.loads(frame.to_seed_json())
    assert set(back) == set(seed)
    for key in ("eyeBlinkLeft", "eyeBlinkRight", "mouthOpen", "smile"):
        assert back[key] == pytest.approx(seed[key], abs=1 / 255)
    for got, want in zip(back["headRotation"], seed["headRotation"], strict=True):
        assert got == pytest.approx(want, abs=1e-3)  # float16 precision near 0.1 rad
    assert back["timestamp"] == pytest.approx(seed["timestamp"], abs=1e-3)
    # through the wire too
    assert ParamFrame.decode(frame.encode()).to_seed() == frame.to_seed()


def test_seed_view_errors_are_decode_errors() -> None:
    with pytest.raises(DecodeError, match="missing 'smile'"):
        ParamFrame.from_seed(
            {
                "headRotation": [0, 0, 0],
                "eyeBlinkLeft": 0,
                "eyeBlinkRight": 0,
                "mouthOpen": 0,
                "timestamp": 0,
            }
        )
    with pytest.raises(DecodeError, match="non-finite"):
        ParamFrame.from_seed(
            {
                "headRotation": [math.nan, 0, 0],
                "eyeBlinkLeft": 0,
                "eyeBlinkRight": 0,
                "mouthOpen": 0,
                "smile": 0,
                "timestamp": 0,
            }
        )


def test_mirroring_swaps_sides() -> None:
    weights = [0.0] * NUM_BLENDSHAPES
    weights[BLENDSHAPE_INDEX["eyeBlinkLeft"]] = 1.0
    weights[BLENDSHAPE_INDEX["mouthSmileRight"]] = 0.5
    frame = ParamFrame.from_weights(1, 1, weights, head_rotation=(0.1, 0.2, 0.3))
    mirrored = frame.mirrored()
    assert mirrored.weight("eyeBlinkRight") == 1.0 and mirrored.weight("eyeBlinkLeft") == 0.0
    assert mirrored.weight("mouthSmileLeft") == pytest.approx(0.5, abs=1 / 255)
    assert mirrored.head_rotation == (0.1, -0.2, -0.3)
    assert mirrored.mirrored().blendshapes == frame.blendshapes


def wire_with(frame: ParamFrame, **overrides: object) -> bytes:
    """``frame``'s CBOR with map keys replaced (``k6=...``) or, given ``...``, left out: the
    bad inputs the decoder must refuse, each one key away from a good frame."""
    base = frame.to_wire_map()
    for key, value in overrides.items():
        k = int(key.lstrip("k"))
        if value is ...:
            del base[k]
        else:
            base[k] = value
    return cbor2.dumps(base)


def _wire(**overrides: object) -> bytes:
    return wire_with(full_frame(), **overrides)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty input"),
        (b"\xa8", "truncated input"),
        (b"\x9f\x01\xff", "indefinite-length"),
        (b"\xc1\x00", "tags"),
        (b"\xf7", "simple value 23"),
        (cbor2.dumps([1, 2]), "must be a CBOR map"),
        (cbor2.dumps({0: [[[[1]]]]}), "nesting deeper"),
        (GOLDEN_FULL + b"\x00", "1 trailing bytes"),
        (b"\xa2\x00\x01\x00\x01", "duplicate map key 0"),
        (b"\xa1\x63\xff\xfe\xfd\x00", "invalid UTF-8"),
        (_wire(k6=bytes(51)), "blendshapes: expected 52 bytes, got 51"),
        (_wire(k6=[0] * 52), "blendshapes must be a byte string"),
        (_wire(k0=2), "unsupported frame version 2"),
        (_wire(k1=-1), "seq -1 out of range"),
        (_wire(k1=1.5), "seq must be an unsigned integer"),
        (_wire(k1=2**32), "seq 4294967296 out of range"),
        (_wire(k4=[0.0, math.nan, 0.0]), "non-finite"),
        (_wire(k5=[math.inf, 0.0, 0.0]), "non-finite"),
        (_wire(k4=[0.0, 0.0]), "array of 3 numbers"),
        (_wire(k4=[0.0, "x", 0.0]), "must hold numbers"),
        (_wire(k7=[9, 255]), "unknown emotion preset 9"),
        (_wire(k6=...), "missing required key 6"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_input_is_a_precise_decode_error(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message) as info:
        ParamFrame.decode(data)
    assert isinstance(info.value, ProtocolError) and isinstance(info.value, ValueError)


def test_size_cap_checked_before_decoding() -> None:
    with pytest.raises(FrameTooLarge, match=f"exceeds the cap of {MAX_FRAME_BYTES} bytes"):
        ParamFrame.decode(b"\xff" * (MAX_FRAME_BYTES + 1))


def test_out_of_range_values_are_clamped() -> None:
    frame = ParamFrame.decode(_wire(k4=[10.0, -10.0, 0.0], k5=[5000.0, 0.0, 0.0]))
    assert frame.head_rotation[0] == pytest.approx(math.pi)
    assert frame.head_rotation[1] == pytest.approx(-math.pi)
    assert frame.head_translation[0] == 1000.0


def test_unknown_keys_are_ignored_and_flags_masked() -> None:
    wire = full_frame().to_wire_map()
    wire[42] = {"hands": [1, 2, 3]}
    wire[3] = 0xFF00 | 1
    frame = ParamFrame.decode(cbor2.dumps(wire))
    assert frame.extras == {42: {"hands": [1, 2, 3]}}
    assert frame.flags == FrameFlags.FACE_PRESENT


def test_nan_blendshapes_quantise_to_zero() -> None:
    frame = ParamFrame.from_weights(1, 1, [math.nan] + [2.0] + [-1.0] * 50)
    assert frame.blendshapes[0] == 0 and frame.blendshapes[1] == 255 and frame.blendshapes[2] == 0


def test_names_are_mediapipe_order() -> None:
    assert BLENDSHAPE_NAMES[0] == "_neutral"
    assert BLENDSHAPE_NAMES[9:11] == ("eyeBlinkLeft", "eyeBlinkRight")
    assert BLENDSHAPE_NAMES[25] == "jawOpen"
    assert BLENDSHAPE_NAMES[-1] == "noseSneerRight"


f16 = st.floats(width=16, allow_nan=False, allow_infinity=False, min_value=-3.0, max_value=3.0)


@settings(max_examples=300, deadline=None)
@given(
    seq=st.integers(0, 2**32 - 1),
    ts=st.integers(0, 2**63 - 1),
    flags=st.integers(0, 31),
    rot=st.tuples(f16, f16, f16),
    trans=st.tuples(f16, f16, f16),
    blend=st.binary(min_size=52, max_size=52),
    emotion=st.none() | st.sampled_from(list(Emotion)),
    weight=st.integers(0, 255),
)
def test_hypothesis_round_trip(
    seq: int,
    ts: int,
    flags: int,
    rot: tuple[float, float, float],
    trans: tuple[float, float, float],
    blend: bytes,
    emotion: Emotion | None,
    weight: int,
) -> None:
    frame = ParamFrame(
        seq=seq,
        timestamp_us=ts,
        flags=FrameFlags(flags),
        head_rotation=rot,
        head_translation=trans,
        blendshapes=blend,
        emotion=emotion,
        emotion_weight=weight / 255,
    )
    data = frame.encode()
    assert len(data) <= TARGET_FRAME_BYTES
    back = ParamFrame.decode(data)
    assert back.encode() == data
    assert back.head_rotation == tuple(
        float(struct.unpack("<e", struct.pack("<e", v))[0]) for v in rot
    )
    assert back.blendshapes == blend and back.seq == seq and back.timestamp_us == ts
