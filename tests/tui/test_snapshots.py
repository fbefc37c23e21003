"""SVG snapshots of every screen (pytest-textual-snapshot). Deterministic by construction:
fixed room code, fixed sources, fixed terminal sizes, no timers, no clocks, and a pinned avatar
list and preview picture (drawn here), so redrawn built-in art does not change TUI snapshots;
the real catalogue is exercised by the Pilot tests.
Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PIL import Image, ImageDraw
from textual.widgets import Input

import tui.screens.settings as settings_screen
import tui.widgets.avatar_picker as avatar_picker
from call import AudioDevices
from tui.app import AppOptions, AvatarChatApp
from tui.avatar_catalog import AvatarChoice
from tui.screens.call import CallScreen
from tui.screens.name_prompt import NamePromptScreen
from tui.settings import Settings

from .events import post
from .steps import wait_until

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

MakeApp = Callable[..., AvatarChatApp]
SnapCompare = Callable[..., bool]
PINNED = [
    AvatarChoice("aria", "Aria", [("brunette", "Brunette"), ("ginger", "Ginger")], "brunette"),
    AvatarChoice("fox", "Fox", [("red", "Red fox")], "red"),
]

PINNED_AUDIO = AudioDevices(inputs=["USB Headset Mic"], outputs=["USB Headset", "HDMI 1"])


def _picture(ref: str, variant: str | None) -> Image.Image:
    """A face-like test card: a circle with two eyes on a transparent square."""
    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse((8, 8, 56, 56), fill=(230, 180, 140, 255))
    draw.ellipse((20, 24, 28, 32), fill=(40, 40, 40, 255))
    draw.ellipse((36, 24, 44, 32), fill=(40, 40, 40, 255))
    draw.rectangle((24, 42, 40, 46), fill=(180, 60, 60, 255))
    return img


@pytest.fixture(autouse=True)
def pinned_avatars(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(avatar_picker, "builtin_choices", lambda: list(PINNED))
    monkeypatch.setattr(avatar_picker, "preview_image", _picture)
    monkeypatch.setattr(settings_screen, "builtin_choices", lambda: list(PINNED))
    # The sound devices of the machine running the tests must not change the settings' picture.
    monkeypatch.setattr(settings_screen, "list_audio_devices", lambda: PINNED_AUDIO)
    yield


async def _settle(pilot: Any) -> None:
    """Workers done, and no blinking cursor (its phase would depend on timing)."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


def _post(screen: CallScreen, **event: Any) -> None:
    post(screen, **event)


async def _connected_call(pilot: Any) -> None:
    await _settle(pilot)
    await pilot.press("ctrl+n")
    await pilot.pause()
    call = pilot.app.screen
    assert isinstance(call, CallScreen)
    _post(call, event="relay_started", child="call", share_url="ws://192.0.2.7:40000", lan=True)
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
        sender="민수",
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
            candidate_pair="host",
            sas="045 571",
        )
        _post(call, event="stats", child="tracking", fps=28.0 + i % 4)
        _post(
            call,
            event="stats",
            child="render",
            fps=60.0 - i % 3,
            e2e_present_ms={"p50": 45.0 + i % 7},
        )
        await pilot.pause()
        call.tick()
    await pilot.pause()
    chat_input = call.query_one("#chat-input")
    chat_input.value = "반가워요 👋"  # type: ignore[attr-defined]
    await pilot.press("enter")
    await _settle(pilot)


def test_home(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    app = make_app(AppOptions(window=True), Settings(display_name="지민", relay=""))
    assert snap_compare(app, terminal_size=(120, 36), run_before=_settle)


def test_settings(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    async def open_settings(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("ctrl+s")
        await _settle(pilot)

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


async def _waiting_with_invite(pilot: Any) -> None:
    await _settle(pilot)
    await pilot.press("ctrl+n")
    await pilot.pause()
    call = pilot.app.screen
    _post(call, event="relay_started", child="call", share_url="ws://192.0.2.7:40000", lan=True)
    _post(call, event="status", child="peer", state="waiting",
          message="in the room (position 1); waiting")
    await _settle(pilot)


def test_call_invite_web_link_80x24(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    """The invite at 80x24: the terminal line, the browser link and its QR code."""
    assert snap_compare(
        make_app(AppOptions(name="Alice")), terminal_size=(80, 24), run_before=_waiting_with_invite
    )


def test_call_waiting_with_invite(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    async def waiting(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        call = pilot.app.screen
        _post(call, event="relay_started", child="call", share_url="ws://192.0.2.7:40000", lan=True)
        _post(
            call,
            event="status",
            child="peer",
            state="waiting",
            message="in the room (position 1); waiting",
        )
        await _settle(pilot)

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


# -- issue 16: home, settings and the call's menus at 80x24 and 120x40 -------------------------
SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_home_at(snap_compare: SnapCompare, make_app: MakeApp, size: tuple[int, int]) -> None:
    """No camera in the fixed sources: the sample clip is used, and the screen says so."""
    app = make_app(AppOptions(window=True), Settings(display_name="Ana"))
    assert snap_compare(app, terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_settings_refusing_a_value(
    snap_compare: SnapCompare, make_app: MakeApp, size: tuple[int, int]
) -> None:
    """A bad relay is refused with its reason, the field focused, the dialog still open."""

    async def refuse(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("ctrl+s")
        await _settle(pilot)
        pilot.app.screen.query_one("#set-relay").value = "http://relay.example"
        await pilot.press("ctrl+s")
        await _settle(pilot)

    settings = Settings(display_name="Ana", default_avatar="fox")
    assert snap_compare(make_app(settings=settings), terminal_size=size, run_before=refuse)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_call_settings_and_emotion_menu(
    snap_compare: SnapCompare, make_app: MakeApp, size: tuple[int, int]
) -> None:
    """Mid-call: settings (saying what applies now) at 80x24, the emotion menu at 120x40."""

    async def opened(pilot: Any) -> None:
        await _connected_call(pilot)
        await pilot.press("ctrl+o" if size == (80, 24) else "ctrl+y")
        await _settle(pilot)

    app = make_app(AppOptions(name="Alice"))
    assert snap_compare(app, terminal_size=size, run_before=opened)


def test_name_prompt(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    app = make_app(AppOptions(join="TestRoomCode_0123456789", relay="ws://r:1"), Settings())

    async def asking(pilot: Any) -> None:
        prompt_shown = lambda: isinstance(pilot.app.screen, NamePromptScreen)  # noqa: E731
        await wait_until(pilot, prompt_shown, 30, "the name prompt")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=asking)


# -- Korean: Hangul is two cells wide, so labels must still fit at both sizes ------------------
KOREAN_SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", KOREAN_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_home_korean(snap_compare: SnapCompare, make_app: MakeApp, size: tuple[int, int]) -> None:
    app = make_app(AppOptions(window=True), Settings(display_name="지민", language="ko"))
    assert snap_compare(app, terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", KOREAN_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_call_connected_korean(
    snap_compare: SnapCompare, make_app: MakeApp, size: tuple[int, int]
) -> None:
    app = make_app(AppOptions(name="지민"), Settings(language="ko"))
    assert snap_compare(app, terminal_size=size, run_before=_connected_call)


def test_settings_korean(snap_compare: SnapCompare, make_app: MakeApp) -> None:
    async def open_settings(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("ctrl+s")
        await _settle(pilot)

    app = make_app(settings=Settings(display_name="지민", language="ko"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=open_settings)
