"""Issue 16: the joiner's name, chat labels, devices and settings, as a person meets them.

- Joining from the command line with no name asks once (Hangul typed), saves it, uses it.
- Chat reads the same on both ends: your own lines "you", the other person's under their name.
- Cameras are listed by name; with none, the screen says the sample clip is used; a clip file
  can be chosen on the home screen, and a bad path is refused with the reason.
- Settings refuse bad values with the reason, keep the old ones, and never say "saved".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from textual.widgets import Input, Label, Select

import tui.screens.settings as settings_screen
from call import Call
from protocol.events import ChatReceived
from tui.app import AppOptions, AvatarChatApp
from tui.avatar_catalog import AvatarChoice
from tui.devices import list_sources
from tui.screens.call import CallScreen
from tui.screens.clip import ClipScreen
from tui.screens.home import HomeScreen
from tui.screens.name_prompt import NamePromptScreen
from tui.settings import Settings, load_settings, save_settings
from tui.widgets.chat import ChatPane

from .conftest import ROOM
from .steps import open_settings, settle, wait_until
from .test_keys import FakeCall

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

MakeApp = Callable[..., AvatarChatApp]
SIZE = (80, 24)


def _text(widget: Any) -> str:
    return str(widget.render())


# -- the joiner's name ------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_joining_with_no_name_asks_once_and_saves_it(make_app: MakeApp) -> None:
    options = AppOptions(relay="ws://r:1", join=ROOM, window=False)
    app = make_app(options, Settings())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, NamePromptScreen), 30, "asking")
        prompt = app.screen
        assert isinstance(prompt, NamePromptScreen)
        await pilot.press("enter")  # nothing typed: refused with the reason, still asking
        assert "Type a name" in _text(prompt.query_one("#name-error", Label))
        # Hangul arrives from the input method as committed text, not as key presses.
        prompt.query_one("#prompt-name", Input).insert_text_at_cursor("김지민")
        await pilot.press("enter")
        await settle(pilot)
        call = app.screen
        assert isinstance(call, CallScreen)
        assert call.request.name == "김지민" and call.request.room == ROOM
    assert load_settings().display_name == "김지민"
    # The next run has the saved name: straight into the call, no question.
    again = make_app(options, load_settings())
    async with again.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(again.screen, CallScreen), 30, "the call")
        assert isinstance(again.screen, CallScreen)
        assert again.screen.request.name == "김지민"


@pytest.mark.asyncio
async def test_cancelling_the_name_prompt_stays_home_with_the_code(make_app: MakeApp) -> None:
    app = make_app(AppOptions(relay="ws://r:1", join=ROOM, window=False), Settings())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, NamePromptScreen), 30, "asking")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        assert app.screen.query_one("#join-code", Input).value == ROOM


@pytest.mark.asyncio
async def test_a_name_given_or_saved_is_not_asked_for(make_app: MakeApp) -> None:
    app = make_app(AppOptions(relay="ws://r:1", join=ROOM, name="Jo"), Settings())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, CallScreen), 30, "the call")
        assert isinstance(app.screen, CallScreen) and app.screen.request.name == "Jo"


# -- chat labels ------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_chat_labels_read_the_same_on_both_ends(make_app: MakeApp) -> None:
    """Two apps, each one's sent line delivered to the other as the peer process would."""
    calls: dict[str, CallScreen] = {}

    def wired(me: str, other: str) -> Callable[..., Call]:
        fake = FakeCall()

        def chat(text: str) -> bool:
            calls[other].post_message(
                CallScreen.ChildEvent("peer", ChatReceived(text=text, sender=me))
            )
            return True

        fake.chat = chat  # type: ignore[method-assign]
        return lambda *a: cast(Call, fake)

    alice = make_app(AppOptions(name="Alice"), controller_factory=wired("Alice", "민수"))
    minsu = make_app(AppOptions(name="민수"), controller_factory=wired("민수", "Alice"))
    async with alice.run_test(size=SIZE) as a, minsu.run_test(size=SIZE) as b:
        for pilot, name in ((a, "Alice"), (b, "민수")):
            await settle(pilot)
            await pilot.press("ctrl+n")
            await settle(pilot)
            assert isinstance(pilot.app.screen, CallScreen)
            calls[name] = pilot.app.screen
        await a.press("h", "i", "enter")
        await settle(a)
        await settle(b)
        calls["민수"].query_one("#chat-input", Input).insert_text_at_cursor("안녕")
        await b.press("enter")
        await settle(b)
        await settle(a)
        mine_a = [x for x in calls["Alice"].query_one(ChatPane).lines() if not x.startswith("*")]
        mine_b = [x for x in calls["민수"].query_one(ChatPane).lines() if not x.startswith("*")]
        assert mine_a == ["you: hi", "민수: 안녕"]
        assert mine_b == ["Alice: hi", "you: 안녕"]


