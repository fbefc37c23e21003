"""``Call._route`` for gestures and the body setting, without processes: our tracker's gesture
goes to the peer, the peer's goes to the window, and ``body`` becomes the tracker's flag."""

from __future__ import annotations

import pytest

from call import CallConfig
from protocol.commands import SendGesture, ShowGesture
from protocol.events import GestureMade, PeerGesture

from .routed import Routed

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV


def test_our_gesture_goes_to_the_peer_theirs_to_the_window(call: Routed) -> None:
    c, sent = call
    c._route("tracking", GestureMade(name="thumbs_up", side=1))
    c._route("peer", PeerGesture(name="wave", side=0))
    assert sent == [
        ("peer", SendGesture(name="thumbs_up", side=1)),
        ("render", ShowGesture(name="wave", side=0)),
    ]
    # only from the child that owns the event: a window saying "gesture" sends nothing anywhere
    c._route("render", GestureMade(name="peace", side=0))
    c._route("tracking", PeerGesture(name="peace", side=0))
    assert len(sent) == 2


@pytest.mark.parametrize(("body", "flag"), [(None, []), (True, ["on"]), (False, ["off"])])
def test_body_setting_becomes_the_trackers_flag(body: bool | None, flag: list[str]) -> None:
    cfg = CallConfig(room="gestureRoom0123456789", body=body)
    argv = cfg.tracking_argv("ring0")
    got = [argv[i + 1] for i, a in enumerate(argv) if a == "--body"]
    assert got == flag


def test_cli_status_lines_for_gestures() -> None:
    import io

    import i18n
    from cli.cmd_call import CallPrinter
    from protocol.events import PeerHello

    out = io.StringIO()
    printer = CallPrinter(stream=out)
    printer("peer", PeerGesture(name="peace", side=0))  # before the hello: no name yet
    printer("peer", PeerHello(name="Mina\x07"))
    printer("peer", PeerGesture(name="wave", side=1))
    printer("tracking", GestureMade(name="thumbs_up", side=1))
    lines = out.getvalue().splitlines()
    assert lines[0] == "the other person made a peace sign ✌️"
    assert lines[2] == "Mina\ufffd waved 👋"
    assert lines[3] == "you: 👍 sent"
    try:
        i18n.set_language("ko")
        printer("peer", PeerGesture(name="wave", side=1))
    finally:
        i18n.set_language("en")
    assert out.getvalue().splitlines()[-1] == "Mina\ufffd 님이 손을 흔들었어요 👋"
