"""Issue 17 in the TUI: the peer's gestures as lines in the call ("민수 waved 👋", in Korean
too), ours as a notice, and the "track hands and upper body" setting reaching the next call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.widgets import Switch

from tui.app import AppOptions, AvatarChatApp
from tui.screens.call import CallScreen
from tui.screens.home import HomeScreen
from tui.settings import Settings, load_settings, save_settings
from tui.widgets.chat import ChatPane

from .events import post
from .steps import open_call, open_settings, press_for, settle

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

MakeApp = Callable[..., AvatarChatApp]
SIZE = (80, 24)


async def _call(pilot: Any) -> CallScreen:
    call = await open_call(pilot)
    post(call, event="status", child="peer", state="connected", message="")
    post(call, event="peer_hello", child="peer", name="민수\x1b[2J", avatar_id="fox")
    await pilot.pause()
    return call


@pytest.mark.parametrize(
    ("language", "lines"),
    [
        ("en", ["* 민수\ufffd[2J waved 👋", "* 민수\ufffd[2J gave a thumbs-up 👍"]),
        (
            "ko",
            [
                "* 민수\ufffd[2J 님이 손을 흔들었어요 👋",
                "* 민수\ufffd[2J 님이 엄지를 척 들었어요 👍",
            ],
        ),
    ],
)
@pytest.mark.asyncio
async def test_peer_gestures_are_lines_in_the_call(
    make_app: MakeApp, language: str, lines: list[str]
) -> None:
    app = make_app(AppOptions(name="Ana"), Settings(language=language))
    async with app.run_test(size=SIZE) as pilot:
        call = await _call(pilot)
        post(call, event="peer_gesture", child="peer", name="wave", side=1)
        post(call, event="peer_gesture", child="peer", name="thumbs_up", side=0)
        await pilot.pause()
        chat = call.query_one(ChatPane).lines()
        assert [line for line in chat if "👋" in line or "👍" in line] == lines


@pytest.mark.asyncio
async def test_body_setting_is_on_by_default_and_off_reaches_the_next_call(
    make_app: MakeApp,
) -> None:
    assert Settings().body is True
    save_settings(Settings(display_name="Ana"))
    app = make_app(settings=load_settings())
    async with app.run_test(size=SIZE) as pilot:
        call = await open_call(pilot)
        assert call.request.body is None  # on: the tracker decides from the CPU
    app = make_app(settings=load_settings())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_settings(pilot)
        switch = screen.query_one("#set-body", Switch)
        assert switch.value is True
        switch.value = False
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        call = await press_for(pilot, "ctrl+n", CallScreen)
        assert call.request.body is False
        assert "--body" in call.request.tracking_argv("r") and "off" in call.request.tracking_argv(
            "r"
        )
    assert load_settings().body is False
