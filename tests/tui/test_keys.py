"""Issue 16, keys: every call action has a Ctrl key the chat input and terminals leave alone
(F1 and F10 are often the terminal's), the footer shows them at 80 columns in both languages,
settings open during a call, and the emotion presets are one Ctrl key plus a letter away.
Each test presses the key as a person would and looks at what changed on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from textual.binding import Binding
from textual.widgets import Footer, Input, RichLog, Select, Static, Switch

import i18n
from call import Call
from tui.app import AppOptions, AvatarChatApp
from tui.screens.avatar_switch import AvatarSwitchScreen
from tui.screens.call import CallScreen
from tui.screens.emotion import PRESETS, EmotionScreen
from tui.screens.home import HomeScreen
from tui.screens.settings import SettingsScreen
from tui.settings import Settings, load_settings

from .steps import open_call, press_for, settle

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

MakeApp = Callable[..., AvatarChatApp]
#: Keys a terminal or multiplexer takes, or that are other keys in disguise (^m = Enter...).
TAKEN = {"ctrl+c", "ctrl+q", "ctrl+s", "ctrl+z", "ctrl+b", "ctrl+h", "ctrl+i", "ctrl+j", "ctrl+m"}


class FakeCall:
    """What the call screen asks of :class:`call.Call`, recorded instead of done."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.closed = False

    async def start(self) -> None:
        self.calls.append(("start", None))

    async def close(self, *, hangup: bool = True) -> None:
        self.closed = True

    def pids(self) -> list[int]:
        return []

    def __getattr__(self, name: str) -> Callable[..., bool]:
        def record(*args: object) -> bool:
            self.calls.append((name, args[0] if len(args) == 1 else args))
            return True

        return record


def _keys(cls: type[Any]) -> dict[str, str]:
    """key -> action, from a class's BINDINGS (comma-separated keys split)."""
    out: dict[str, str] = {}
    for b in cls.BINDINGS:
        binding = b if isinstance(b, Binding) else Binding(*b)
        for key in binding.key.split(","):
            out[key.strip()] = binding.action
    return out


def _events(screen: CallScreen) -> list[str]:
    return [line.text for line in screen.query_one("#events", RichLog).lines]


async def _call(app: AvatarChatApp, pilot: Any) -> CallScreen:
    screen = await open_call(pilot)
    assert isinstance(screen.focused, Input)  # the chat input: keys below arrive through it
    return screen


def test_every_f_key_action_has_a_ctrl_key_the_chat_input_leaves_alone() -> None:
    keys = _keys(CallScreen)
    ctrl_actions = {action for key, action in keys.items() if key.startswith("ctrl+")}
    input_keys = set(_keys(Input))
    for key, action in keys.items():
        if key.startswith("ctrl+"):
            assert key not in TAKEN and key not in input_keys, key
        if key.startswith("f") and key[1:].isdigit():
            emotion = action.startswith("emotion(")
            assert action in ctrl_actions or (emotion and "emotions" in ctrl_actions), key
    # Each preset of the emotion menu answers to a digit and a letter.
    menu = _keys(EmotionScreen)
    for name, _label, digit, letter, _fkey in PRESETS:
        assert menu[digit] == menu[letter] == f"pick('{name}')"


@pytest.mark.asyncio
async def test_ctrl_keys_drive_the_call_while_typing(make_app: MakeApp) -> None:
    fake = FakeCall()
    app = make_app(AppOptions(name="Alice"), controller_factory=lambda *a: cast(Call, fake))
    async with app.run_test(size=(80, 24)) as pilot:
        call = await _call(app, pilot)
        await pilot.press("ctrl+p")
        assert call.paused and ("pause", True) in fake.calls
        await pilot.press("ctrl+f")
        assert not call.self_view and ("self_view", False) in fake.calls
        await pilot.press("ctrl+r")
        assert any("Recalibrating" in line for line in _events(call))
        assert call.query_one("#invite").display
        await pilot.press("ctrl+n")
        assert not call.query_one("#invite").display
        await pilot.press("ctrl+n")
        assert call.query_one("#invite").display
        # Emotions: the menu, then a digit or the preset's letter.
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert isinstance(app.screen, EmotionScreen)
        await pilot.press("1")
        await pilot.pause()
        assert app.screen is call and call.emotion == "happy"
        assert "emotion: happy" in str(call.query_one("#call-state", Static).render())
        await pilot.press("ctrl+y", "s")
        await pilot.pause()
        assert call.emotion == "sad" and ("set_emotion", 2) in fake.calls
        await pilot.press("ctrl+y", "escape")
        await pilot.pause()
        assert app.screen is call and call.emotion == "sad"
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert isinstance(app.screen, AvatarSwitchScreen)
        await pilot.press("escape")
        await pilot.pause()
        # The chat still takes plain letters: none of the above typed into it.
        chat = call.query_one("#chat-input", Input)
        assert chat.value == ""
        await pilot.press("h", "i")
        assert chat.value == "hi"
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen) and fake.closed


@pytest.mark.parametrize("language", ["en", "ko"])
@pytest.mark.asyncio
async def test_the_footer_shows_every_key_at_80_columns(make_app: MakeApp, language: str) -> None:
    app = make_app(AppOptions(name="Alice"), Settings(language=language))
    async with app.run_test(size=(80, 24)) as pilot:
        call = await _call(app, pilot)
        footer = call.query_one(Footer)
        row = footer.region
        strip = app.screen._compositor.render_strips()[row.y]
        shown = strip.text
        for binding in CallScreen.BINDINGS:
            assert isinstance(binding, Binding)
            if binding.show:
                key = binding.key.split(",")[0].replace("ctrl+", "^")
                label = i18n._(binding.description)
                assert f"{key} {label}" in shown, (label, shown)


@pytest.mark.asyncio
async def test_settings_open_during_a_call_and_live_ones_apply(make_app: MakeApp) -> None:
    fake = FakeCall()
    app = make_app(
        AppOptions(name="Alice"),
        Settings(relay="ws://old.example:1"),
        controller_factory=lambda *a: cast(Call, fake),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        call = await _call(app, pilot)
        settings = await press_for(pilot, "ctrl+o", SettingsScreen)
        note = str(settings.query_one("#settings-note").render())
        assert "apply now" in note and "next call" in note
        settings.query_one("#set-smoothing", Input).value = "0.2"
        settings.query_one("#set-mirror", Switch).value = True
        settings.query_one("#set-relay", Input).value = "ws://new.example:2"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is call
        assert ("smoothing", 0.2) in fake.calls and ("mirror", True) in fake.calls
        assert call.request.relay != "ws://new.example:2"  # the next call's
        assert load_settings().relay == "ws://new.example:2"
        notes = [n.message for n in app._notifications]
        assert any("next call" in n for n in notes), notes


@pytest.mark.asyncio
async def test_language_changed_during_a_call_relabels_its_footer(make_app: MakeApp) -> None:
    app = make_app(AppOptions(name="Alice"))
    async with app.run_test(size=(80, 24)) as pilot:
        call = await _call(app, pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        app.screen.query_one("#set-language", Select).value = "ko"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is call
        descriptions = {b.description for _k, (_n, b, _e, _t) in call.active_bindings.items()}
        assert {"끊기", "설정"} <= descriptions