# -- devices ----------------------------------------------------------------------------------
def _fake_v4l(root: Path, names: dict[str, str]) -> Path:
    for node, name in names.items():
        (root / node).mkdir(parents=True)
        (root / node / "name").write_text(name + "\n", encoding="utf-8")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _labels(select: Select[str]) -> list[str]:
    return [str(label) for label, _value in select._options]


@pytest.mark.asyncio
async def test_cameras_are_listed_by_name(make_app: MakeApp, tmp_path: Path) -> None:
    v4l = _fake_v4l(
        tmp_path / "v4l", {"video0": "Integrated Camera: Integrated C", "video2": "Logi C920"}
    )
    sources = list_sources(v4l, faces_dir=tmp_path / "none")
    app = make_app(AppOptions(window=False), sources=sources)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        select = app.screen.query_one("#source", Select)
        labels = _labels(select)
        assert labels[:2] == [
            "Integrated Camera: Integrated C (/dev/video0)",
            "Logi C920 (/dev/video2)",
        ]
        assert select.value == "/dev/video0"
        assert not app.screen.query("#source-hint")


@pytest.mark.asyncio
async def test_no_camera_says_the_sample_clip_is_used(make_app: MakeApp, tmp_path: Path) -> None:
    sources = list_sources(_fake_v4l(tmp_path / "v4l", {}), faces_dir=tmp_path / "none")
    app = make_app(AppOptions(window=False), sources=sources)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        hint = _text(app.screen.query_one("#source-hint", Label))
        assert hint == "No camera found: using the sample clip."
        assert app.screen.query_one("#source", Select).value == "sample"


@pytest.mark.asyncio
async def test_a_clip_file_is_chosen_on_the_home_screen(make_app: MakeApp, tmp_path: Path) -> None:
    clip = tmp_path / "me.mp4"
    clip.write_bytes(b"\0")
    (tmp_path / "notes.txt").write_text("x")
    app = make_app(AppOptions(window=False))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        home = app.screen
        home.query_one("#choose-clip").scroll_visible(animate=False)
        await pilot.pause()
        await pilot.click("#choose-clip")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ClipScreen)
        path = dialog.query_one("#clip-path", Input)
        for typed, reason in [
            (str(tmp_path / "nope.mp4"), "No such file"),
            (str(tmp_path), "is a folder"),
            (str(tmp_path / "notes.txt"), "is not a video clip"),
        ]:
            path.value = typed
            await pilot.press("enter")
            assert reason in _text(dialog.query_one("#clip-error", Label))
            assert app.screen is dialog
        path.value = str(clip)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is home
        select = home.query_one("#source", Select)
        assert select.value == str(clip)
        assert "Clip me.mp4" in _labels(select)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, CallScreen)
        assert app.screen.request.source == str(clip)


# -- settings ---------------------------------------------------------------------------------
OLD = Settings(display_name="Ana", relay="ws://good.example:1", smoothing=0.5)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("#set-smoothing", "1.5", "between 0 and 1"),
        ("#set-smoothing", "", "Smoothing is empty"),
        ("#set-relay", "http://wrong", "ws://HOST:PORT"),
        ("#set-relay", "ws://", "ws://HOST:PORT"),
        ("#set-relay", "ws://h:99999", "bad port"),
        ("#set-turn-url", "stun.example", "turn:HOST:3478"),
    ],
)
@pytest.mark.asyncio
async def test_bad_settings_are_refused_with_the_reason(
    make_app: MakeApp, field: str, value: str, reason: str
) -> None:
    save_settings(OLD)
    app = make_app(settings=load_settings())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_settings(pilot)
        screen.query_one("#set-name", Input).value = "Changed"
        screen.query_one(field, Input).value = value
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen  # still open: nothing saved
        assert reason in _text(screen.query_one("#settings-error", Label))
        assert screen.focused is screen.query_one(field)
        assert not any("saved" in n.message.lower() for n in app._notifications)
    assert load_settings() == OLD


@pytest.mark.asyncio
async def test_an_avatar_that_is_not_installed_or_broken_is_refused(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    choices = [AvatarChoice("aria", "Aria"), AvatarChoice("bad", "Bad", error="broken layer")]
    monkeypatch.setattr(settings_screen, "builtin_choices", lambda: list(choices))
    old = Settings(default_avatar="gone")  # hand-edited, or the pack was removed
    save_settings(old)
    app = make_app(settings=load_settings())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_settings(pilot)
        select = screen.query_one("#set-avatar", Select)
        assert select.value == "gone" and "gone (not installed)" in _labels(select)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "not installed" in _text(screen.query_one("#settings-error", Label))
        select.value = "bad"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "broken layer" in _text(screen.query_one("#settings-error", Label))
        assert load_settings() == old
        select.value = "aria"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        assert any(n.message == "Settings saved" for n in app._notifications)
    assert load_settings().default_avatar == "aria"


@pytest.mark.asyncio
async def test_the_avatar_setting_is_a_picker_not_free_text(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        avatar = app.screen.query_one("#set-avatar")
        assert isinstance(avatar, Select) and not isinstance(avatar, Input)
        assert len(avatar._options) >= 2  # the blank ("first in the list") and the packs
