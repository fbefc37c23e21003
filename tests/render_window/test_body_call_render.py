"""Through a real call: the sender's tracked arms reach the receiver's render, and ease back to
rest when the sender's stream stops.

Real relay, real tracking (alice tracks ../shared/testdata/bodies/s29.mp4 with the body on) and
networking processes (aiortc), and the receiver's real render window on Xvfb reading bob's
incoming ring, exactly as ``avatarchat call`` wires it. Checked on pixels like the face tests.

s29 holds both hands in front of the chest; on the built-in busts (shoulders near the bottom of
the canvas) that turns the upper arms well away from the torso while forearms and hands stay
below the picture, so the test asserts what the picture shows: the arms' band moves with the
sender and comes back to rest.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest

from avatars.compose import compose
from avatars.pack import load_pack
from protocol.frame import ParamFrame
from protocol.ring import ShmRing
from protocol.signaling import new_room_code
from render_window.params import frame_to_params
from tests.peer.helpers import RingTap, call_pair, connected, relay_running

from .harness import Image_, Window, changed

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]

S29 = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "bodies" / "s29.mp4"
WIDTH, HEIGHT = 640, 360
AVATAR = "aria"
WINDOW_ARGS = ("--no-self-view", "--no-breath", "--width", str(WIDTH), "--height", str(HEIGHT))
#: Rows of the window below the chin: shoulders, upper arms, torso.
BAND = slice(int(HEIGHT * 0.78), HEIGHT)


def _arm_params(frame: ParamFrame) -> dict[str, float]:
    p = frame_to_params(frame)
    return {k: v for k, v in p.items() if "Arm" in k or "forearm" in k or k.startswith("hand")}


def _distance(img: Image_, ref: Image_, box: tuple[int, int, int, int], shift: int = 4) -> float:
    """Mean abs difference inside ``box``, minimised over translations of up to ``shift`` px
    (every pixel step: idle breathing moves the torso by one or two)."""
    x0, y0, x1, y1 = box
    target = ref[y0:y1, x0 + shift : x1 - shift].astype(np.int16)
    best = float("inf")
    for dy in range(-shift, shift + 1):
        for dx in range(-shift, shift + 1):
            ya, yb = max(0, y0 + dy), min(img.shape[0], y1 + dy)
            cand = img[ya:yb, x0 + shift + dx : x1 - shift + dx].astype(np.int16)
            t = target[ya - (y0 + dy) : ya - (y0 + dy) + (yb - ya)]
            best = min(best, float(np.abs(cand - t).mean()))
    return best


def _rest_picture(display: str, tmp: Path) -> Image_:
    """The same window with nobody behind it (an empty ring): the avatar at rest."""
    tmp.mkdir()
    ring = ShmRing.create("rest")
    win = Window(display, ["--remote-ring", ring.name, "--avatar", AVATAR, *WINDOW_ARGS], tmp)
    try:
        win.wait("ready")
        win.cmd("overlay", state="none")  # no banner: the pictures differ by the avatar only
        win.wait("overlay", lambda e: not e.get("state"))
        return win.shot()
    finally:
        win.close()
        ring.close()


@pytest.mark.timeout(240)
async def test_senders_arms_move_the_receivers_avatar_and_rest_when_the_stream_stops(
    xvfb_display: str, tmp_path: Path
) -> None:
    if not S29.is_file():
        pytest.skip("needs ../shared/testdata/bodies/s29.mp4 (a person with hands in view)")
    rest = await asyncio.to_thread(_rest_picture, xvfb_display, tmp_path / "rest")
    async with (
        relay_running() as relay,
        call_pair(
            relay.url,
            new_room_code(),
            sources=(str(S29), "sample"),
            per_side=({"body": True}, {"body": False}),
            voice=False,
        ) as (a, b),
    ):
        assert b.session.remote is not None
        win = Window(
            xvfb_display,
            ["--remote-ring", b.session.remote.name, "--avatar", AVATAR, *WINDOW_ARGS],
            tmp_path,
        )
        got = RingTap(b.session.remote.name)
        try:
            await asyncio.to_thread(win.wait, "ready")
            await connected(a, b, timeout=90)
            await b.log.wait_for(
                lambda: (
                    sum(
                        (body := ParamFrame.decode(f).body) is not None and all(body.arms)
                        for f in got.frames.values()
                    )
                    >= 20
                ),
                60,
                "20 frames with both arms at bob",
            )
            with_arms = [
                q
                for q, f in got.frames.items()
                if (bd := ParamFrame.decode(f).body) and all(bd.arms)
            ]
            seq = max(with_arms)
            received = ParamFrame.decode(got.frames[seq])
            # A few frames later (the arms eased in over the 20 frames already): the window
            # shows about that pose.
            during: Image_ = await asyncio.to_thread(win.shot, seq + 3, settled=False)
            presence = "".join(
                "A" if q in with_arms else "." for q in range(min(got.frames), max(got.frames) + 1)
            )
            await a.session.close(hangup=False)  # the sender goes away: the stream stops
            await asyncio.to_thread(win.wait, "stats", lambda e: e.get("idle", 0) >= 0.999)
            after: Image_ = await asyncio.to_thread(win.shot)
        finally:
            got.close()
            win.close()

    # What the frames said: the upper arms well away from hanging (s29: hands at the chest).
    arms = _arm_params(received)
    assert max(abs(arms["upperArmAngleLeft"]), abs(arms["upperArmAngleRight"])) > math.radians(
        10
    ), (arms, presence)
    # The arms alone make a visible difference in the band (software reference, same pack) ...
    pack = load_pack(AVATAR)
    ref_rest = np.asarray(compose(pack, {}, size=512))[..., :3]
    ref_arms = np.asarray(compose(pack, arms, size=512))[..., :3]
    assert changed(ref_rest, ref_arms)[int(512 * 0.8) :].sum() > 300
    # ... and the receiver's window shows it, then comes back to rest when the stream stops.
    moved = changed(rest, during)[BAND].sum()
    assert moved > 400, f"the sender's arms changed only {moved} px ({presence})"
    # Back at rest: the band matches the rest picture up to idle breathing and sway (a few px).
    box = (0, BAND.start, WIDTH, HEIGHT)
    off_during = _distance(during, rest, box)
    off_after = _distance(after, rest, box)
    assert off_after < 0.25 * off_during, (off_after, off_during)
