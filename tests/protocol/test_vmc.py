"""protocol.vmc: coordinate conventions both ways (against tracking/pose.py), the bundle bytes
(python-osc parses them; golden bytes for the fixed head), the name tables, and the VMC -> frame
state (perfect sync, VRM-only senders, bad arguments, persistence)."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle

from protocol.blendshapes import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES
from protocol.errors import DecodeError
from protocol.frame import Emotion, FrameFlags, ParamFrame
from protocol.vmc import (
    ADDR_APPLY,
    ADDR_BLEND,
    ADDR_BONE,
    ADDR_OK,
    ARKIT_NAMES,
    MAX_PACKET_BYTES,
    VRM_PRESETS,
    BundleEncoder,
    frame_messages,
    frame_numbers,
    packet_messages,
    parse_target,
    pose_from_unity_quat,
    quat_mul,
    unity_quat_from_pose,
)
from protocol.vmc_in import VmcState
from tracking.pose import rotation_from_euler

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

DEG = math.pi / 180


def unity_matrix(q: tuple[float, float, float, float]) -> np.ndarray:
    x, y, z, w = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


S = np.diag([-1.0, 1.0, 1.0])  # our camera space <-> Unity's avatar space


def close_quat(a: tuple[float, ...], b: tuple[float, ...], tol: float = 1e-9) -> bool:
    """Equal as rotations (q and -q are the same rotation)."""
    return all(abs(x - y) < tol for x, y in zip(a, b, strict=True)) or all(
        abs(x + y) < tol for x, y in zip(a, b, strict=True)
    )


# -- coordinates: known quaternions ---------------------------------------------------------
@pytest.mark.parametrize(
    ("what", "unity_q", "ours"),
    [
        # Unity +x rotation pitches the nose down: our pitch > 0 (looking down).
        ("look down 20", (math.sin(10 * DEG), 0.0, 0.0, math.cos(10 * DEG)), (20, 0, 0)),
        ("look up 20", (-math.sin(10 * DEG), 0.0, 0.0, math.cos(10 * DEG)), (-20, 0, 0)),
        # Unity -y turns the avatar to its own left: our yaw > 0 (the subject's own left).
        ("turn left 30", (0.0, -math.sin(15 * DEG), 0.0, math.cos(15 * DEG)), (0, 30, 0)),
        ("turn right 30", (0.0, math.sin(15 * DEG), 0.0, math.cos(15 * DEG)), (0, -30, 0)),
        # Unity +z lifts the avatar's right side: a tilt to its own left shoulder, roll > 0.
        ("tilt left 15", (0.0, 0.0, math.sin(7.5 * DEG), math.cos(7.5 * DEG)), (0, 0, 15)),
        ("tilt right 15", (0.0, 0.0, -math.sin(7.5 * DEG), math.cos(7.5 * DEG)), (0, 0, -15)),
    ],
)
def test_known_rotations_both_ways(
    what: str, unity_q: tuple[float, float, float, float], ours: tuple[float, float, float]
) -> None:
    pose = tuple(v * DEG for v in ours)
    assert close_quat(unity_quat_from_pose(*pose), unity_q), what
    assert pose_from_unity_quat(unity_q) == pytest.approx(pose, abs=1e-9), what


def test_turning_left_moves_the_nose_to_the_avatars_left() -> None:
    """Unity: +x is the avatar's right, +z its forward; a left turn points the nose at -x."""
    m = unity_matrix(unity_quat_from_pose(0.0, 30 * DEG, 0.0))
    nose = m @ np.array([0.0, 0.0, 1.0])
    assert nose[0] < -0.4 and nose[2] > 0.8
    down = unity_matrix(unity_quat_from_pose(20 * DEG, 0.0, 0.0)) @ np.array([0.0, 0.0, 1.0])
    assert down[1] < -0.3  # nose below the horizon
    tilt = unity_matrix(unity_quat_from_pose(0.0, 0.0, 15 * DEG)) @ np.array([0.0, 1.0, 0.0])
    assert tilt[0] < -0.2  # the top of the head leans to the avatar's left (-x)


@pytest.mark.parametrize("seed", range(20))
def test_any_pose_matches_tracking_pose_conjugated(seed: int) -> None:
    """The quaternion's matrix is S R S, R being tracking.pose's rotation for the same angles;
    and the decomposition inverts it (away from gimbal lock)."""
    rng = np.random.default_rng(seed)
    pitch, yaw, roll = rng.uniform(-1.2, 1.2), rng.uniform(-2.5, 2.5), rng.uniform(-1.2, 1.2)
    q = unity_quat_from_pose(pitch, yaw, roll)
    assert np.allclose(unity_matrix(q), S @ rotation_from_euler(pitch, yaw, roll) @ S)
    assert pose_from_unity_quat(q) == pytest.approx((pitch, yaw, roll), abs=1e-9)
    scaled = tuple(2.5 * v for v in q)  # any non-zero length is a rotation
    assert pose_from_unity_quat(scaled) == pytest.approx((pitch, yaw, roll), abs=1e-9)  # type: ignore[arg-type]


