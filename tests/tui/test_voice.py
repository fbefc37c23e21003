"""Voice in the TUI (issue 14), pressed and read as a person would: the mute and deafen keys
change the voice line at once and send the command, the level meter follows ``voice_level``
and falls silent when it stops, the voice figures read "-" until they are known, a call
without voice says so, the settings list the sound devices (or say there are none), and all of
it in Korean at 80x24."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

import pytest
from textual.widgets import Input, Label, Select, Static, Switch

import tui.screens.settings as settings_screen
from call import AudioDevices, Call
from tui.app import AppOptions, AvatarChatApp
from tui.screens.call import CallScreen
from tui.settings import Settings, load_settings
from tui.widgets.stats import StatsPanel
from tui.widgets.voice import LevelMeter, VoiceBar

from .events import post
from .steps import open_call, open_settings, settle
from .test_keys import FakeCall

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

MakeApp = Callable[..., AvatarChatApp]
SIZES = [(80, 24), (120, 40)]
#: The ``voice`` map the networking process reports (the contract of issue 14).
VOICE = {
    "on": True,
    "muted": False,
    "deafened": False,
    "mic": "USB Headset Mic",
    "speaker": "HDMI 1",
    "in_level": 0.4,
    "speaking": False,
    "peer_speaking": True,
    "audio_delay_ms": 48.4,
    "jitter_buffer_ms": 40.0,
    "loss_pct": 1.5,
    "concealed_pct": 1.0,
}


async def _call(app: AvatarChatApp, pilot: Any) -> CallScreen:
    screen = await open_call(pilot)
    assert isinstance(screen.focused, Input)  # typing in the chat: the keys must still work
    return screen


def _text(screen: CallScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def _connect(screen: CallScreen) -> None:
    post(screen, event="status", child="peer", state="connected", message="connected")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.asyncio
async def test_mute_and_deafen_keys_show_at_once_and_send_the_command(
    make_app: MakeApp, size: tuple[int, int]
) -> None:
    fake = FakeCall()
    app = make_app(AppOptions(name="Alice"), controller_factory=lambda *a: cast(Call, fake))
    async with app.run_test(size=size) as pilot:
        call = await _call(app, pilot)
        assert "mic on" in _text(call, "#voice-state") and "^l mute" in _text(call, "#voice-keys")
        await pilot.press("ctrl+l")
        assert call.muted and ("set_mute", True) in fake.calls
        assert "MUTED" in _text(call, "#voice-state")
        assert "^l unmute" in _text(call, "#voice-keys")
        assert call.query_one(LevelMeter).muted
        await pilot.press("f11")  # the F-key does the same
        assert not call.muted and ("set_mute", False) in fake.calls
        assert "mic on" in _text(call, "#voice-state")
        await pilot.press("ctrl+backslash")
        assert call.deafened and ("set_deafen", True) in fake.calls
        assert "deafened" in _text(call, "#voice-peer")
        await pilot.press("ctrl+backslash")
        assert not call.deafened and ("set_deafen", False) in fake.calls
        assert "deafened" not in _text(call, "#voice-peer")
        # None of it was typed into the chat.
        assert call.query_one("#chat-input", Input).value == ""


@pytest.mark.asyncio
async def test_the_level_meter_and_speaking_indicators_follow_voice_level(
    make_app: MakeApp,
) -> None:
    app = make_app(AppOptions(name="Alice"))
    async with app.run_test(size=(80, 24)) as pilot:
        call = await _call(app, pilot)
        meter = call.query_one(LevelMeter)
        width = meter.size.width - 2
        assert meter.cells() == 0 and "█" not in str(meter.render())
        post(call, event="voice_level", child="peer", in_level=0.5, speaking=True)
        await pilot.pause()
        assert meter.cells() == round(0.5 * width)
        assert str(meter.render()).count("█") == round(0.5 * width)
        assert _text(call, "#voice-you").startswith("●")
        assert _text(call, "#voice-peer").startswith("○")
        post(call, event="voice_level", child="peer", in_level=1.0, peer_speaking=True)
        await pilot.pause()
        assert str(meter.render()).count("█") == width
        assert _text(call, "#voice-you").startswith("○")
        assert _text(call, "#voice-peer").startswith("●")
        # No voice_level for over a second: silence, not the last level frozen on screen.
        call.query_one(VoiceBar).tick(time.monotonic() + 5)
        await pilot.pause()
        assert meter.cells() == 0 and _text(call, "#voice-peer").startswith("○")


@pytest.mark.asyncio
async def test_voice_figures_read_dash_until_known(make_app: MakeApp) -> None:
    app = make_app(AppOptions(name="Alice"))
    async with app.run_test(size=(120, 40)) as pilot:
        call = await _call(app, pilot)
        panel = call.query_one(StatsPanel)
        assert not call.query_one("#row-audio_delay").display  # no peer: no voice rows
        _connect(call)
        await pilot.pause()
        assert call.query_one("#row-audio_delay").display
        post(call, event="stats", child="peer", send_hz=30.0)  # an older peer: no voice map
        await pilot.pause()
        call.tick()
        for key in ("audio_delay", "jitter_buffer", "audio_loss"):
            assert str(panel.query_one(f"#value-{key}", Label).render()) == "-"
        post(call, event="stats", child="peer", send_hz=30.0, voice=VOICE)
        await pilot.pause()
        call.tick()
        values = {
            k: str(panel.query_one(f"#value-{k}", Label).render())
            for k in ("audio_delay", "jitter_buffer", "audio_loss")
        }
        assert values == {"audio_delay": "48 ms", "jitter_buffer": "40 ms", "audio_loss": "1.5 %"}
        # The peer process says this call has no voice: the figures are not shown as if.
        post(call, event="stats", child="peer", send_hz=30.0, voice={**VOICE, "on": False})
        await pilot.pause()
        call.tick()
        assert str(panel.query_one("#value-audio_delay", Label).render()) == "-"
        assert "off" in _text(call, "#voice-state")


@pytest.mark.asyncio
async def test_the_lip_sync_hold_shows_only_while_the_voice_waits(make_app: MakeApp) -> None:
    """The voice held back for a slower avatar (call.lipsync): its own row, part of the audio
    delay (which stays the whole mouth-to-ear figure); no row while there is no hold."""
    app = make_app(AppOptions(name="Alice"))
    async with app.run_test(size=(120, 40)) as pilot:
        call = await _call(app, pilot)
        panel = call.query_one(StatsPanel)
        _connect(call)
        post(call, event="stats", child="peer", send_hz=30.0, voice=VOICE)
        await pilot.pause()
        call.tick()
        assert call.query_one("#row-audio_delay").display
        assert not call.query_one("#row-lipsync_hold").display
        held = {**VOICE, "audio_delay_ms": 128.4, "lipsync_hold_ms": 80.0}
        post(call, event="stats", child="peer", send_hz=30.0, voice=held)
        await pilot.pause()
        call.tick()
        assert call.query_one("#row-lipsync_hold").display
        values = {
            k: str(panel.query_one(f"#value-{k}", Label).render())
            for k in ("audio_delay", "lipsync_hold", "jitter_buffer")
        }
        assert values == {
            "audio_delay": "128 ms",
            "lipsync_hold": "80 ms",
            "jitter_buffer": "40 ms",
        }
        released = {**VOICE, "lipsync_hold_ms": 0}
        post(call, event="stats", child="peer", send_hz=30.0, voice=released)
        await pilot.pause()
        call.tick()
        assert not call.query_one("#row-lipsync_hold").display


@pytest.mark.asyncio
async def test_no_sound_device_is_said_on_the_voice_line(make_app: MakeApp) -> None:
    app = make_app(AppOptions(name="Alice"))
    async with app.run_test(size=(120, 40)) as pilot:
        call = await _call(app, pilot)
        # What the networking process says without PortAudio (peer.voice.sources).
        why = "none (no sound system (PortAudio library not found))"
        post(call, event="stats", child="peer", voice={**VOICE, "mic": why, "speaker": why})
        await pilot.pause()
        assert _text(call, "#voice-keys").count("no sound device") == 1
        assert "mic on" in _text(call, "#voice-state")
        assert why in str(call.query_one(VoiceBar).tooltip)  # the whole reason, on hover
        # A device in use is no problem: nothing is added to the line.
        post(call, event="stats", child="peer", voice=VOICE)
        await pilot.pause()
        assert "no sound" not in _text(call, "#voice-keys")
        # The peer called with voice off: the SDPs agreed on no audio. Said, not left silent.
        no_audio = {
            **VOICE,
            "agreed": False,
            "sdp": {"local": ["application"], "remote": ["application"]},
        }
        post(call, event="stats", child="peer", voice=no_audio)
        await pilot.pause()
        assert "the peer's voice is off" in _text(call, "#voice-keys")


@pytest.mark.asyncio
async def test_a_call_without_voice_says_so_and_sends_nothing(make_app: MakeApp) -> None:
    fake = FakeCall()
    app = make_app(
        AppOptions(name="Alice"),
        Settings(voice=False),
        controller_factory=lambda *a: cast(Call, fake),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        call = await _call(app, pilot)
        assert not call.request.voice
        assert "off (text and avatar only)" in _text(call, "#voice-state")
        assert not call.query_one(LevelMeter).display
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert not call.muted and not any(name == "set_mute" for name, _a in fake.calls)
        assert any("no voice" in n.message for n in app._notifications)


@pytest.mark.asyncio
async def test_settings_list_sound_devices_and_save_the_voice_choices(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    devices = AudioDevices(inputs=["USB Headset Mic", "Mic [front]"], outputs=["HDMI 1"])
    monkeypatch.setattr(settings_screen, "list_audio_devices", lambda: devices)
    app = make_app(persist_settings=True)
    async with app.run_test(size=(100, 36)) as pilot:
        screen = await open_settings(pilot)
        mic: Select[str] = screen.query_one("#set-mic", Select)
        values = [value for _label, value in mic._options]
        assert values[-2:] == ["USB Headset Mic", "Mic [front]"]  # a bracket is no markup
        assert "2 microphone(s), 1 speaker(s)" in str(screen.query_one("#set-audio-note").render())
        mic.value = "Mic [front]"
        screen.query_one("#set-speaker", Select).value = "none"
        screen.query_one("#set-echo", Switch).value = False
        screen.query_one("#set-voice", Switch).value = False
        await pilot.press("ctrl+s")
        await settle(pilot)
        saved = load_settings()
        assert (saved.mic, saved.speaker, saved.echo_cancel, saved.voice) == (
            "Mic [front]",
            "none",
            False,
            False,
        )


@pytest.mark.asyncio
async def test_settings_say_plainly_when_this_host_has_no_sound(make_app: MakeApp) -> None:
    """The real device list of this machine (no PortAudio, or no device): said, not hidden."""
    app = make_app(settings=Settings(mic="Gone Mic"))
    async with app.run_test(size=(100, 36)) as pilot:
        screen = await open_settings(pilot)
        assert screen.audio is not None
        if screen.audio.any:
            pytest.skip("this machine has sound devices")
        note = str(screen.query_one("#set-audio-note").render())
        assert note.startswith("No sound device here") and "without sound" in note
        # The saved device is kept (it may be plugged in again for the call), and said missing.
        mic: Select[str] = screen.query_one("#set-mic", Select)
        assert mic.value == "Gone Mic"
        assert any("not found" in str(label) for label, _v in mic._options)


@pytest.mark.asyncio
async def test_the_voice_line_in_korean_at_80x24(make_app: MakeApp) -> None:
    fake = FakeCall()
    app = make_app(
        AppOptions(name="Alice"),
        Settings(language="ko"),
        controller_factory=lambda *a: cast(Call, fake),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        call = await _call(app, pilot)
        _connect(call)
        post(call, event="stats", child="peer", voice=VOICE)
        await pilot.press("ctrl+l")
        await pilot.pause()
        line = app.screen._compositor.render_strips()[call.query_one(VoiceBar).region.y].text
        assert "음성" in line and "음소거됨" in line and "^l 음소거 해제" in line, line
        assert "Voice" not in line and "mute" not in line
        call.tick()
        panel = call.query_one(StatsPanel)
        label = panel.query_one("#row-audio_delay Label", Label)
        assert str(label.render()) == "음성 지연"


def test_the_voice_settings_reach_the_networking_process_flags(tmp_path: Any) -> None:
    """What Settings saved is what the networking process is started with (tui.invite)."""
    from call import CallConfig
    from peer.__main__ import build_parser
    from tui.invite import start_call

    wav = tmp_path / "in.wav"
    settings = Settings(mic=f"file:{wav}", speaker="none", echo_cancel=False)
    call = start_call(CallConfig(room="voiceRoom0123456789abc"), settings, lambda *_: None)
    argv = call.config.peer_argv("ws://127.0.0.1:1", "a", "b")
    args = build_parser().parse_args(argv[argv.index("--relay") :])
    assert (args.voice, args.mic, args.speaker, args.echo_cancel) == (
        True,
        f"file:{wav}",
        "none",
        False,
    )
    off = start_call(CallConfig(room="voiceRoom0123456789abc"), Settings(voice=False), print)
    assert "--no-voice" in off.config.peer_argv("ws://127.0.0.1:1", "a", "b")
