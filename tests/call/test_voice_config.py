"""Voice in ``call/`` (issue 14): the config's checks and the networking process's flags,
mute/deafen as commands, and both replayed to a restarted networking process.

The flags are parsed by the networking process's own argument parser, so a renamed flag on
either side fails here rather than as a child that exits at start."""

from __future__ import annotations

import argparse
import wave
from pathlib import Path

import pytest

from call import Call, CallConfig, CallConfigError
from call.audio import AudioDevices, check_mic, check_speaker, file_path, list_audio_devices
from call.config import SAMPLE_CLIP
from peer.__main__ import build_parser
from protocol.commands import Command, SetDeafen, SetMute
from protocol.events import Ready

ROOM = "voiceRoom0123456789abc"
DEVICES = AudioDevices(inputs=["USB Headset Mic", "Built-in Microphone"], outputs=["HDMI 1"])


def _wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(b"\0\0" * 480)
    return path


def _peer_args(cfg: CallConfig) -> argparse.Namespace:
    argv = cfg.peer_argv("ws://127.0.0.1:1", "ringA", "ringB")
    return build_parser().parse_args(argv[argv.index("--relay") :])


def test_voice_is_on_by_default_and_the_peer_gets_its_defaults() -> None:
    args = _peer_args(CallConfig(room=ROOM))
    assert (args.voice, args.mic, args.speaker, args.echo_cancel) == (
        True,
        "default",
        "default",
        True,
    )
    assert not args.muted and not args.deafened


def test_every_voice_choice_reaches_the_peer_flags(tmp_path: Path) -> None:
    wav = _wav(tmp_path / "speech.wav")
    cfg = CallConfig(
        room=ROOM,
        mic=f"file:{wav}",
        speaker=f"file:{tmp_path / 'heard.wav'}",
        echo_cancel=False,
        muted=True,
        deafened=True,
    )
    cfg.check()
    args = _peer_args(cfg)
    assert args.mic == f"file:{wav}" and args.speaker == f"file:{tmp_path / 'heard.wav'}"
    assert not args.echo_cancel and args.muted and args.deafened
    assert _peer_args(CallConfig(room=ROOM, voice=False)).voice is False


def test_mic_clip_names_the_clip_the_tracker_plays(tmp_path: Path) -> None:
    args = _peer_args(CallConfig(room=ROOM, mic="clip"))
    assert args.mic == "clip" and args.clip == str(SAMPLE_CLIP)
    assert SAMPLE_CLIP.exists()
    clip = tmp_path / "talk.mp4"
    clip.write_bytes(b"")
    assert _peer_args(CallConfig(room=ROOM, source=str(clip), mic="clip")).clip == str(clip)
    with pytest.raises(CallConfigError, match="clip as the source"):
        CallConfig(room=ROOM, source="synthetic", mic="clip").check()


def test_a_missing_wav_or_folder_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(CallConfigError, match="no such WAV file"):
        CallConfig(room=ROOM, mic=f"file:{tmp_path / 'nope.wav'}").check()
    with pytest.raises(CallConfigError, match="no folder"):
        CallConfig(room=ROOM, speaker=f"file:{tmp_path / 'no' / 'out.wav'}").check()
    with pytest.raises(CallConfigError, match="needs a path"):
        CallConfig(room=ROOM, mic="file:").check()
    # Without voice nothing about sound is checked: the call is text and avatar only.
    CallConfig(room=ROOM, voice=False, mic=f"file:{tmp_path / 'nope.wav'}").check()
    # ",once" plays the file once (peer.voice.sources): the path is what is checked.
    wav = _wav(tmp_path / "once.wav")
    assert file_path(f"file:{wav},once") == str(wav)
    CallConfig(room=ROOM, mic=f"file:{wav},once").check()


def test_device_names_are_checked_when_there_are_devices() -> None:
    assert check_mic("usb headset", DEVICES) == ""
    assert "no microphone named 'Blue Yeti'" in check_mic("Blue Yeti", DEVICES)
    assert "USB Headset Mic" in check_mic("Blue Yeti", DEVICES)  # the choices are named
    assert check_speaker("hdmi", DEVICES) == ""
    assert "no speaker named" in check_speaker("USB Headset Mic", DEVICES)
    # No sound device at all: not an error, the call runs silent and says so.
    none = AudioDevices(error="no sound device here")
    assert check_mic("Blue Yeti", none) == "" and check_speaker("HDMI", none) == ""


def test_this_hosts_device_list_never_raises() -> None:
    devices = list_audio_devices()
    assert devices.any or devices.error  # a list, or why there is none


def test_mute_and_deafen_are_commands_replayed_after_a_restart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[tuple[str, Command]] = []
    c = Call(CallConfig(room=ROOM, relay="ws://127.0.0.1:1"))
    monkeypatch.setattr(c, "send", lambda child, cmd: sent.append((child, cmd)) or True)
    assert c.set_mute(True) and c.set_deafen(True)
    assert sent == [("peer", SetMute(muted=True)), ("peer", SetDeafen(deafened=True))]
    sent.clear()
    c._route("peer", Ready(info={}))  # a restarted networking process: muted, as it was left
    assert ("peer", SetMute(muted=True)) in sent and ("peer", SetDeafen(deafened=True)) in sent
    c.set_mute(False)
    sent.clear()
    c._route("peer", Ready(info={}))
    assert ("peer", SetMute(muted=False)) in sent


def test_a_call_without_voice_sends_no_voice_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, Command]] = []
    c = Call(CallConfig(room=ROOM, relay="ws://127.0.0.1:1", voice=False))
    monkeypatch.setattr(c, "send", lambda child, cmd: sent.append((child, cmd)) or True)
    assert not c.set_mute(True)
    c._route("peer", Ready(info={}))
    assert not any(isinstance(cmd, SetMute | SetDeafen) for _child, cmd in sent)
