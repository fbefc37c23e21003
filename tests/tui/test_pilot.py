"""Pilot tests for every screen and flow, with child events injected at the screen's boundary.

The call screen's only input from the processes is :class:`CallScreen.ChildEvent`; these tests
post the same event dicts the real children write (see peer/app.py, tracking/runner.py) so the UI
logic is tested fast and deterministically. ``test_call_real.py`` and ``test_e2e_tmux.py`` run
the real processes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Label, OptionList, RichLog, Select, Static, Switch

from tui.app import AppOptions, AvatarChatApp
from tui.screens.avatar_switch import AvatarSwitchScreen
from tui.screens.call import CallScreen
from tui.screens.home import HomeScreen
from tui.screens.settings import SettingsScreen
from tui.settings import Settings, load_settings
from tui.widgets.chat import ChatPane
from tui.widgets.picture import QrCode
from tui.widgets.stats import StatsPanel

from .conftest import ROOM
from .events import post
from .steps import wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.beside]
MakeApp = Callable[..., AvatarChatApp]
SIZE = (120, 40)


def _text(widget: Static | Label) -> str:
    return str(widget.render())


def _events(screen: CallScreen) -> list[str]:
    return [line.text for line in screen.query_one("#events", RichLog).lines]


async def _settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_home_shows_sources_avatars_and_creates_a_room(make_app: MakeApp) -> None:
    app = make_app(AppOptions(window=False), Settings(display_name="Ana"))
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        assert home.query_one("#name", Input).value == "Ana"
        assert home.query_one("#source", Select).value == "sample"
        options = home.query_one("#avatar-list", OptionList)
        assert options.option_count >= 1
        await pilot.press("ctrl+n")
        await pilot.pause()
        call = app.screen
        assert isinstance(call, CallScreen)
        req = call.request
        assert (req.room, req.created, req.name, req.source, req.window) == (
            ROOM,
            True,
            "Ana",
            "sample",
            False,
        )
        assert req.avatar == options.get_option_at_index(0).id
        assert req.lan is False  # a local relay other machines can reach is an explicit choice
        assert call.query_one("#invite").display
        assert ROOM in _text(call.query_one("#invite-code", Label))


@pytest.mark.parametrize(
    ("options", "settings"),
    [
        (AppOptions(window=False, lan=True), Settings()),
        (AppOptions(window=False), Settings(share_on_lan=True)),
    ],
)
async def test_sharing_the_local_relay_on_the_lan_is_chosen_by_flag_or_setting(
    make_app: MakeApp, options: AppOptions, settings: Settings
) -> None:
    app = make_app(options, settings)
    async with app.run_test(size=SIZE) as pilot:
        call = await _call(app, pilot)
        assert call.request.lan is True


async def test_avatar_picker_changes_avatar_and_variant(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        picker_list = home.query_one("#avatar-list", OptionList)
        if picker_list.option_count > 1:
            picker_list.focus()
            await pilot.press("down")
            await _settle(pilot)
            assert home._avatar == picker_list.get_option_at_index(1).id
        select = home.query_one("#variant-select", Select)
        variants = [value for _, value in select._options if isinstance(value, str)]
        if len(variants) > 1:
            select.value = variants[1]
            await _settle(pilot)
            assert home.avatar_variant == variants[1]
        preview = home.query_one("#avatar-preview")
        assert preview.image is not None  # type: ignore[attr-defined]


async def test_join_validates_and_accepts_a_pasted_command(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        home = app.screen
        code = home.query_one("#join-code", Input)
        code.value = "not-a-code"
        await pilot.click("#join")
        assert "not a room code" in _text(home.query_one("#home-error", Label))
        code.value = ROOM
        code.focus()
        await pilot.press("enter")
        assert "relay" in _text(home.query_one("#home-error", Label))
        assert app.screen is home
        code.value = f"avatarchat-tui --relay ws://10.0.0.9:7000 --join {ROOM}"
        await pilot.press("ctrl+o")
        await pilot.pause()
        call = app.screen
        assert isinstance(call, CallScreen)
        assert (call.request.relay, call.request.room, call.request.created) == (
            "ws://10.0.0.9:7000",
            ROOM,
            False,
        )
        assert not call.query_one("#invite").display


async def test_command_line_join_goes_straight_to_the_call(make_app: MakeApp) -> None:
    app = make_app(AppOptions(relay="ws://r:1", join=ROOM, name="민수", avatar="x"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, CallScreen), 30, "the call")
        assert isinstance(app.screen, CallScreen)
        assert app.screen.request.name == "민수"
        await pilot.press("f10")
        await _settle(pilot)
        assert isinstance(app.screen, HomeScreen)


async def test_settings_screen_saves_to_toml(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        screen.query_one("#set-name", Input).value = "Zoë 지민"
        screen.query_one("#set-relay", Input).value = "http://wrong"
        await pilot.click("#save")
        assert "ws://" in _text(screen.query_one("#settings-error", Label))
        screen.query_one("#set-relay", Input).value = "ws://relay.example:8765"
        screen.query_one("#set-smoothing", Input).value = "0.25"
        screen.query_one("#set-turn-url", Input).value = "turn:t.example:3478"
        # Below the fold since the language choice came first: scroll to it as a person would.
        screen.query_one("#set-mirror", Switch).scroll_visible(animate=False)
        await pilot.pause()
        await pilot.click("#set-mirror")
        screen.query_one("#set-lan", Switch).value = True
        await pilot.press("ctrl+s")
        await _settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        saved = load_settings()
        assert (saved.display_name, saved.relay, saved.smoothing, saved.mirror) == (
            "Zoë 지민",
            "ws://relay.example:8765",
            0.25,
            True,  # toggled from the default (off)
        )
        assert saved.turn_url == "turn:t.example:3478"
        assert saved.share_on_lan is True
        assert app.screen.query_one("#name", Input).value == "Zoë 지민"
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


async def _call(app: AvatarChatApp, pilot: Any) -> CallScreen:
    await _settle(pilot)
    await pilot.press("ctrl+n")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, CallScreen)
    return screen


def _post(screen: CallScreen, **event: Any) -> None:
    post(screen, **event)


async def test_a_joined_room_with_nobody_in_it_asks_and_back_goes_home(
    make_app: MakeApp,
) -> None:
    from tui.screens.no_room import NoRoomScreen

    app = make_app(AppOptions(window=False, join=ROOM, relay="ws://127.0.0.1:9", name="Jo"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, CallScreen), 30, "the call")
        await _settle(pilot)
        call = app.screen
        assert isinstance(call, CallScreen) and call.request.join_existing
        _post(call, child="peer", event="status", state="no_room", message="no one is here")
        await pilot.pause()
        assert isinstance(app.screen, NoRoomScreen)
        assert ROOM in _text(app.screen.query_one("#no-room-title", Label))
        await pilot.press("escape")
        await _settle(pilot)
        assert isinstance(app.screen, HomeScreen)


async def test_call_screen_follows_child_events(make_app: MakeApp) -> None:
    app = make_app(AppOptions(name="Alice"))
    async with app.run_test(size=SIZE) as pilot:
        call = await _call(app, pilot)
        _post(call, event="relay_started", child="call", share_url="ws://192.0.2.7:4000", lan=True)
        await pilot.pause()
        assert "ws://192.0.2.7:4000" in _text(call.query_one("#invite-command", Static))
        # The browser peer's join link on that relay, and the QR code of it (a phone opens it).
        link = f"http://192.0.2.7:4000/#room={call.request.room}"
        assert link in _text(call.query_one("#invite-web", Static))
        assert call.query_one("#invite-qr", QrCode).data == link
        _post(
            call,
            event="status",
            child="peer",
            state="connected",
            message="connected (host path), SAS 045 571",
        )
        _post(call, event="peer_hello", child="peer", name="민수", avatar_id="fox")
        _post(call, event="chat", child="peer", text="안녕하세요!", sender="민수")
        _post(
            call,
            event="stats",
            child="peer",
            send_hz=30.0,
            recv_hz=29.7,
            bytes_per_frame=91,
            rtt_ms=1.5,
            candidate_pair="host",
            sas="045 571",
        )
        _post(call, event="stats", child="tracking", fps=30.1)
        _post(
            call,
            event="stats",
            child="render",
            fps=59.9,
            e2e_present_ms={"p50": 48.2, "p99": 60.0},
        )
        await pilot.pause()
        call.tick()
        await pilot.pause()
        assert call.state == "connected"
        assert not call.query_one("#invite").display
        header = _text(call.query_one("#call-info", Static))
        assert "민수" in header and "host" in header and "045 571" in header
        chat = call.query_one(ChatPane).lines()
        assert "민수: 안녕하세요!" in chat and "* Connected" in chat
        panel = call.query_one(StatsPanel)
        assert _text(panel.query_one("#value-recv_hz", Label)) == "29.7 Hz"
        assert _text(panel.query_one("#value-latency", Label)) == "48.2 ms"
        assert _text(panel.query_one("#value-track_fps", Label)) == "30.1 fps"
        _post(call, event="peer_avatar", child="peer", ref="bolt", id="bolt", pending=False)
        await pilot.pause()
        assert "민수 (bolt)" in _text(call.query_one("#call-info", Static))
        # A crash: the supervisor's events, shown as a readable line, then the restart.
        _post(call, event="exited", child="tracking", returncode=-9, restarting=True)
        _post(
            call,
            event="error",
            child="tracking",
            fatal=False,
            message='Traceback (most recent call last):\n  File "x.py", line 1\n'
            "RuntimeError: camera unplugged",
        )
        await pilot.pause()
        call.tick()
        assert call.procs["tracking"] == "restarting"
        assert _text(panel.query_one("#value-track_fps", Label)) == "-"
        _post(call, event="started", child="tracking", pid=1, restarts=1)
        _post(call, event="ready", child="tracking")
        await pilot.pause()
        assert call.procs["tracking"] == "running"
        events = _events(call)
        assert "Face tracking: RuntimeError: camera unplugged" in events
        assert "Face tracking restarted" in events
        assert not any("Traceback" in line for line in events)
        # The other person hangs up.
        _post(call, event="peer_bye", child="peer", reason="hangup")
        _post(call, event="status", child="peer", state="waiting", message="peer hung up (hangup)")
        await pilot.pause()
        assert call.state == "peer_left"
        assert "Peer left" in _text(call.query_one("#call-state", Static))
        assert "* 민수 left the call" in call.query_one(ChatPane).lines()
        assert call.query_one("#invite").display  # creator: invite again


async def test_call_hotkeys_and_chat(make_app: MakeApp) -> None:
    app = make_app(AppOptions(name="Alice"))
    async with app.run_test(size=SIZE) as pilot:
        call = await _call(app, pilot)
        await pilot.press("f1")
        assert call.emotion == "happy"
        await pilot.press("f5")
        assert call.emotion == "neutral"
        await pilot.press("f6")
        assert call.paused
        assert "tracking paused" in _text(call.query_one("#call-state", Static))
        await pilot.press("f8")
        assert not call.self_view
        await pilot.press("f7")
        assert any("Recalibrating" in line for line in _events(call))
        await pilot.press("f12")
        assert not call.query_one("#invite").display
        # chat: typed, submitted, shown with our name (the input has focus on the call screen)
        await pilot.press("h", "i", "space")
        chat_input = call.query_one("#chat-input", Input)
        chat_input.value += "👋 안녕"  # pasted: keys beyond ASCII do not go through press()
        await pilot.press("enter")
        await pilot.pause()
        assert "you: hi 👋 안녕" in call.query_one(ChatPane).lines()  # ours: "you"
        assert call.query_one("#chat-input", Input).value == ""
        # switch avatar mid-call
        await pilot.press("f9")
        await _settle(pilot)
        assert isinstance(app.screen, AvatarSwitchScreen)
        await pilot.click("#use")
        await pilot.pause()
        assert app.screen is call
        assert any(line.startswith("Avatar: ") for line in _events(call))
        await pilot.press("f9")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is call
        await pilot.press("f10")
        await _settle(pilot)
        assert isinstance(app.screen, HomeScreen)


async def test_wide_characters_wrap_without_losing_text(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(80, 30)) as pilot:
        call = await _call(app, pilot)
        text = "한국어 메시지입니다. " * 8 + "끝"
        _post(call, event="chat", child="peer", text=text, sender="지민")
        await pilot.pause()
        await pilot.pause()
        line = call.query(".chat-line").last()
        width = line.size.width
        assert line.size.height > 1
        rows = [line.render_line(y).text for y in range(line.size.height)]
        from rich.cells import cell_len

        assert all(cell_len(r.rstrip()) <= width for r in rows)
        assert "".join(r.strip() for r in rows).replace(" ", "") == (
            f"지민: {text}".replace(" ", "")
        )


async def test_ctrl_c_quits_from_home(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_value == 0


async def test_command_line_source_not_in_the_scan_is_kept(
    make_app: MakeApp, tmp_path: Path
) -> None:
    clip = str(tmp_path / "mine.mp4")  # a camera that is not there is refused (test_failures)
    Path(clip).write_bytes(b"")
    app = make_app(AppOptions(source=clip))
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        assert app.screen.query_one("#source", Select).value == clip
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, CallScreen)
        assert app.screen.request.source == clip


async def test_closing_the_switcher_while_it_loads_is_safe(make_app: MakeApp) -> None:
    """A preview finishing after its picker is gone must not crash the app mid-call."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        call = await _call(app, pilot)
        for _ in range(3):
            await pilot.press("f9")
            await pilot.press("escape")
        await _settle(pilot)
        assert app.screen is call
        await pilot.press("f9")
        await pilot.press("enter")  # picks the highlighted avatar at once
        await _settle(pilot)
        assert app.screen is call


