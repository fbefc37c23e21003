"""The TUI in Korean: chosen by the setting (or $AVATARCHAT_LANG), English by default, switched
live from the settings screen, and Hangul typed by the user round-trips unchanged.

Assertions read what a person sees: labels, buttons, the footer's key descriptions, the call
header and the chat, never only the catalog.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Select, Static

import i18n
from i18n import _
from tui.app import AppOptions, AvatarChatApp
from tui.invite import start_call
from tui.screens.avatar_switch import AvatarSwitchScreen
from tui.screens.call import CallScreen
from tui.screens.home import HomeScreen
from tui.screens.settings import SettingsScreen
from tui.settings import Settings, load_settings
from tui.widgets.chat import ChatPane

from .events import post
from .steps import open_call, settle

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

MakeApp = Callable[..., AvatarChatApp]
SIZE = (120, 40)


def _text(widget: Static | Label | Button) -> str:
    return str(widget.render() if not isinstance(widget, Button) else widget.label)


def _footer_descriptions(screen: Screen[Any]) -> set[str]:
    """The descriptions the footer shows (its bindings, as Textual resolves them)."""
    return {
        binding.description for _key, (_node, binding, _on, _tip) in screen.active_bindings.items()
    }


def _screen_text(screen: Screen[Any]) -> str:
    """Every label, static, button and input placeholder on the screen, one per line."""
    parts: list[str] = []
    for widget in screen.query("*"):
        if isinstance(widget, Button):
            parts.append(str(widget.label))
        elif isinstance(widget, Static):
            parts.append(str(widget.render()))
        elif isinstance(widget, Input):
            parts.append(widget.placeholder)
        if widget.border_title:
            parts.append(str(widget.border_title))
    return "\n".join(parts)


@pytest.mark.asyncio
async def test_english_by_default(make_app: MakeApp) -> None:
    app = make_app(AppOptions(window=False))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        assert i18n.current_language() == "en"
        assert _text(home.query_one("#create", Button)) == "Create room"
        assert {"Create room", "Join room", "Settings"} <= _footer_descriptions(home)
        assert "한" not in _screen_text(home)


@pytest.mark.asyncio
async def test_home_in_korean(make_app: MakeApp) -> None:
    app = make_app(AppOptions(window=False), Settings(language="ko"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        text = _screen_text(home)
        for korean in ("방 만들기", "참여", "표시 이름", "릴레이", "카메라 또는 영상", "아바타"):
            assert korean in text, (korean, text)
        assert "Create room" not in text
        assert "샘플 영상 (기본 제공)" in _select_labels(home.query_one("#source", Select))
        assert {"방 만들기", "방 참여", "설정"} <= _footer_descriptions(home)
        # A bad code is refused in Korean too.
        home.query_one("#join-code", Input).value = "not a code"
        await pilot.click("#join")
        assert "방 코드가 아닙니다" in _text(home.query_one("#home-error", Label))


@pytest.mark.asyncio
async def test_call_screen_in_korean(make_app: MakeApp) -> None:
    app = make_app(AppOptions(name="지민"), Settings(language="ko"))
    async with app.run_test(size=SIZE) as pilot:
        call = await open_call(pilot)
        post(call, event="relay_started", child="call", share_url="ws://192.0.2.7:4000", lan=True)
        post(call, event="status", child="peer", state="waiting", message="")
        await pilot.pause()
        assert "기다리는 중" in _text(call.query_one("#call-state", Static))
        assert "방 코드:" in _text(call.query_one("#invite-code", Label))
        post(call, event="status", child="peer", state="connected", message="")
        post(call, event="peer_hello", child="peer", name="민수", avatar_id="fox")
        await pilot.pause()
        assert "연결됨" in _text(call.query_one("#call-state", Static))
        assert "상대" in _text(call.query_one("#call-info", Static))
        chat = call.query_one(ChatPane)
        assert "* 연결됨" in chat.lines()
        assert "* 민수 님이 들어왔습니다 (아바타 fox)" in chat.lines()
        assert {"끊기", "일시정지", "내 모습", "아바타"} <= _footer_descriptions(call)
        await pilot.press("f6")
        await pilot.pause()
        assert "추적 일시정지" in _text(call.query_one("#call-state", Static))
        post(call, event="peer_bye", child="peer", reason="hangup")
        await pilot.pause()
        assert "상대가 나감" in _text(call.query_one("#call-state", Static))
        assert "* 민수 님이 통화에서 나갔습니다" in chat.lines()


@pytest.mark.asyncio
async def test_settings_choose_korean_and_the_home_screen_follows(make_app: MakeApp) -> None:
    app = make_app(AppOptions(window=False))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        home.query_one("#name", Input).value = "김지민"
        home.query_one("#join-code", Input).value = "half-typed"
        await pilot.press("ctrl+s")
        await pilot.pause()
        settings = app.screen
        assert isinstance(settings, SettingsScreen)
        language = settings.query_one("#set-language", Select)
        assert language.value == "auto"
        assert "English" in _select_labels(language) and "한국어" in _select_labels(language)
        language.value = "ko"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert load_settings().language == "ko"
        home = app.screen
        assert isinstance(home, HomeScreen)
        assert i18n.current_language() == "ko"
        assert _text(home.query_one("#create", Button)) == "방 만들기"
        assert "방 만들기" in _footer_descriptions(home)
        # What the user had typed survives the relabelling.
        assert home.query_one("#name", Input).value == "김지민"
        assert home.query_one("#join-code", Input).value == "half-typed"
        await pilot.press("ctrl+s")
        await pilot.pause()
        settings = app.screen
        assert isinstance(settings, SettingsScreen)
        assert settings.query_one("#settings-box").border_title == "설정"
        assert "언어 (Language)" in _screen_text(settings)
        assert {"취소", "저장"} <= _footer_descriptions(settings)
        settings.query_one("#set-language", Select).value = "en"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert _text(app.screen.query_one("#create", Button)) == "Create room"


def _select_labels(select: Select[str]) -> str:
    return "\n".join(str(prompt) for prompt, _value in select._options)


@pytest.mark.asyncio
async def test_the_environment_overrides_the_setting_at_start(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(i18n.LANG_ENV, "ko")
    app = make_app(AppOptions(window=False), Settings(language="en"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert _text(app.screen.query_one("#create", Button)) == "방 만들기"


@pytest.mark.asyncio
async def test_locale_picks_korean_when_the_setting_is_auto(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    app = make_app(AppOptions(window=False))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert _text(app.screen.query_one("#create", Button)) == "방 만들기"


@pytest.mark.asyncio
async def test_hangul_typed_into_name_and_chat_round_trips(make_app: MakeApp) -> None:
    app = make_app(AppOptions(window=False), Settings(language="ko"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        name = home.query_one("#name", Input)
        name.focus()
        await pilot.press(*"김지민")
        assert name.value == "김지민"
        await pilot.press("ctrl+n")
        await pilot.pause()
        call = app.screen
        assert isinstance(call, CallScreen)
        assert call.request.name == "김지민"
        box = call.query_one("#chat-input", Input)
        box.focus()
        await pilot.press(*"안녕하세요, 반가워요!")
        assert box.value == "안녕하세요, 반가워요!"
        await pilot.press("enter")
        await pilot.pause()
        assert box.value == ""
        assert "나: 안녕하세요, 반가워요!" in call.query_one(ChatPane).lines()  # ours: "you"
        assert load_settings().display_name == "김지민"


@pytest.mark.asyncio
async def test_avatar_switcher_in_korean(make_app: MakeApp) -> None:
    app = make_app(AppOptions(name="A"), Settings(language="ko"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press("f9")
        await settle(pilot)
        switch = app.screen
        assert isinstance(switch, AvatarSwitchScreen)
        assert _text(switch.query_one("#use", Button)) == "이 아바타 사용"
        assert switch.query_one("#switch-box").border_title == "아바타 바꾸기"


def test_children_get_the_apps_language() -> None:
    """The avatar window resolves its language from the environment start_call builds."""
    from call import CallConfig

    i18n.set_language("ko")
    request = CallConfig(room="TestRoomCode_0123456789")
    call = start_call(request, Settings(language="ko"), lambda _source, _event: None)
    assert call is not None
    assert request.env is not None and request.env[i18n.LANG_ENV] == "ko"
    assert i18n.resolve("auto", request.env) == "ko"


SCREENS: list[type[Screen[Any]] | type[App[Any]]] = [
    AvatarChatApp,
    HomeScreen,
    CallScreen,
    SettingsScreen,
    AvatarSwitchScreen,
]


@pytest.mark.parametrize("cls", SCREENS, ids=lambda c: c.__name__)
def test_every_key_description_has_a_korean_translation(cls: type[Any]) -> None:
    """Each binding a screen declares (what its footer shows) reads in Korean."""
    i18n.set_language("ko")
    declared = [b for b in cls.__dict__["BINDINGS"] if isinstance(b, Binding)]
    assert declared
    for b in declared:
        assert _(b.description) != b.description, f"{cls.__name__}: {b.description!r}"


@pytest.mark.asyncio
async def test_a_peer_without_a_name_is_called_sang_dae(make_app: MakeApp) -> None:
    """Korean uses a different sentence, not the English fallback name with "님"."""
    app = make_app(AppOptions(name="지민"), Settings(language="ko"))
    async with app.run_test(size=SIZE) as pilot:
        call = await open_call(pilot)
        post(call, event="peer_hello", child="peer", name="", avatar_id="fox")
        post(call, event="peer_bye", child="peer", reason="hangup")
        await pilot.pause()
        lines = call.query_one(ChatPane).lines()
        assert "* 상대가 들어왔습니다 (아바타 fox)" in lines
        assert "* 상대가 통화에서 나갔습니다" in lines
        assert not any("님" in line for line in lines)
