"""Parent <-> child control lines: golden lines for every event and command, exact round trips,
precise errors, forward compatibility, and a fuzz run (nothing but DecodeError ever escapes)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import DecodeError, EncodeError
from protocol.channel import ChildChannel, read_events
from protocol.commands import (
    Fullscreen,
    Hangup,
    Mirror,
    OpenRoom,
    Pause,
    Quit,
    Recalibrate,
    ResetStats,
    Resize,
    SelfView,
    SendChat,
    SendGesture,
    SetAvatar,
    SetDeafen,
    SetEmotion,
    SetMute,
    SetPeerDelay,
    SetSyncHold,
    ShowGesture,
    ShowOverlay,
    ShowPeerAvatar,
    ShowPeerName,
    ShowSelfAvatar,
    Smoothing,
    TakeScreenshot,
    command_from,
    parse_command,
)
from protocol.control import COMMANDS, EVENTS, MAX_CONTROL_LINE, UnknownMessage
from protocol.events import (
    AvatarProgress,
    AvatarShown,
    Bye,
    ChatReceived,
    ChatSent,
    Error,
    GestureMade,
    OverlayShown,
    PeerAvatar,
    PeerBye,
    PeerEmotion,
    PeerGesture,
    PeerHello,
    Ready,
    ScreenshotSaved,
    Stats,
    Status,
    VideoPathDelay,
    VoiceLevel,
    parse_event,
)

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

GOLDEN_EVENTS: list[tuple[Any, str]] = [
    (Ready(info={"port": 8765, "host": "127.0.0.1"}),
     '{"event":"ready","info":{"port":8765,"host":"127.0.0.1"}}'),
    (Status(state="waiting", message="in the room"),
     '{"event":"status","state":"waiting","message":"in the room"}'),
    (Stats(t=12.5, values={"rtt_ms": 1.25, "e2e_ms": {"p50": 8.0, "p99": 19.5}}),
     '{"event":"stats","t":12.5,"values":{"rtt_ms":1.25,"e2e_ms":{"p50":8.0,"p99":19.5}}}'),
    (Error(message="no camera", fatal=True),
     '{"event":"error","message":"no camera","fatal":true}'),
    (Bye(), '{"event":"bye","reason":""}'),
    (PeerHello(name="민수", avatar_id="fox", avatar_version="1", avatar_hash="ab",
               app_version="0.1.0", protocol=1),
     '{"event":"peer_hello","name":"민수","avatar_id":"fox","avatar_version":"1",'
     '"avatar_hash":"ab","app_version":"0.1.0","protocol":1}'),
    (ChatReceived(text="안녕", sender="민수", msg_id=3),
     '{"event":"chat","text":"안녕","sender":"민수","msg_id":3}'),
    (ChatSent(text="hi"), '{"event":"chat_sent","text":"hi"}'),
    (PeerAvatar(ref="aria", avatar_id="custom", pending=True),
     '{"event":"peer_avatar","ref":"aria","avatar_id":"custom","pending":true}'),
    (AvatarProgress(avatar_id="mine", received=16384, total=12000000),
     '{"event":"avatar_progress","avatar_id":"mine","received":16384,"total":12000000}'),
    (PeerEmotion(preset=1, weight=0.5), '{"event":"peer_emotion","preset":1,"weight":0.5}'),
    (PeerBye(reason="hangup"), '{"event":"peer_bye","reason":"hangup"}'),
    (AvatarShown(view="peer", avatar="fox", name="Fox", variant=None, renderer="layered2d"),
     '{"event":"avatar_shown","view":"peer","avatar":"fox","name":"Fox","variant":null,'
     '"renderer":"layered2d"}'),
    (OverlayShown(state="peer_lost"), '{"event":"overlay","state":"peer_lost"}'),
    (ScreenshotSaved(path="/tmp/a.png", seq=7, present_ns=99, idle_weight=0.25, tag=None,
                     index=0),
     '{"event":"screenshot","path":"/tmp/a.png","seq":7,"present_ns":99,"idle_weight":0.25,'
     '"tag":null,"index":0}'),
    (VoiceLevel(in_level=0.5, speaking=True, peer_speaking=False),
     '{"event":"voice_level","in_level":0.5,"speaking":true,"peer_speaking":false}'),
    (VideoPathDelay(delay_ms=187.5, frames=60),
     '{"event":"video_path_delay","delay_ms":187.5,"frames":60}'),
    (GestureMade("wave", 0), '{"event":"gesture","name":"wave","side":0}'),
    (PeerGesture("peace", 1), '{"event":"peer_gesture","name":"peace","side":1}'),
]

GOLDEN_COMMANDS: list[tuple[Any, str]] = [
    (Quit(reason="call ended"), '{"cmd":"quit","reason":"call ended"}'),
    (Hangup(), '{"cmd":"hangup"}'),
    (SendChat(text="안녕하세요"), '{"cmd":"chat","text":"안녕하세요"}'),
    (SetEmotion(preset=2, weight=1.0), '{"cmd":"emotion","preset":2,"weight":1.0}'),
    (SetAvatar(ref="fox", variant=None), '{"cmd":"avatar","ref":"fox","variant":null}'),
    (Pause(on=True), '{"cmd":"pause","on":true}'),
    (OpenRoom(), '{"cmd":"open_room"}'),
    (Recalibrate(seconds=3.0), '{"cmd":"recalibrate","seconds":3.0}'),
    (Mirror(on=False), '{"cmd":"mirror","on":false}'),
    (Smoothing(enabled=True, amount=0.5, groups={"eyes": {"beta": 5.0}}),
     '{"cmd":"smoothing","enabled":true,"amount":0.5,"groups":{"eyes":{"beta":5.0}}}'),
    (ShowPeerAvatar(ref="/cache/ab.zip", variant="night"),
     '{"cmd":"peer_avatar","ref":"/cache/ab.zip","variant":"night"}'),
    (ShowSelfAvatar(ref="aria", variant=None), '{"cmd":"self_avatar","ref":"aria","variant":null}'),
    (SelfView(on=False), '{"cmd":"self_view","on":false}'),
    (ShowOverlay(state="connecting", detail=""),
     '{"cmd":"overlay","state":"connecting","detail":"","seconds":0.0}'),
    (ShowOverlay(state="recalibrating", detail="", seconds=3.0),
     '{"cmd":"overlay","state":"recalibrating","detail":"","seconds":3.0}'),
    (ShowPeerName(name="민지"), '{"cmd":"peer_name","name":"민지"}'),
    (TakeScreenshot(path="a.png", count=3, every=2, min_seq=10, settled=False, tag="t"),
     '{"cmd":"screenshot","path":"a.png","count":3,"every":2,"min_seq":10,"settled":false,'
     '"tag":"t"}'),
    (ResetStats(), '{"cmd":"reset_stats"}'),
    (Resize(width=640, height=480), '{"cmd":"size","width":640,"height":480}'),
    (Fullscreen(on=True), '{"cmd":"fullscreen","on":true}'),
    (SetMute(muted=True), '{"cmd":"set_mute","muted":true}'),
    (SetDeafen(deafened=False), '{"cmd":"set_deafen","deafened":false}'),
    (SetPeerDelay(delay_ms=82.5), '{"cmd":"set_peer_delay","delay_ms":82.5}'),
    (SetSyncHold(hold_ms=40.0), '{"cmd":"set_sync_hold","hold_ms":40.0}'),
    (SendGesture("thumbs_up", 1), '{"cmd":"send_gesture","name":"thumbs_up","side":1}'),
    (ShowGesture("wave", 0), '{"cmd":"show_gesture","name":"wave","side":0}'),
]


def test_every_kind_has_a_golden_line() -> None:
    assert {type(m).KIND for m, _ in GOLDEN_EVENTS} == set(EVENTS.classes)
    assert {type(m).KIND for m, _ in GOLDEN_COMMANDS} == set(COMMANDS.classes)


@pytest.mark.parametrize(("message", "line"), GOLDEN_EVENTS, ids=lambda v: str(v)[:30])
def test_event_golden_lines_round_trip_exactly(message: Any, line: str) -> None:
    assert message.encode() == line + "\n"
    assert parse_event(line) == message
    assert parse_event(line.encode()) == message


@pytest.mark.parametrize(("message", "line"), GOLDEN_COMMANDS, ids=lambda v: str(v)[:30])
def test_command_golden_lines_round_trip_exactly(message: Any, line: str) -> None:
    assert message.encode() == line + "\n"
    assert parse_command(line) == message
    kind = json.loads(line)["cmd"]
    fields = {k: v for k, v in json.loads(line).items() if k != "cmd"}
    assert command_from(kind, **fields) == message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"cmd":"pause","on":"yes"}', "cmd 'pause' field 'on': expected a boolean, got str"),
        ('{"cmd":"emotion","preset":true}', "field 'preset': expected an integer, got bool"),
        ('{"cmd":"emotion","preset":1,"weight":2}', "weight 2.0 not in 0..1"),
        ('{"cmd":"size","width":640}', "cmd 'size': missing field 'height'"),
        ('{"cmd":"size","width":0,"height":10}', "side 0 not in 1..8192"),
        ('{"cmd":"overlay","state":"party"}', "state 'party' not one of"),
        ('{"cmd":"recalibrate","seconds":1e9}', "not in 0.1..30"),
        ('{"cmd":"chat","text":"   "}', "empty text"),
        ('{"cmd":"set_peer_delay","delay_ms":-1}', "delay_ms -1.0 not in 0..1000"),
        ('{"cmd":"set_sync_hold","hold_ms":301}', "hold_ms 301.0 not in 0..300"),
        ('{"cmd":"set_sync_hold","hold_ms":"40"}', "expected a number"),
        ('{"cmd":"screenshot","count":100000}', "count 100000 not in 1..1000"),
        ('{"cmd":"smoothing","groups":{"eyes":{"beta":"x"}}}', "eyes.beta must be a number"),
        ("[1,2]", "must be a JSON object, got list"),
        ("{not json", "not JSON"),
        ('{"cmd":7}', "no string 'cmd'"),
        ('{"cmd":"emotion","preset":1,"weight":NaN}', "not a finite number"),
    ],
)
def test_bad_commands_raise_precise_errors(line: str, expected: str) -> None:
    with pytest.raises(DecodeError, match=None) as info:
        parse_command(line)
    assert expected in str(info.value)
    assert not isinstance(info.value, UnknownMessage)


def test_bad_events_raise_precise_errors() -> None:
    with pytest.raises(DecodeError, match="event 'stats': missing field 't'"):
        parse_event('{"event":"stats","values":{}}')
    with pytest.raises(DecodeError, match="view 'side' not one of"):
        parse_event('{"event":"avatar_shown","view":"side","avatar":"x"}')
    with pytest.raises(DecodeError, match=r"delay_ms -5.0 not in 0..10000"):
        parse_event('{"event":"video_path_delay","delay_ms":-5}')
    with pytest.raises(DecodeError, match="frames -1 < 0"):
        parse_event('{"event":"video_path_delay","delay_ms":5,"frames":-1}')
    with pytest.raises(DecodeError, match="nested deeper than 4"):
        parse_event('{"event":"ready","info":{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}}')
    with pytest.raises(DecodeError, match="exceeds 65536"):
        parse_event('{"event":"error","message":"' + "x" * MAX_CONTROL_LINE + '"}')


def test_unknown_kinds_and_extra_fields_are_forward_compatible() -> None:
    with pytest.raises(UnknownMessage, match="unknown event 'hologram'") as info:
        parse_event('{"event":"hologram","beams":3}')
    assert info.value.kind == "hologram" and isinstance(info.value, DecodeError)
    assert parse_event('{"event":"bye","reason":"","new_field":[1,2]}') == Bye()


def test_encode_refuses_what_parse_would_refuse() -> None:
    with pytest.raises(EncodeError, match="weight 3"):
        SetEmotion(preset=1, weight=3.0).encode()
    with pytest.raises(EncodeError, match="over the 65536-byte line cap"):
        Stats(t=0.0, values={"blob": ["x" * 4000] * 20}).encode()
    with pytest.raises(EncodeError):
        Stats(t=0.0, values={"bad": float("nan")}).encode()


def test_child_channel_delivers_commands_counts_garbage_and_quits_at_eof() -> None:
    lines = [
        '{"cmd":"pause","on":true}\n',
        "\x1b]52;c;ZXZpbA==\x07 not json\n",
        '{"cmd":"teleport"}\n',
        '{"cmd":"pause","on":1}\n',
        "\n",
        '{"cmd":"mirror","on":false}\n',
    ]
    out = io.StringIO()
    channel = ChildChannel(commands_in=lines, output=out)
    channel.start()
    channel._reader.join(5)
    assert channel.pending() == [
        Pause(on=True),
        Mirror(on=False),
        Quit(reason="stdin closed"),
    ]
    assert (channel.bad_lines, channel.unknown) == (2, 1)
    channel.emit(Status(state="running", message="ok"))
    channel.close()
    events = [parse_event(line) for line in out.getvalue().splitlines()]
    # The first bad line is reported to the parent once; later ones are only counted.
    assert events[0] == Error(
        message="ignored a bad command line: control line is not JSON: "
        "Expecting value: line 1 column 1 (char 0)"
    )
    assert events[1:] == [Status(state="running", message="ok")]


def test_read_events_skips_non_event_lines_and_ends_with_none() -> None:
    stream = io.StringIO('{"event":"ready","info":{}}\nnoise\n{"event":"bye","reason":""}\n')
    queue = read_events(stream)
    assert [queue.get(timeout=5) for _ in range(3)] == [Ready(), Bye(), None]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_bytes_only_ever_raise_decode_error(data: bytes) -> None:
    for parse in (parse_event, parse_command):
        try:
            parse(data)
        except DecodeError:
            pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(sorted({*EVENTS.classes, *COMMANDS.classes, "nope"})),
    st.dictionaries(
        st.sampled_from(["state", "message", "on", "preset", "weight", "ref", "t", "values",
                         "info", "text", "width", "height", "count", "groups", "amount", "x"]),
        json_values,
    ),
)
def test_fuzz_shaped_lines_parse_or_raise_decode_error(kind: str, fields: dict[str, Any]) -> None:
    for key, parse in (("event", parse_event), ("cmd", parse_command)):
        line = json.dumps({key: kind, **fields})
        try:
            message = parse(line)
        except DecodeError:
            continue
        assert parse(message.encode()) == message  # whatever parses re-encodes to itself