async def test_peer_text_cannot_drive_the_terminal(make_app: MakeApp) -> None:
    """Issue 15: control characters, escape sequences, bidi overrides and Rich markup from the
    peer are shown inert (control characters as U+FFFD), and the header stays one line."""
    app = make_app(AppOptions(name="Alice"))
    async with app.run_test(size=SIZE) as pilot:
        call = await _call(app, pilot)
        _post(call, event="peer_hello", child="peer", name="Eve\nEvil", avatar_id="fox\x1b[2J")
        _post(
            call,
            event="chat",
            child="peer",
            text="\x1b]52;c;ZXZpbA==\x07 abc\u202edcba [bold]x[/] 안녕 👋",
            sender="Eve\x1b[31m",
        )
        _post(call, event="peer_bye", child="peer", reason="bye\x1b[2J")
        _post(call, event="status", child="peer", state="waiting", message="hung up\x9b2J\nx")
        _post(call, event="error", child="relay", fatal=True, message="[bold]relay\x1b[5m[/]")
        await pilot.pause()
        await pilot.pause()
        header = _text(call.query_one("#call-info", Static)) + _text(
            call.query_one("#call-state", Static)
        )
        assert "Eve\ufffdEvil" in header and "fox\ufffd[2J" in header
        chat = call.query_one(ChatPane).lines()
        shown = [line.render_line(0).text for line in call.query(".chat-line")]
        notes = [n.message for n in app._notifications]
        for text in [header, *chat, *shown, *_events(call), *notes]:
            assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
            assert "\u202e" not in text and "\n" not in text
        assert any("[bold]x[/] 안녕 👋" in line for line in chat)
        assert any("[bold]x[/]" in line for line in shown)  # literal brackets, not bold
        assert "Eve\ufffd[31m: \ufffd]52;c;ZXZpbA==\ufffd abc\ufffddcba" in chat[-2]
        assert "* Eve\ufffdEvil is here (avatar fox\ufffd[2J)" in chat
        assert any("[bold]relay\ufffd[5m[/]" in n for n in notes), notes
