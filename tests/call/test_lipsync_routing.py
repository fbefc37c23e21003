"""``Call._route`` for lip sync, without processes: the networking process's
``voice.audio_delay_ms`` becomes the window's ``set_peer_delay``; no voice, no audio or
deafened is 0 (the low-latency path); wobbles are not passed on; a restarted window hears it
again."""

from __future__ import annotations

import math
from typing import Any

import pytest

from protocol.commands import Command, SetPeerDelay
from protocol.events import Ready, Stats

from .routed import Routed

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV


def stats(voice: dict[str, Any] | None) -> Stats:
    values: dict[str, Any] = {"state": "connected"}
    if voice is not None:
        values["voice"] = voice
    return Stats(t=1.0, values=values)


def delays(sent: list[tuple[str, Command]]) -> list[float]:
    return [cmd.delay_ms for child, cmd in sent if isinstance(cmd, SetPeerDelay)]


def test_the_audio_delay_goes_to_the_window(call: Routed) -> None:
    c, sent = call
    c._route("peer", stats({"on": True, "audio_delay_ms": 87.26}))
    assert sent == [("render", SetPeerDelay(delay_ms=87.3))]
    c._route("peer", stats({"on": True, "audio_delay_ms": 88.5}))  # a wobble: not sent
    c._route("peer", stats({"on": True, "audio_delay_ms": 480.0}))  # one far off: ignored
    assert delays(sent) == [87.3]
    for _ in range(3):  # the path really got slower: followed once it is the majority
        c._route("peer", stats({"on": True, "audio_delay_ms": 120.0}))
    assert delays(sent) == [87.3, 120.0]


@pytest.mark.parametrize(
    "voice",
    [
        None,  # an older networking process: no voice at all
        {"on": False},
        {"on": True, "audio_delay_ms": 0.0},  # no audio flowing
        {"on": True, "deafened": True, "audio_delay_ms": 95.0},  # nobody hears it
        {"on": True, "audio_delay_ms": "95"},
        {"on": True, "audio_delay_ms": math.nan},
        {"on": True, "audio_delay_ms": -5.0},
    ],
)
def test_no_voice_is_the_low_latency_path(call: Routed, voice: dict[str, Any] | None) -> None:
    c, sent = call
    c._route("peer", stats({"on": True, "audio_delay_ms": 90.0}))
    c._route("peer", stats(voice))
    assert delays(sent) == [90.0, 0.0]


def test_an_absurd_delay_is_capped(call: Routed) -> None:
    c, sent = call
    c._route("peer", stats({"on": True, "audio_delay_ms": 1e9}))
    assert delays(sent) == [1000.0]


def test_a_restarted_window_is_told_again(call: Routed) -> None:
    c, sent = call
    c._route("peer", stats({"on": True, "audio_delay_ms": 70.0}))
    c._route("render", Ready(info={}))
    c._route("peer", stats({"on": True, "audio_delay_ms": 70.0}))
    assert delays(sent) == [70.0, 70.0]
    assert all(child == "render" for child, cmd in sent if isinstance(cmd, SetPeerDelay))
