"""Two-sided lip sync (call.lipsync): the decision as a table of cases, and its routing
through ``Call._route`` without processes: the window's ``video_path_delay`` against the
networking process's ``voice.audio_delay_ms`` becomes ``set_sync_hold`` for the networking
process, in steps, capped, released when either side stops reporting."""

from __future__ import annotations

import math
from typing import Any

import pytest

from call.lipsync import DEADBAND_MS, HOLD_CAP_MS, STEP_MS, VIDEO_STALE_S, next_hold
from protocol.commands import Command, SetSyncHold
from protocol.events import Ready, Stats, VideoPathDelay

from .routed import Routed

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

# (hold now, video own path, audio delay with the hold, next hold, why)
CASES = [
    (0.0, 100.0, 95.0, 0.0, "within the dead band: nothing moves"),
    (0.0, 80.0, 120.0, 0.0, "voice slower: the window holds the face, the voice is not held"),
    (0.0, 130.0, 100.0, 15.0, "face 30 ms late: half the difference"),
    (0.0, 300.0, 100.0, STEP_MS, "face 200 ms late: one step at most"),
    (40.0, 300.0, 140.0, 80.0, "still late: another step"),
    (140.0, 500.0, 240.0, HOLD_CAP_MS, "never past the cap"),
    (HOLD_CAP_MS, 900.0, 250.0, HOLD_CAP_MS, "at the cap it stays"),
    (60.0, 120.0, 160.0, 40.0, "overshot (voice now later): back by half"),
    (20.0, 80.0, 200.0, 0.0, "the face got fast: released, never below 0"),
    (60.0, None, 160.0, 0.0, "no window report: released"),
    (60.0, 300.0, None, 0.0, "no audio flowing: released"),
    (60.0, math.nan, 160.0, 0.0, "a broken figure: released"),
    (25.0, 125.0 + DEADBAND_MS - 0.1, 125.0, 25.0, "just inside the dead band"),
]


@pytest.mark.parametrize(
    ("hold", "video", "audio", "expected", "why"), CASES, ids=[c[4] for c in CASES]
)
def test_next_hold(
    hold: float, video: float | None, audio: float | None, expected: float, why: str
) -> None:
    assert next_hold(hold, video, audio) == pytest.approx(expected), why


def test_the_loop_settles_when_the_buffer_follows() -> None:
    """The voice's delay follows the hold a decision late (the buffer grows in pauses): the
    hold still settles within a frame of the difference, without running to the cap."""
    video, natural, hold, realised = 230.0, 110.0, 0.0, 0.0
    holds = []
    for _ in range(12):
        hold = next_hold(hold, video, natural + realised)
        realised += (hold - realised) * 0.6  # partly realised by the next report
        holds.append(hold)
    assert abs(holds[-1] - (video - natural)) <= 20.0, holds
    assert max(holds) <= video - natural + 25.0, holds


def voice(audio_ms: float | None, **more: Any) -> Stats:
    return Stats(t=1.0, values={"voice": {"on": True, "audio_delay_ms": audio_ms, **more}})


def holds(sent: list[tuple[str, Command]]) -> list[float]:
    out = [cmd.hold_ms for child, cmd in sent if isinstance(cmd, SetSyncHold)]
    assert all(child == "peer" for child, cmd in sent if isinstance(cmd, SetSyncHold))
    return out


def test_a_slow_face_holds_the_voice_in_steps(call: Routed) -> None:
    c, sent = call
    c._route("peer", voice(100.0))
    assert holds(sent) == []  # no window report yet: nothing to hold for
    c._route("render", VideoPathDelay(delay_ms=260.0, frames=60))
    c._route("peer", voice(100.0))
    c._route("peer", voice(140.0))  # the buffer grew by the first step
    c._route("peer", voice(180.0))
    c._route("peer", voice(180.0 + 40.0))
    assert holds(sent) == [40.0, 80.0, 120.0, 140.0]
    c._route("peer", voice(258.0))  # in sync: no more lines
    assert len(holds(sent)) == 4


def test_the_hold_is_released(call: Routed, monkeypatch: pytest.MonkeyPatch) -> None:
    c, sent = call
    c._route("render", VideoPathDelay(delay_ms=260.0, frames=60))
    c._route("peer", voice(100.0))
    c._route("peer", voice(140.0, deafened=True))  # nobody hears it: no reason to hold
    assert holds(sent) == [40.0, 0.0]
    c._route("peer", voice(100.0))
    assert holds(sent)[-1] == 40.0
    c.sync.video_at -= VIDEO_STALE_S + 0.1  # the window stopped reporting (peer off screen)
    c._route("peer", voice(140.0))
    assert holds(sent)[-1] == 0.0


def test_a_restarted_networking_process_is_told_again(call: Routed) -> None:
    c, sent = call
    c._route("render", VideoPathDelay(delay_ms=260.0, frames=60))
    c._route("peer", voice(100.0))
    c._route("peer", Ready(info={}))
    c._route("peer", voice(None))  # no audio yet: 0, which a new process holds already
    assert holds(sent) == [40.0]
    c._route("peer", voice(100.0))
    assert holds(sent) == [40.0, 40.0]


def test_without_voice_nothing_is_sent(call: Routed) -> None:
    c, sent = call
    c._route("render", VideoPathDelay(delay_ms=260.0, frames=60))
    c._route("peer", Stats(t=1.0, values={"voice": {"on": False}}))
    assert holds(sent) == []
