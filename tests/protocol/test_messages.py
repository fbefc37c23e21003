"""ctl (CBOR) and signaling (JSON) messages: golden bytes, round trips, precise errors."""

from __future__ import annotations

import json

import cbor2
import pytest

from protocol import DecodeError, EncodeError
from protocol.ctl import (
    AVATAR_CHUNK_BYTES,
    CTL_TYPES,
    AvatarChunk,
    Bye,
    Chat,
    EmotionPreset,
    Hello,
    Pong,
    parse_ctl,
)
from protocol.signaling import (
    MAX_SIGNAL_BYTES,
    RELAYED_TYPES,
    Answer,
    ErrorCode,
    Ice,
    Join,
    Joined,
    Offer,
    SignalError,
    TurnCredentials,
    new_room_code,
    parse_signal,
)

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

GOLDEN_CTL = {
    "hello": (
        Hello(
            name="Ana",
            avatar_id="fox",
            avatar_version="1.0.0",
            avatar_hash="00" * 32,
            app_version="0.1.0",
        ),
        "a700010163416e610263666f780365312e302e30047840" + "30" * 64 + "0565302e312e300601",
    ),
    "pong": (Pong(5, 1000, 2000, 3000), "a500030105021903e8031907d004190bb8"),
    "chat": (Chat(1, "안녕"), "a3000401010266ec9588eb8595"),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CTL))
def test_ctl_golden_bytes(name: str) -> None:
    message, hex_bytes = GOLDEN_CTL[name]
    golden = bytes.fromhex(hex_bytes)
    assert message.encode() == golden
    assert parse_ctl(golden) == message
    assert parse_ctl(golden).encode() == golden


def test_every_ctl_type_round_trips() -> None:
    for cls in CTL_TYPES.values():
        message = cls()
        assert parse_ctl(message.encode()) == message


def test_ctl_forward_compatible_and_defaults() -> None:
    # A newer peer adds field 9 to chat; we ignore it. An older peer omits trailing fields.
    assert parse_ctl(cbor2.dumps({0: 4, 1: 7, 2: "hi", 9: "new"})) == Chat(7, "hi")
    assert parse_ctl(cbor2.dumps({0: 9})) == Bye("")
    assert parse_ctl(cbor2.dumps({0: 5, 1: 1, 2: 1})) == EmotionPreset(1, 1.0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (cbor2.dumps({0: 99}), "unknown ctl message type 99"),
        (cbor2.dumps({1: 2}), "missing its integer type"),
        (cbor2.dumps([4, 1, "x"]), "must be a CBOR map"),
        (cbor2.dumps({0: 4, 1: -3, 2: "x"}), "Chat.msg_id must be an unsigned integer"),
        (cbor2.dumps({0: 4, 1: 1, 2: b"x"}), "Chat.text must be str, got bytes"),
        (cbor2.dumps({0: 4, 1: 1, 2: "x" * 2001}), "Chat.text is 2001 characters, the cap is 2000"),
        (cbor2.dumps({0: 5, 1: 1, 2: float("nan")}), "must be a finite number"),
        (
            cbor2.dumps({0: 7, 1: "h", 2: 0, 3: 1, 4: 1, 5: bytes(AVATAR_CHUNK_BYTES + 1)}),
            "AvatarChunk.data is 16385 bytes, the cap is 16384",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_ctl_errors(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_ctl(data)


def test_ctl_encode_refuses_bad_values() -> None:
    with pytest.raises(EncodeError, match="Chat.text is 2001 characters"):
        Chat(1, "x" * 2001).encode()
    with pytest.raises(EncodeError, match="AvatarChunk.data is"):
        AvatarChunk("h", 0, 1, 1, bytes(AVATAR_CHUNK_BYTES + 1)).encode()


def test_signaling_round_trips() -> None:
    room = new_room_code()
    messages = [
        Join(room=room, client="avatarchat/0.1"),
        Joined(
            room=room,
            position=2,
            peer_present=True,
            turn=TurnCredentials(["turn:127.0.0.1:3478?transport=udp"], "1:x", "pw", 600),
        ),
        Offer(sdp="v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n", gen=3),
        Answer(sdp="v=0\r\n", gen=3),
        Ice(
            candidate="candidate:1 1 udp 1 127.0.0.1 5000 typ host",
            sdp_mid="0",
            sdp_mline_index=0,
            gen=1,
        ),
    ]
    for message in messages:
        assert parse_signal(message.to_json()) == message
    assert {"offer", "answer", "ice", "avatar"} == RELAYED_TYPES


def test_room_codes_are_long_and_unique() -> None:
    codes = {new_room_code() for _ in range(1000)}
    assert len(codes) == 1000
    assert all(len(c) >= 22 for c in codes)  # 128 bits in URL-safe base64
    assert not any(c.startswith("-") for c in codes)  # safe to paste after --join


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{", ErrorCode.BAD_JSON),
        ("[1]", ErrorCode.BAD_MESSAGE),
        ('{"type":"join"}', ErrorCode.UNSUPPORTED_VERSION),
        ('{"v":2,"type":"ping"}', ErrorCode.UNSUPPORTED_VERSION),
        # true == 1 and 1.0 == 1 in Python: both passed as version 1 (issue 15, defect 12).
        ('{"v":true,"type":"ping"}', ErrorCode.BAD_MESSAGE),
        ('{"v":1.0,"type":"ping"}', ErrorCode.BAD_MESSAGE),
        ('{"v":"1","type":"ping"}', ErrorCode.BAD_MESSAGE),
        ('{"v":1,"type":"dance"}', ErrorCode.UNKNOWN_TYPE),
        ('{"v":1,"type":"offer"}', ErrorCode.BAD_MESSAGE),
        ('{"v":1,"type":"offer","sdp":5}', ErrorCode.BAD_MESSAGE),
        ('{"v":1,"type":"join","room":"abc"}', ErrorCode.BAD_ROOM),
        ('{"v":1,"type":"join","room":"' + "a" * 22 + '/x"}', ErrorCode.BAD_ROOM),
        (json.dumps({"v": 1, "type": "offer", "sdp": "x" * 40000}), ErrorCode.TOO_LARGE),
        ("x" * (MAX_SIGNAL_BYTES + 1), ErrorCode.TOO_LARGE),
        (b'{"v":1,"type":"ping"}', ErrorCode.BINARY_NOT_ALLOWED),
    ],
    ids=lambda v: v.value if isinstance(v, ErrorCode) else "",
)
def test_signaling_errors_have_codes(frame: str | bytes, code: ErrorCode) -> None:
    with pytest.raises(SignalError) as info:
        parse_signal(frame)
    assert info.value.code == code
    assert isinstance(info.value, DecodeError)


@pytest.mark.parametrize("version", ["true", "1.0", "1e0"])
def test_version_must_be_the_integer_one(version: str) -> None:
    with pytest.raises(SignalError, match="'v' must be an integer") as info:
        parse_signal(f'{{"v":{version},"type":"ping","t":1}}')
    assert info.value.code is ErrorCode.BAD_MESSAGE
    assert parse_signal('{"v":1,"type":"ping","t":1}').to_json() == '{"v":1,"type":"ping","t":1}'
