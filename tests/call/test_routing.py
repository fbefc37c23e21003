"""``Call._route`` for the window's call states, without processes: each event a child says
becomes the command the window needs (and what a restarted window gets replayed)."""

from __future__ import annotations

import pytest

from call.events import ChildExited
from protocol.commands import Command, Pause, Recalibrate, ShowOverlay, ShowPeerName
from protocol.events import Error, PeerBye, PeerHello, Status

from .routed import Routed

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

FULL = "relay refused the join (room_full): this room already has two people in it"


def to_render(sent: list[tuple[str, Command]]) -> list[Command]:
    return [cmd for child, cmd in sent if child == "render"]


def test_a_room_full_ending_is_a_refused_overlay_that_stays(call: Routed) -> None:
    c, sent = call
    c._route("peer", Status(state="signaling", message="connecting to the relay"))
    c._route("peer", Error(message=FULL, fatal=True))
    c._route("peer", ChildExited(returncode=3, restarting=False))
    refusals = [cmd for cmd in to_render(sent) if getattr(cmd, "state", "") == "refused"]
    assert len(refusals) == 1, "said once, at the first sign"
    refused = to_render(sent)[-1]
    assert isinstance(refused, ShowOverlay) and refused.state == "refused"
    assert refused.detail == "the room already has two people in it"
    # A restarted window is told again, reason included.
    assert refused in c.memory.replay("render")


def test_a_refused_status_carries_the_relays_reason_made_printable(call: Routed) -> None:
    c, sent = call
    c._route("peer", Status(state="refused", message="relay said \x1b[2Jno"))
    cmd = to_render(sent)[-1]
    assert isinstance(cmd, ShowOverlay) and cmd.state == "refused"
    assert "\x1b" not in cmd.detail and "no" in cmd.detail


def test_an_exit_for_a_refusal_shows_it_even_without_the_error_line(call: Routed) -> None:
    c, sent = call
    c._route("peer", Error(message="relay said no (bad_room)", fatal=True))
    c._route("peer", ChildExited(returncode=3, restarting=False))
    cmd = to_render(sent)[-1]
    assert cmd == ShowOverlay(state="refused", detail="relay said no (bad_room)")


def test_a_crash_that_will_be_restarted_is_not_a_refusal(call: Routed) -> None:
    c, sent = call
    c._route("peer", ChildExited(returncode=1, restarting=True))
    c._route("peer", ChildExited(returncode=0, restarting=False))
    assert not [cmd for cmd in to_render(sent) if getattr(cmd, "state", "") == "refused"]


def test_peer_left_stays_over_later_waiting_states_until_they_are_back(call: Routed) -> None:
    c, sent = call
    c._route("peer", PeerBye(reason="bye"))
    c._route("peer", Status(state="waiting"))
    assert [getattr(cmd, "state", "") for cmd in to_render(sent)] == ["peer_left", "peer_left"]
    c._route("peer", Status(state="connected"))
    assert to_render(sent)[-1] == ShowOverlay(state="connected")


def test_the_peers_name_goes_to_the_title_cut_and_printable(call: Routed) -> None:
    c, sent = call
    c._route("peer", PeerHello(name="Bob\x1b]0;x\x07\n\u202e " + "y" * 100))
    cmd = to_render(sent)[-1]
    assert isinstance(cmd, ShowPeerName)
    assert cmd.name.startswith("Bob") and len(cmd.name) <= 40
    assert not any(ch in cmd.name for ch in "\x1b\x07\n\u202e")
    assert cmd in c.memory.replay("render")


def test_our_pause_and_recalibration_reach_the_window(call: Routed) -> None:
    c, sent = call
    c.pause(True)
    assert ("tracking", Pause(on=True)) in sent
    assert to_render(sent)[-1] == ShowOverlay(state="self_paused")
    assert ShowOverlay(state="self_paused") in c.memory.replay("render")
    c.pause(False)
    assert to_render(sent)[-1] == ShowOverlay(state="self_resumed")
    c.recalibrate(3.0)
    assert ("tracking", Recalibrate(seconds=3.0)) in sent
    assert to_render(sent)[-1] == ShowOverlay(state="recalibrating", seconds=3.0)
    # The tracker finishing ends the countdown's banner.
    c._route("tracking", Status(state="calibrated", message="calibrated from 80 frames"))
    assert to_render(sent)[-1] == ShowOverlay(state="calibrated")
