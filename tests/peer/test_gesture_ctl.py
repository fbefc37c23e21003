"""The networking process's side of gestures: ours go out as ctl ``Gesture``; the peer's come
back as ``peer_gesture`` events only when the name is one we know, and only so many of them."""

from __future__ import annotations

from pathlib import Path

import cbor2

from peer.ctl_handler import GESTURE_BURST
from protocol import ctl
from protocol.events import PeerGesture

from .ctl_rig import ctl_handler


def test_our_gesture_goes_out_as_ctl(tmp_path: Path) -> None:
    handler, _events, sent, _stats = ctl_handler(tmp_path)
    assert handler.gesture("wave", 1)
    assert [ctl.parse_ctl(d) for d in sent] == [ctl.Gesture("wave", 1)]
    assert not handler.gesture("clap", 0)  # not a gesture we know: nothing sent
    assert len(sent) == 1


def test_peer_gestures_are_checked_and_rate_limited(tmp_path: Path) -> None:
    handler, events, _sent, stats = ctl_handler(tmp_path)
    handler.handle(ctl.Gesture("thumbs_up", 0).encode())
    assert events == [PeerGesture(name="thumbs_up", side=0)]
    # unknown names and bad sides never reach the user; they count as bad ctl
    handler.handle(cbor2.dumps({0: 11, 1: "<script>", 2: 0}))
    handler.handle(cbor2.dumps({0: 11, 1: "wave", 2: 9}))
    assert stats.bad_ctl == 2 and len(events) == 1
    # a flood: only the burst gets through, the rest is counted and dropped
    for _ in range(50):
        handler.handle(ctl.Gesture("peace", 1).encode())
    shown = [e for e in events if isinstance(e, PeerGesture)]
    assert len(shown) == int(GESTURE_BURST)  # 1 before + the 2 tokens left
    assert handler.gestures_dropped == 50 - (int(GESTURE_BURST) - 1)
