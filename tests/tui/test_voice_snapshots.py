"""SVG snapshots of voice in the TUI (issue 14): the voice line (level meter, both speaking
indicators, mute and deafen with their keys) and the voice figures in the stats panel, at 80x24
and 120x40 and in Korean; the settings' voice section with a pinned device list.

Deterministic like tests/tui/test_snapshots.py (whose fixtures pin avatars and sound devices).
Update after an intended change with
``pytest tests/tui/test_voice_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.widgets import Switch

from tui.app import AppOptions, AvatarChatApp
from tui.screens.call import CallScreen
from tui.settings import Settings

from .events import post
from .test_snapshots import _connected_call, _settle, pinned_avatars  # noqa: F401 - fixture
from .test_voice import VOICE

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

MakeApp = Callable[..., AvatarChatApp]
SnapCompare = Callable[..., bool]
SIZES = [(80, 24), (120, 40)]
#: The networking process's other figures, as in the call snapshots.
PEER = {
    "send_hz": 30.0,
    "recv_hz": 30.0,
    "bytes_per_frame": 91,
    "rtt_ms": 1.5,
    "candidate_pair": "host",
    "sas": "045 571",
}


async def _talking(pilot: Any, *, mute: bool = False) -> None:
    """Connected, the peer's voice figures known, we speak loudly and they are quiet."""
    await _connected_call(pilot)
    call = pilot.app.screen
    assert isinstance(call, CallScreen)
    for i in range(8):
        voice = {**VOICE, "audio_delay_ms": 46.0 + i % 4, "loss_pct": 0.5 * (i % 3)}
        post(call, event="stats", child="peer", voice=voice, **PEER)
        # The others report too: a figure not reported for 3 s reads "-", and a loaded
        # machine can take that long between the connected call's last report and here.
        post(call, event="stats", child="tracking", fps=29.0)
        post(call, event="stats", child="render", fps=60.0, e2e_present_ms={"p50": 47.0})
        await pilot.pause()
        call.tick()
    post(call, event="voice_level", child="peer", in_level=0.75, speaking=True)
    if mute:
        await pilot.press("ctrl+l", "ctrl+backslash")
    await _settle(pilot)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_voice_in_a_call(
    snap_compare: SnapCompare, make_app: MakeApp, size: tuple[int, int]
) -> None:
    assert snap_compare(make_app(AppOptions(name="Alice")), terminal_size=size, run_before=_talking)


def test_voice_muted_and_deafened_in_korean(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    async def muted(pilot: Any) -> None:
        await _talking(pilot, mute=True)

    app = make_app(AppOptions(name="Alice"), Settings(language="ko"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=muted)


def test_voice_off_in_a_call(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    app = make_app(AppOptions(name="Alice"), Settings(voice=False))
    assert snap_compare(app, terminal_size=(80, 24), run_before=_connected_call)


def test_voice_settings(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    async def voice_section(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("ctrl+s")
        await _settle(pilot)
        switch = pilot.app.screen.query_one("#set-echo", Switch)
        switch.scroll_visible(animate=False, top=True)
        await _settle(pilot)

    app = make_app(settings=Settings(mic="USB Headset Mic", speaker="none"))
    assert snap_compare(app, terminal_size=(100, 36), run_before=voice_section)