def test_neck_and_head_compose() -> None:
    half = unity_quat_from_pose(0.0, 15 * DEG, 0.0)
    assert pose_from_unity_quat(quat_mul(half, half)) == pytest.approx((0, 30 * DEG, 0))


@pytest.mark.parametrize("bad", [(0.0, 0.0, 0.0, 0.0), (math.nan, 0.0, 0.0, 1.0)])
def test_degenerate_quaternions_refused(bad: tuple[float, float, float, float]) -> None:
    with pytest.raises(DecodeError):
        pose_from_unity_quat(bad)


# -- names -----------------------------------------------------------------------------------
def test_name_tables() -> None:
    assert len(ARKIT_NAMES) == 52 and len(set(ARKIT_NAMES)) == 52
    assert "EyeBlinkLeft" in ARKIT_NAMES and "TongueOut" in ARKIT_NAMES
    assert "_neutral" not in {n.lower() for n in ARKIT_NAMES}
    assert VRM_PRESETS == (
        "A", "I", "U", "E", "O", "Blink", "Blink_L", "Blink_R",
        "Joy", "Angry", "Sorrow", "Fun", "LookUp", "LookDown", "LookLeft", "LookRight",
    )  # fmt: skip


# -- sending ---------------------------------------------------------------------------------
def sample_frame(flags: FrameFlags = FrameFlags.FACE_PRESENT) -> ParamFrame:
    weights = [((i * 37) % 256) / 255 for i in range(52)]
    weights[0] = 0.0
    return ParamFrame.from_weights(
        7,
        123_456,
        weights,
        flags=flags,
        head_rotation=(0.2, -0.4, 0.1),
        head_translation=(1.5, -2.0, 3.0),
        emotion=Emotion.HAPPY,
        emotion_weight=0.6,
    )


def test_bundle_is_python_osc_and_matches_the_readable_messages() -> None:
    frame = sample_frame()
    data = BundleEncoder().encode(frame, 12.5)
    assert OscBundle.dgram_is_bundle(data)
    parsed = packet_messages(data)
    expected = frame_messages(frame, 12.5)
    assert [a for a, _ in parsed] == [a for a, _ in expected]
    for (address, got), (_, want) in zip(parsed, expected, strict=True):
        assert len(got) == len(want), address
        for g, w in zip(got, want, strict=True):
            if isinstance(w, float):
                assert g == pytest.approx(w, abs=1e-6), address
            else:
                assert g == w and type(g) is type(w), address
    assert parsed[-1] == (ADDR_APPLY, [])


@pytest.mark.parametrize(
    "flags", [FrameFlags(0), FrameFlags.FACE_PRESENT, FrameFlags.HELD | FrameFlags.CALIBRATED]
)
def test_the_encoders_numbers_are_the_readable_messages_numbers(flags: FrameFlags) -> None:
    frame = sample_frame(flags)
    readable = [a for _, args in frame_messages(frame, 3.0) for a in args if not isinstance(a, str)]
    assert frame_numbers(frame, 3.0) == readable


def test_golden_bundle_head() -> None:
    """The bundle's first bytes, written from the OSC 1.0 spec by hand: '#bundle', time tag
    1 (immediately), then the 36-byte /VMC/Ext/OK message with four ints (1, 3, 0, 1)."""
    data = BundleEncoder().encode(sample_frame(FrameFlags.FACE_PRESENT | FrameFlags.CALIBRATED), 0)
    golden = (
        b"#bundle\x00" + b"\x00\x00\x00\x00\x00\x00\x00\x01" + struct.pack(">i", 36)
        + b"/VMC/Ext/OK\x00" + b",iiii\x00\x00\x00"
        + struct.pack(">iiii", 1, 3, 0, 1)
    )  # fmt: skip
    assert data[: len(golden)] == golden


