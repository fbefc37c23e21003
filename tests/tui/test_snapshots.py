"""SVG snapshots of every screen (pytest-textual-snapshot). Deterministic by construction:
fixed room code, fixed sources, one avatar pack, fixed terminal sizes, no timers, no clocks.
Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import tui.widgets.avatar_picker as avatar_picker
from tui.app import AppOptions, AvatarChatApp
from tui.avatar_catalog import builtin_choices
from tui.screens.call import CallScreen
from tui.settings import Settings

MakeApp = Callable[..., AvatarChatApp]
SnapCompare = Callable[..., bool]
#: One pack, so a new built-in avatar does not change every home snapshot.
PINNED_AVATAR = "aria"


@pytest.fixture(autouse=True)
def one_avatar(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def only_pinned() -> list[Any]:
        return [c for c in builtin_choices() if c.id == PINNED_AVATAR]

    monkeypatch.setattr(avatar_picker, "builtin_choices", only_pinned)
    yield


async def _settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def _post(screen: CallScreen, **event: Any) -> None:
    screen.post_message(CallScreen.ChildEvent(event))


async def _connected_call(pilot: Any) -> None:
    await _settle(pilot)
    await pilot.press("ctrl+n")
    await pilot.pause()
    call = pilot.app.screen
    assert isinstance(call, CallScreen)
    _post(call, event="relay_started", child="session", share_url="ws://192.0.2.7:40000")
    for child in ("tracking", "peer", "render"):
        _post(call, event="ready", child=child)
    _post(
        call,
        event="status",
        child="peer",
        state="connected",
        message="connected (host path), SAS 045 571",
    )
    _post(call, event="peer_hello", child="peer", name="민수", avatar_id="fox")
    _post(
        call,
        event="chat",
        child="peer",
        text="안녕하세요! 오늘 날씨가 정말 좋네요. 화면에서 한국어가 제대로 줄바꿈되는지 볼까요?",
        **{"from": "민수"},
    )
    _post(
        call,
        event="error",
        child="render",
        fatal=False,
        message="Traceback (most recent call last):\nValueError: bad overlay state",
    )
    for i in range(16):
        _post(
            call,
            event="stats",
            child="peer",
            send_hz=29.0 + i % 3,
            recv_hz=30.0 - i % 2,
            bytes_per_frame=91,
            rtt_ms=1.0 + (i % 5) / 2,
            e2e_present_ms={"p50": 45.0 + i % 7},
            candidate_pair="host",
            sas="045 571",
        )
        _post(call, event="stats", child="tracking", fps=28.0 + i % 4)
        _post(call, event="stats", child="render", fps=60.0 - i % 3)
        await pilot.pause()
        call.tick()
    await pilot.pause()
    chat_input = call.query_one("#chat-input")
    chat_input.value = "반가워요 👋"  # type: ignore[attr-defined]
    await pilot.press("enter")
    await pilot.pause()


def test_home(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    app = make_app(AppOptions(window=True), Settings(display_name="지민", relay=""))
    assert snap_compare(app, terminal_size=(120, 36), run_before=_settle)


def test_settings(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    async def open_settings(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()

    settings = Settings(
        display_name="Ana",
        relay="ws://relay.example:8765",
        turn_url="turn:turn.example:3478?transport=udp",
        turn_username="ana",
        turn_credential="secret",
        smoothing=0.5,
        mirror=True,
    )
    assert snap_compare(
        make_app(settings=settings), terminal_size=(100, 36), run_before=open_settings
    )


def test_call_waiting_with_invite(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    async def waiting(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        call = pilot.app.screen
        _post(call, event="relay_started", child="session", share_url="ws://192.0.2.7:40000")
        _post(
            call,
            event="status",
            child="peer",
            state="waiting",
            message="in the room (position 1); waiting",
        )
        await pilot.pause()

    assert snap_compare(
        make_app(AppOptions(name="Alice")), terminal_size=(120, 40), run_before=waiting
    )


def test_call_connected(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    assert snap_compare(
        make_app(AppOptions(name="Alice")), terminal_size=(120, 40), run_before=_connected_call
    )


def test_call_connected_small_terminal(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    assert snap_compare(
        make_app(AppOptions(name="Alice")), terminal_size=(80, 24), run_before=_connected_call
    )


def test_avatar_switch(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    async def switch(pilot: Any) -> None:
        await _connected_call(pilot)
        await pilot.press("f9")
        await _settle(pilot)

    assert snap_compare(
        make_app(AppOptions(name="Alice")), terminal_size=(100, 32), run_before=switch
    )
