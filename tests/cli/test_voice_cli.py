"""``avatarchat call`` with voice (issue 14), run as a user runs it: a subprocess each.

The flags reach the networking process (a WAV sent as the microphone is written at the other
side), the status lines and the stats JSON carry the networking process's ``voice`` figures
under the contract's keys, ``--no-voice`` says "voice off", and a WAV that is not there is
refused before anything starts."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from protocol.signaling import new_room_code

AVATARCHAT = [sys.executable, "-m", "cli"]
#: The ``voice`` map's keys every front-end reads (the contract of issue 14).
VOICE_KEYS = {
    "on", "muted", "deafened", "mic", "speaker", "in_level", "speaking", "peer_speaking",
    "audio_delay_ms", "jitter_buffer_ms", "loss_pct", "concealed_pct",
}  # fmt: skip


def _speechlike(path: Path, seconds: float = 4.0) -> Path:
    """A 220 Hz voice-like tone, syllables at 4 Hz (loud enough for any level meter)."""
    rate = 48000
    t = np.arange(int(rate * seconds)) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * math.pi * 4 * t)
    pcm = (0.3 * 32767 * envelope * np.sin(2 * math.pi * 220 * t)).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def test_help_names_the_voice_flags() -> None:
    out = subprocess.run(
        [*AVATARCHAT, "call", "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    for flag in ("--no-voice", "--mic SPEC", "--speaker SPEC", "--no-echo-cancel", "--muted"):
        assert flag in out, flag
    words = " ".join(out.split())
    assert "file:PATH" in words and "no sound device the call runs silent" in words


def test_a_missing_microphone_wav_is_refused_before_anything_starts(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = subprocess.run(
        [
            *AVATARCHAT,
            "call",
            "--relay",
            "ws://127.0.0.1:9",
            "--source",
            "synthetic",
            "--mic",
            f"file:{tmp_path / 'missing.wav'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc
    assert f"no such WAV file for the microphone: {tmp_path / 'missing.wav'}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - started < 30  # no child was started and waited for


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_two_calls_carry_voice_figures_in_lines_and_stats_json(
    relay_url: str, tmp_path: Path
) -> None:
    room = new_room_code()
    speech = _speechlike(tmp_path / "speech.wav")
    heard = tmp_path / "heard.wav"
    sides = {
        "alice": ["--mic", f"file:{speech}", "--speaker", "none"],
        "bob": ["--mic", "silence", "--speaker", f"file:{heard}", "--no-echo-cancel"],
    }
    procs = {}
    for name, voice in sides.items():
        cmd = [
            *AVATARCHAT, "call", "--relay", relay_url, "--room", room, "--source", "synthetic",
            "--name", name, "--duration", "12", "--stats-json", str(tmp_path / f"{name}.json"),
            *voice,
        ]  # fmt: skip
        procs[name] = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    outputs = {name: p.communicate(timeout=120) for name, p in procs.items()}
    for name, (out, err) in outputs.items():
        assert procs[name].returncode == 0, (name, out[-2000:], err[-2000:])
        lines = [line for line in out.splitlines() if "  voice " in line]
        assert lines, out[-2000:]
        assert "delay" in lines[-1] and "buf" in lines[-1] and "loss" in lines[-1]
        summary = json.loads(out.split("summary: ", 1)[1].splitlines()[0])
        assert set(summary["voice"]) >= VOICE_KEYS, summary
        doc = json.loads((tmp_path / f"{name}.json").read_text())
        voice = doc["latest"]["voice"]  # the last stats event, as the front-ends get it
        assert set(voice) >= VOICE_KEYS and voice["on"] is True
    # Alice's WAV went out as her microphone and was written at Bob's speaker.
    with wave.open(str(heard)) as w:
        assert w.getframerate() == 48000 and w.getnchannels() == 1
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert len(pcm) > 48000 and float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) > 300


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_no_voice_is_said_on_both_sides(relay_url: str, tmp_path: Path) -> None:
    """carol calls with --no-voice, dave with voice: carol's line says "voice off", dave's
    that the peer has voice off (the SDPs agreed on no audio), and the call itself works."""
    room = new_room_code()
    flags = {"carol": ["--no-voice"], "dave": ["--mic", "silence", "--speaker", "none"]}
    procs = {
        name: subprocess.Popen(
            [
                *AVATARCHAT,
                "call",
                "--relay",
                relay_url,
                "--room",
                room,
                "--source",
                "synthetic",
                "--duration",
                "8",
                "--name",
                name,
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, extra in flags.items()
    }
    outs = {name: proc.communicate(timeout=120) for name, proc in procs.items()}
    for name, (out, err) in outs.items():
        assert procs[name].returncode == 0, (name, out[-2000:], err[-2000:])
    carol, dave = outs["carol"][0], outs["dave"][0]
    assert "voice off" in carol and "  voice delay" not in carol
    connected = [line for line in dave.splitlines() if line.startswith("[connected]")]
    assert connected and "(the peer has voice off)" in connected[-1], dave[-2000:]


def test_the_status_line_names_a_lip_sync_hold_only_while_there_is_one() -> None:
    from cli.cmd_call import format_voice

    voice = {"on": True, "audio_delay_ms": 128.0, "jitter_buffer_ms": 40.0, "loss_pct": 0.5}
    assert "hold" not in format_voice({**voice, "lipsync_hold_ms": 0.0})
    line = format_voice({**voice, "lipsync_hold_ms": 80.0})
    assert "delay 128 ms buf 40 ms lip-sync hold 80 ms loss 0.5%" in line