def test_presets_and_no_face() -> None:
    frame = sample_frame()
    blends = {args[0]: args[1] for a, args in frame_messages(frame, 0) if a == ADDR_BLEND}
    assert set(blends) == set(ARKIT_NAMES) | set(VRM_PRESETS)
    assert blends["A"] == frame.weight("jawOpen")
    left, right = frame.weight("eyeBlinkLeft"), frame.weight("eyeBlinkRight")
    assert blends["Blink"] == min(left, right)
    assert blends["Blink"] + blends["Blink_L"] == pytest.approx(left)
    assert blends["Blink"] + blends["Blink_R"] == pytest.approx(right)
    assert blends["Joy"] == pytest.approx(0.6, abs=1 / 255) and blends["Fun"] == 0.0
    gone = ParamFrame(seq=1, timestamp_us=1)
    messages = frame_messages(gone, 0)
    assert messages[0] == (ADDR_OK, [1, 0, 0, 0])  # tracking status 0: no face
    head = next(args for a, args in messages if a == ADDR_BONE and args[0] == "Head")
    assert head[4:] == [0.0, 0.0, 0.0, 1.0]


def test_calibrated_root_carries_the_head_offset_uncalibrated_stays_put() -> None:
    root = next(args for a, args in frame_messages(sample_frame(), 0) if a.endswith("Root/Pos"))
    assert root[1:4] == [0.0, 0.0, 0.0]
    cal = sample_frame(FrameFlags.FACE_PRESENT | FrameFlags.CALIBRATED)
    root = next(args for a, args in frame_messages(cal, 0) if a.endswith("Root/Pos"))
    x, y, z = cal.head_translation
    assert root[1:4] == pytest.approx([-x / 100, y / 100, z / 100])


# -- receiving -------------------------------------------------------------------------------
def feed(state: VmcState, messages: list[tuple[str, list[object]]]) -> int:
    return sum(state.handle(a, args) for a, args in messages)


def test_state_round_trips_a_frame() -> None:
    frame = sample_frame()
    state = VmcState()
    assert feed(state, frame_messages(frame, 1.0)) == 1
    got = state.frame(frame.seq, frame.timestamp_us)
    assert got.blendshapes == frame.blendshapes
    assert got.head_rotation == pytest.approx(frame.head_rotation, abs=1e-6)
    assert got.emotion is Emotion.HAPPY and got.emotion_weight == pytest.approx(0.6, abs=0.01)
    assert got.flags & FrameFlags.FACE_PRESENT
    assert state.bad_messages == 0 and state.ignored_messages == 0


def test_vrm_only_sender_and_case_and_persistence() -> None:
    state = VmcState()
    feed(
        state,
        [
            (ADDR_BLEND, ["blink", 0.5]),
            (ADDR_BLEND, ["BLINK_L", 0.25]),
            (ADDR_BLEND, ["A", 0.8]),
            (ADDR_BLEND, ["lookleft", 0.4]),
            (ADDR_BLEND, ["mouthPucker", 0.3]),  # ARKit name, camelCase spelling
            (ADDR_BLEND, ["U", 0.9]),  # ... wins over the preset
            (ADDR_APPLY, []),
        ],
    )
    w = state.weights
    assert w[BLENDSHAPE_INDEX["eyeBlinkLeft"]] == pytest.approx(0.75)
    assert w[BLENDSHAPE_INDEX["eyeBlinkRight"]] == pytest.approx(0.5)
    assert w[BLENDSHAPE_INDEX["jawOpen"]] == pytest.approx(0.8)
    assert w[BLENDSHAPE_INDEX["eyeLookOutLeft"]] == pytest.approx(0.4)
    assert w[BLENDSHAPE_INDEX["eyeLookInRight"]] == pytest.approx(0.4)
    assert w[BLENDSHAPE_INDEX["mouthPucker"]] == pytest.approx(0.3)
    # VMC values persist until changed: an Apply with one new value keeps the others.
    feed(state, [(ADDR_BLEND, ["A", 0.1]), (ADDR_APPLY, [])])
    assert w[BLENDSHAPE_INDEX["jawOpen"]] == pytest.approx(0.1)
    assert w[BLENDSHAPE_INDEX["eyeBlinkLeft"]] == pytest.approx(0.75)


