"""The mouth from the voice through a real call: two real calls (tracker + networking
processes) on loopback through the real relay; espeak-ng speech is one side's microphone and
that side pauses its tracking (no face): the other side's ring receives VOICE_MOUTH frames
whose jaw opens and closes with the speech, and un-pausing brings the face back."""

from __future__ import annotations

from pathlib import Path

import pytest

from netlab.voice_call import espeak_wav
from protocol.frame import FrameFlags, ParamFrame
from protocol.signaling import new_room_code

from .helpers import RingTap, call_pair, connected, relay_running

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]


def jaws(tap: RingTap, voice: bool) -> list[float]:
    """jawOpen of the frames received so far that carry (or not) the voice mouth."""
    out = []
    for payload in tap.frames.values():
        f = ParamFrame.decode(payload)
        if bool(f.flags & FrameFlags.VOICE_MOUTH) == voice:
            out.append(f.weight("jawOpen"))
    return out


@pytest.mark.timeout(120)
async def test_a_paused_face_speaks_with_the_voice_mouth(tmp_path: Path) -> None:
    speech = espeak_wav(tmp_path / "speech.wav")
    if speech is None:
        pytest.skip("espeak-ng is not installed (scripts/system-deps.sh installs it)")
    async with (
        relay_running() as relay,
        call_pair(
            relay.url,
            new_room_code(),
            per_side=(
                {"mic": f"file:{speech}", "speaker": "none"},
                {"mic": "silence", "speaker": "none"},
            ),
        ) as (alice, bob),
    ):
        await connected(alice, bob)
        assert bob.session.remote is not None
        tap = RingTap(bob.session.remote.name)
        try:
            alice.session.pause(True)
            await bob.log.wait_for(lambda: len(jaws(tap, True)) >= 90, 30, "voice mouth frames")
            moving = jaws(tap, True)
            # The jaw follows the syllables: wide open on vowels, shut in the pauses.
            assert max(moving) > 0.4 and min(moving) < 0.05
            voice = alice.stats().get("voice") or {}
            assert voice.get("mouth_frames", 0) > 0
            assert voice.get("echo_cancel", "").startswith("off")  # a file has no echo path

            alice.session.pause(False)
            before = len(jaws(tap, False))
            await bob.log.wait_for(
                lambda: len(jaws(tap, False)) >= before + 30, 30, "tracked frames again"
            )
        finally:
            tap.close()
