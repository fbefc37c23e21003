"""Gesture messages: the ctl ``Gesture`` (golden bytes), the tracking/peer events and the
peer/render commands, each refusing a name outside the known set (it reaches a user's screen)."""

from __future__ import annotations

import cbor2
import pytest

from protocol.body import GESTURES
from protocol.commands import SendGesture, ShowGesture, parse_command
from protocol.ctl import CTL_TYPES, Gesture, parse_ctl
from protocol.errors import DecodeError, EncodeError
from protocol.events import GestureMade, PeerGesture, parse_event

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

# a3 = map(3); 00 0b type 11; 01 64 "wave"; 02 01 side right.
GOLDEN_GESTURE = bytes.fromhex("a3000b0164776176650201")


def test_gesture_names() -> None:
    assert GESTURES == ("thumbs_up", "wave", "peace")


def test_ctl_gesture_golden_bytes_and_round_trip() -> None:
    assert Gesture("wave", 1).encode() == GOLDEN_GESTURE
    assert parse_ctl(GOLDEN_GESTURE) == Gesture("wave", 1)
    assert CTL_TYPES[11] is Gesture
    for name in GESTURES:
        for side in (0, 1):
            assert parse_ctl(Gesture(name, side).encode()) == Gesture(name, side)
    # a missing side is the default (left); an unknown trailing key is ignored
    assert parse_ctl(cbor2.dumps({0: 11, 1: "peace", 7: "x"})) == Gesture("peace", 0)


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ({0: 11, 1: "middle_finger", 2: 0}, "unknown gesture 'middle_finger'"),
        ({0: 11, 1: "", 2: 0}, "unknown gesture ''"),
        ({0: 11, 1: "wave", 2: 2}, "side 2 is not 0"),
        ({0: 11, 1: "wave", 2: -1}, "Gesture.side must be an unsigned integer"),
        ({0: 11, 1: b"wave", 2: 0}, "Gesture.name must be str"),
        ({0: 11, 1: "w" * 17, 2: 0}, "Gesture.name is 17 characters, the cap is 16"),
    ],
)
def test_ctl_gesture_refuses_unknown_names(wire: dict[int, object], message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        parse_ctl(cbor2.dumps(wire))


def test_ctl_gesture_encoder_refuses_unknown_names() -> None:
    with pytest.raises(EncodeError, match="unknown gesture 'clap'"):
        Gesture("clap", 0).encode()


GOLDEN_LINES = [
    (GestureMade("wave", 0), '{"event":"gesture","name":"wave","side":0}'),
    (PeerGesture("thumbs_up", 1), '{"event":"peer_gesture","name":"thumbs_up","side":1}'),
    (SendGesture("peace", 1), '{"cmd":"send_gesture","name":"peace","side":1}'),
    (ShowGesture("wave", 0), '{"cmd":"show_gesture","name":"wave","side":0}'),
]


@pytest.mark.parametrize(("message", "line"), GOLDEN_LINES, ids=lambda v: getattr(v, "KIND", ""))
def test_gesture_lines_golden(message: object, line: str) -> None:
    assert message.encode() == line + "\n"  # type: ignore[attr-defined]
    parse = parse_event if line.startswith('{"event"') else parse_command
    assert parse(line) == message


@pytest.mark.parametrize(
    "line",
    [
        '{"event":"gesture","name":"clap","side":0}',
        '{"event":"peer_gesture","name":"<b>","side":0}',
        '{"cmd":"send_gesture","name":"wave","side":3}',
        '{"cmd":"show_gesture","name":"","side":0}',
    ],
)
def test_gesture_lines_refuse_unknown(line: str) -> None:
    parse = parse_event if line.startswith('{"event"') else parse_command
    with pytest.raises(DecodeError, match="unknown gesture|side 3"):
        parse(line)
