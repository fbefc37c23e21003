"""Arms, hands and gestures in the real render window (Xvfb + Mesa), proven on pixels.

One window per built-in avatar: frames with a body go through a real ShmRing; regions are found
by diffing (the pixels that change when the left arm is raised *are* the arm, wherever the pack
draws it). The subject's left arm is drawn on the viewer's right, like a person facing you.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

import numpy as np
import pytest
from PIL import Image

from avatars.pack import builtin_ids
from protocol.blendshapes import NUM_BLENDSHAPES
from protocol.body import ArmPose, BodyPose, HandShape
from protocol.frame import FrameFlags, ParamFrame
from protocol.ring import ShmRing

from .harness import Feeder, Image_, Window, centroid, changed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

WIDTH, HEIGHT = 640, 360
UP = (0.0, 1.0, 0.0)
#: The left upper arm out and up, forearm and hand straight up: a hand raised beside the head.
RAISED = ArmPose(upper_arm=(0.8, 0.6, 0.0), forearm=UP, hand=UP, palm_normal=(0.0, 0.0, 1.0))
OPEN = HandShape(curls=(0.0, 0.0, 0.0, 0.0, 0.0), spread=0.5)
FIST = HandShape(curls=(1.0, 1.0, 1.0, 1.0, 1.0), spread=0.0)
#: Shots after the arm and hand vanish from the frames: 14 shots 8 frames apart (~1.9 s at 60 Hz).
GONE_SHOTS, GONE_EVERY = 14, 8
#: Shots from the gesture command on, until well after its 1.5 s (frame times are measured:
#: a busy machine draws fewer frames per second).
GESTURE_SHOTS, GESTURE_EVERY = 45, 3


def frame(body: BodyPose | None) -> ParamFrame:
    return ParamFrame.from_weights(
        0, 0, [0.0] * NUM_BLENDSHAPES, flags=FrameFlags.FACE_PRESENT, body=body
    )


def _command(win: Window, line: dict[str, object]) -> None:
    """A raw command line (``Window.cmd`` takes the command's own ``name`` field)."""
    assert win.proc.stdin is not None
    win.proc.stdin.write(json.dumps(line) + "\n")
    win.proc.stdin.flush()


@dataclass
class Session:
    avatar: str
    shots: dict[str, Image_] = field(default_factory=dict)
    gone: list[Image_] = field(default_factory=list)
    gesture: list[tuple[float, Image_]] = field(default_factory=list)
    flood: list[Image_] = field(default_factory=list)  # (s after the first, shot)
    stderr: str = ""


@pytest.fixture(scope="module", params=builtin_ids())
def session(
    request: pytest.FixtureRequest, xvfb_display: str, tmp_path_factory: pytest.TempPathFactory
) -> Session:
    avatar = request.param
    tmp = tmp_path_factory.mktemp(f"body-{avatar}")
    out = Session(avatar)
    ring = ShmRing.create("remote")
    feeder = Feeder(ring)
    win = Window(
        xvfb_display,
        [
            "--remote-ring",
            ring.name,
            "--avatar",
            avatar,
            "--no-self-view",
            "--no-breath",
            "--width",
            str(WIDTH),
            "--height",
            str(HEIGHT),
            "--seed",
            "3",
        ],
        tmp,
    )
    try:
        win.wait("ready")
        poses = {
            "rest": None,
            "raised": BodyPose(arms=(RAISED, None), hands=(OPEN, None)),
            "fist": BodyPose(arms=(RAISED, None), hands=(FIST, None)),
        }
        for name, body in poses.items():
            seq = feeder.set(frame(body))
            out.shots[name] = win.shot(min_seq=seq + 2)
        # The arm and hand leave the picture (the body is still tracked): frames without them.
        feeder.set(frame(BodyPose()))
        out.gone = [img for _, img in win.burst(GONE_SHOTS, GONE_EVERY)]
        seq = feeder.set(frame(None))
        out.shots["rest2"] = win.shot(min_seq=seq + 2)
        _command(win, {"cmd": "show_gesture", "name": "wave", "side": 0})
        shots = win.burst(GESTURE_SHOTS, GESTURE_EVERY)
        t0 = shots[0][0]["present_ns"]
        out.gesture = [((ev["present_ns"] - t0) / 1e9, img) for ev, img in shots]
        # A flood of right-hand gestures: the window keeps presenting (the shots come back).
        for _ in range(8):
            _command(win, {"cmd": "show_gesture", "name": "peace", "side": 1})
        out.flood = [img for _, img in win.burst(2, 20)]
    finally:
        win.close()
        feeder.close()
        ring.close()
        out.stderr = "".join(win.stderr[-20:])
    # Kept for looking at by eye; compress_level=1: ~50 PNGs per avatar at the default level
    # cost seconds of the suite.
    for name, img in out.shots.items():
        Image.fromarray(img).save(tmp / f"{avatar}-{name}.png", compress_level=1)
    for i, (_, img) in enumerate(out.gesture):
        Image.fromarray(img).save(tmp / f"{avatar}-gesture{i}.png", compress_level=1)
    return out


def test_a_raised_hand_moves_the_arm_region_on_the_viewers_right(session: Session) -> None:
    arm = changed(session.shots["rest"], session.shots["raised"])
    assert arm.sum() > 800, f"{session.avatar}: raising the arm changed {arm.sum()} px"
    x, y = centroid(arm)
    assert x > WIDTH / 2 + 40, f"{session.avatar}: the left arm moved at x={x:.0f}"
    assert y < HEIGHT * 0.8, f"{session.avatar}: nothing rose above the shoulders (y={y:.0f})"
    other = arm[:, : WIDTH // 2 - 40].sum()
    assert other < 0.03 * arm.sum(), f"{session.avatar}: the right side changed {other} px"


def test_curling_the_fingers_changes_the_raised_hand(session: Session) -> None:
    arm = changed(session.shots["rest"], session.shots["raised"])
    hand = changed(session.shots["raised"], session.shots["fist"])
    assert hand.sum() > 60, f"{session.avatar}: a fist changed only {hand.sum()} px"
    # The change is the hand at the top of the raised arm, not anywhere else.
    _, hand_y = centroid(hand)
    ys = np.nonzero(arm)[0]
    assert hand_y < np.percentile(ys, 40), f"{session.avatar}: fist at y={hand_y:.0f}"
    assert hand[:, : WIDTH // 2].sum() == 0


def test_an_arm_that_leaves_the_frame_eases_to_rest(session: Session) -> None:
    rest, raised = session.shots["rest"], session.shots["raised"]
    full = changed(rest, raised).sum()
    away = [int(changed(rest, img).sum()) for img in session.gone]
    assert away[-1] < 0.05 * full, f"{session.avatar}: still {away[-1]} of {full} px off rest"
    # Not a snap: some shots in between are neither raised nor at rest.
    between = [a for a in away if 0.1 * full < a < 0.9 * full]
    assert between, f"{session.avatar}: jumped to rest {away}"
    # Moving down, not wandering: the distance to rest only shrinks (small noise allowed).
    assert all(b <= a + 0.05 * full for a, b in itertools.pairwise(away)), away


def test_a_gesture_bursts_beside_the_hand_and_goes_away(session: Session) -> None:
    rest = session.shots["rest2"]
    assert changed(session.shots["rest"], rest).sum() < 20  # the same rest as before
    during = [(t, changed(rest, img)) for t, img in session.gesture if 0.05 < t < 1.2]
    assert len(during) >= 2, [t for t, _ in session.gesture]
    for t, mask in during:
        assert mask.sum() > 300, f"{session.avatar}: at {t:.2f} s the burst drew {mask.sum()} px"
        x, _ = centroid(mask)
        assert x > WIDTH / 2, f"{session.avatar}: a left-hand gesture drawn at x={x:.0f}"
        assert mask[:, : WIDTH // 2].sum() == 0
    # Rising: the burst's centre moves up (smaller y) over its life.
    assert centroid(during[-1][1])[1] < centroid(during[0][1])[1] - 10
    after = [changed(rest, img).sum() for t, img in session.gesture if t > 1.6]
    assert after and max(after) < 20, f"{session.avatar}: burst left behind: {after}"


def test_a_right_hand_gesture_flood_is_drawn_on_the_viewers_left(session: Session) -> None:
    rest = session.shots["rest2"]
    mask = changed(rest, session.flood[-1])
    assert mask.sum() > 300, f"{session.avatar}: the flood drew {mask.sum()} px"
    assert mask[:, WIDTH // 2 :].sum() == 0, "a right-hand gesture drawn on the viewer's right"


def test_window_took_every_body_frame_without_complaint(session: Session) -> None:
    assert "Traceback" not in session.stderr, session.stderr
