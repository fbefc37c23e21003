"""Voice in the TUI with the real processes (issue 14), one side: a WAV as the microphone
(chosen in Settings) lights the level meter and the "You" indicator from the networking
process's own ``voice_level``; ^l mutes it there (its ``voice`` stats say muted, and speaking
stops); a networking process killed mid-call comes back still muted (replayed), never
unmuted behind the user's back."""

from __future__ import annotations

import math
import os
import signal
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tui.app import AppOptions, AvatarChatApp
from tui.screens.call import CallScreen
from tui.settings import Settings
from tui.widgets.voice import LevelMeter, VoiceBar

from .conftest import SOURCES
from .steps import wait_until
from .test_call_real import START_TIMEOUT_S

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


def _speech(path: Path) -> Path:
    rate = 48000
    t = np.arange(rate * 2) / rate
    # A steady tone: "speaking" all along.
    pcm = (0.4 * 32767 * np.sin(2 * math.pi * 220 * t)).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def _voice(call: CallScreen) -> dict[str, Any]:
    return call.stats.voice


async def test_mute_reaches_the_real_networking_process_and_survives_its_restart(
    tmp_path: Path,
) -> None:
    wav = _speech(tmp_path / "speech.wav")
    app = AvatarChatApp(
        AppOptions(create=True, window=False, source="synthetic", name="Tester"),
        Settings(mic=f"file:{wav}", speaker="none"),
        sources=SOURCES,
        persist_settings=False,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, CallScreen), 10, "the call screen")
        call = app.screen
        assert isinstance(call, CallScreen)
        bar, meter = call.query_one(VoiceBar), call.query_one(LevelMeter)
        await wait_until(pilot, lambda: bar.speaking, START_TIMEOUT_S, "our voice on the meter")
        assert meter.cells() > 0 and not call.muted
        # The networking process's own stats name the file it reads.
        await wait_until(pilot, lambda: "mic" in _voice(call), 10, "voice stats")
        assert _voice(call)["mic"].startswith("file"), _voice(call)
        await pilot.press("ctrl+l")
        assert call.muted
        await wait_until(pilot, lambda: _voice(call).get("muted") is True, 10, "muted there")
        await wait_until(pilot, lambda: not bar.speaking, 5, "no 'speaking' while muted")
        assert meter.cells() > 0  # the microphone is still read: the meter shows it works
        # The networking process dies; the supervisor restarts it and the call replays mute.
        controller = call.controller
        assert controller is not None and controller.peer is not None
        old_pid = controller.peer.pid
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)

        def restarted_and_reported() -> bool:
            peer = controller.peer
            return (
                peer is not None
                and peer.pid not in (None, old_pid)
                and call.procs.get("peer") == "running"
                and "muted" in _voice(call)
            )

        await wait_until(pilot, restarted_and_reported, START_TIMEOUT_S, "a restarted peer")
        await wait_until(pilot, lambda: _voice(call).get("muted") is True, 10, "still muted")
        assert "MUTED" in str(call.query_one("#voice-state").render())
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: not isinstance(app.screen, CallScreen), 30, "hang-up")