def test_bad_arguments_counted_unknown_ignored() -> None:
    state = VmcState()
    feed(
        state,
        [
            (ADDR_BLEND, [1, 2]),
            (ADDR_BLEND, ["JawOpen"]),
            (ADDR_BLEND, ["JawOpen", math.inf]),
            (ADDR_BONE, ["Head", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),  # zero quaternion
            (ADDR_BONE, ["Head", "x"]),
            (ADDR_OK, ["yes"]),
            ("/VMC/Ext/Cam", ["Camera", 0.0]),
            ("/something/else", []),
            (ADDR_BLEND, ["JawOpen", 7.0]),  # clamped to 1
            (ADDR_BLEND, ["NotAShape", 0.5]),  # a clip name we have no channel for
            (ADDR_APPLY, []),
        ],
    )
    assert state.bad_messages == 6
    assert state.ignored_messages == 2
    assert state.weights[BLENDSHAPE_INDEX["jawOpen"]] == 1.0
    assert state.head == (0.0, 0.0, 0.0, 1.0)


def test_tracking_lost_gives_a_neutral_frame() -> None:
    state = VmcState()
    feed(state, frame_messages(sample_frame(), 0))
    feed(state, [(ADDR_OK, [1, 0, 0, 0]), (ADDR_APPLY, [])])
    lost = state.frame(2, 2)
    assert not lost.flags & FrameFlags.FACE_PRESENT and lost.blendshapes == bytes(52)


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage!", b"#bundle\x00\x00", b"/VMC/Ext/OK\x00,i\x00\x00\x00", b"\xff" * 40],
)
def test_packet_parser_refuses_garbage(data: bytes) -> None:
    with pytest.raises(DecodeError):
        packet_messages(data)


def test_packet_parser_refuses_oversized() -> None:
    big = BundleEncoder().encode(sample_frame(), 0)
    with pytest.raises(DecodeError, match="over the cap"):
        packet_messages(big * (MAX_PACKET_BYTES // len(big) + 1))


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("127.0.0.1:39539", ("127.0.0.1", 39539)),
        (" localhost:1 ", ("localhost", 1)),
        ("[::1]:39540", ("::1", 39540)),
    ],
)
def test_parse_target(text: str, want: tuple[str, int]) -> None:
    assert parse_target(text) == want


@pytest.mark.parametrize(
    "text", ["", "host", ":39539", "host:", "host:0", "host:70000", "::1:5", "a b:1"]
)
def test_parse_target_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_target(text)


def test_every_channel_is_sent_under_its_arkit_name() -> None:
    frame = sample_frame()
    blends = {args[0]: args[1] for a, args in frame_messages(frame, 0) if a == ADDR_BLEND}
    for name in BLENDSHAPE_NAMES[1:]:
        assert blends[name[0].upper() + name[1:]] == frame.weight(name)
    assert blends["TongueOut"] == 0.0


# -- the OSC reader: fast path against python-osc ---------------------------------------------
def osc(address: str, *args: object, tags: str | None = None) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address)
    for i, arg in enumerate(args):
        builder.add_arg(arg, tags[i] if tags else None)
    return bytes(builder.build().dgram)


def bundle(*elements: bytes) -> bytes:
    return (
        b"#bundle\x00"
        + struct.pack(">Q", 1)
        + b"".join(struct.pack(">i", len(e)) + e for e in elements)
    )


def test_fast_reader_agrees_with_python_osc() -> None:
    from protocol.vmc_osc import _python_osc

    ours = BundleEncoder().encode(sample_frame(), 4.25)
    samples = [
        ours,
        osc("/VMC/Ext/Blend/Val", "한글", 0.5),
        osc("/VMC/Ext/OK", 1, 3, 0, 1),
        bundle(osc("/a", "x", 1, 2.5, "yz"), bundle(osc("/b")), osc("/c", 7)),
    ]
    for data in samples:
        assert packet_messages(data) == _python_osc(data)


def test_other_osc_types_go_through_python_osc() -> None:
    data = bundle(
        osc("/VMC/Ext/Blend/Val", "JawOpen", 0.5),
        osc("/x", True, 2.5, b"blob", tags="Tdb"),
    )
    assert packet_messages(data) == [
        ("/VMC/Ext/Blend/Val", ["JawOpen", 0.5]),
        ("/x", [True, 2.5, b"blob"]),
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"/abc",  # no terminator, no tags
        b"/abc\x00\x00\x00\x00",  # no type tags
        b"/abc\x00\x00\x00\x00,s\x00\x00abcd",  # string without terminator
        b"/abc\x00\x00\x00\x00,ff\x00\x00\x00\x00\x00",  # arguments past the end
        osc("/a", 1.0) + b"\x00\x00\x00\x00",  # bytes left over
        bundle(bundle(bundle(bundle(bundle(osc("/deep")))))),  # nested too deep
        bundle(osc("/a"))[:-4],  # element cut short
        b"#bundle\x00" + bytes(8) + b"\x00\x00\x00\x00",  # an empty element
        b"xyz\x00",  # neither a message nor a bundle
        b"/a\x00\x00,s\x00\x00\xff\xfe\x00\x00",  # a string that is not UTF-8
    ],
)
def test_fast_reader_refuses_malformed(data: bytes) -> None:
    with pytest.raises(DecodeError):
        packet_messages(data)
