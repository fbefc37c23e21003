"""The gesture classifier: static poses from hand geometry (hands built joint by joint in the
body frame), and the state machine's hold, fire-once, cool-down and wave detection."""

from __future__ import annotations

import math

import numpy as np
import pytest

from protocol.body import Side
from tracking.body_geometry import HandObservation, hand_shape
from tracking.gestures import COOLDOWN_S, GestureClassifier, static_gesture
from tracking.pipeline import Tracker

BONE = 0.03  # metres per finger segment


def _chain(
    base: np.ndarray, direction: np.ndarray, bends: tuple[float, float, float], axis: np.ndarray
) -> list[np.ndarray]:
    """Three segments from ``base``, each turned by its bend about ``axis`` (toward the palm)."""
    points, d, p = [], direction / np.linalg.norm(direction), base
    for bend in bends:
        d = _rotate(d, axis, bend)
        p = p + d * BONE
        points.append(p)
    return points


def _rotate(v: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    k = axis / np.linalg.norm(axis)
    return (
        v * math.cos(angle)
        + np.cross(k, v) * math.sin(angle)
        + k * np.dot(k, v) * (1 - math.cos(angle))
    )


def make_hand(
    finger_bend: tuple[float, float, float, float],
    thumb_up: bool = False,
    up: np.ndarray | None = None,
    splay: float = 0.0,
    x: float = 0.5,
) -> HandObservation:
    """A right hand, palm to the camera (+z), fingers along ``up``; each of index..pinky bent by
    its angle at all three joints (folding toward -z, into the palm)."""
    up = np.array([0.0, 1.0, 0.0]) if up is None else up
    # right hand, palm forward: the thumb is toward the user's left (+x for fingers up)
    side = -np.cross(up, np.array([0.0, 0.0, 1.0]))
    fold = -np.cross(np.array([0.0, 0.0, 1.0]), up)  # turning about it folds "up" toward -z
    pts = [np.zeros(3)]
    thumb_base = side * 0.02 + up * 0.02
    thumb_dir = up if thumb_up else (side + up)
    pts += [thumb_base, *_chain(thumb_base, thumb_dir, (0.0, 0.05, 0.05), fold)]
    for i, bend in enumerate(finger_bend):
        base = up * 0.08 + side * (0.03 - 0.02 * i)
        spread_dir = _rotate(up, np.array([0.0, 0.0, 1.0]), splay * (1.5 - i))
        pts += [base, *_chain(base, spread_dir, (bend, bend, bend), fold)]
    points = np.array(pts)
    assert points.shape == (21, 3)
    return HandObservation(Side.RIGHT, 0.99, (x, 0.5), points)


OPEN = (0.05, 0.05, 0.05, 0.05)
FIST = (1.3, 1.3, 1.3, 1.3)
PEACE = (0.05, 0.05, 1.3, 1.3)


def test_curls_and_spread_from_geometry() -> None:
    open_hand = hand_shape(make_hand(OPEN).points)
    assert max(open_hand.curls[1:]) < 0.1
    fist = hand_shape(make_hand(FIST).points)
    assert min(fist.curls[1:]) > 0.9
    assert hand_shape(make_hand(OPEN, splay=0.3).points).spread > open_hand.spread + 0.3


def test_static_gestures() -> None:
    assert static_gesture(make_hand(OPEN)) == "open"
    assert static_gesture(make_hand(PEACE, splay=0.25)) == "peace"
    assert static_gesture(make_hand(PEACE)) is None  # two fingers together: not a V
    # thumbs-up: fingers curled with the hand sideways, thumb pointing up
    sideways = np.array([-1.0, 0.0, 0.0])
    thumbs = make_hand(FIST, thumb_up=True, up=sideways)
    thumbs_points = thumbs.points.copy()
    thumbs_points[1:5] = [
        np.array([0.0, 0.02, 0.0]) + np.array([0.0, 1.0, 0.0]) * BONE * k for k in range(4)
    ]
    assert (
        static_gesture(HandObservation(Side.RIGHT, 0.9, (0.5, 0.5), thumbs_points)) == "thumbs_up"
    )
    assert static_gesture(make_hand(FIST)) is None
    # an open hand pointing down is not a wave's pose
    assert static_gesture(make_hand(OPEN, up=np.array([0.0, -1.0, 0.0]))) is None


def _feed(
    c: GestureClassifier,
    gesture: str | None,
    t0: float,
    seconds: float,
    hz: float = 10.0,
    x: float = 0.5,
    side: Side = Side.RIGHT,
) -> list[str]:
    names = []
    n = round(seconds * hz)
    for i in range(n):
        t = t0 + i / hz
        names += [e.name for e in c.observe_static(side, gesture, x, round(t * 1e9))]
    return names


def test_held_gesture_fires_once_after_the_hold() -> None:
    c = GestureClassifier()
    assert _feed(c, "thumbs_up", 0.0, 0.2) == []  # not held long enough yet
    assert _feed(c, "thumbs_up", 0.2, 3.0) == ["thumbs_up"]  # once, not 30 times
    # released and shown again within the cool-down: nothing; after it: once more
    assert _feed(c, None, 3.2, 0.3) == []
    c2 = GestureClassifier()
    _feed(c2, "peace", 0.0, 1.0)
    assert _feed(c2, None, 1.0, 0.2) == []
    assert _feed(c2, "peace", 1.2, 0.6) == []  # 1.2 s after: cooling down
    assert _feed(c2, None, 1.8, 0.2) == []
    assert _feed(c2, "peace", 2.0 + COOLDOWN_S, 0.6) == ["peace"]


def test_flicker_does_not_fire() -> None:
    c = GestureClassifier()
    names: list[str] = []
    for i in range(40):  # a misdetection every other sample
        g = "peace" if i % 2 else None
        names += [e.name for e in c.observe_static(Side.LEFT, g, 0.5, i * 100_000_000)]
    assert names == []


def test_wave_needs_swings_of_an_open_hand() -> None:
    c = GestureClassifier()
    names: list[str] = []
    for i in range(20):  # 10 Hz samples, wrist swinging +-0.06 at 2 Hz
        x = 0.5 + 0.06 * math.sin(2 * math.pi * 2.0 * i / 10.0 + 0.3)
        names += [e.name for e in c.observe_static(Side.RIGHT, "open", x, i * 100_000_000)]
    assert names == ["wave"]
    # an open hand held still, or drifting one way, is not a wave
    c = GestureClassifier()
    still = [
        c.observe_static(Side.LEFT, "open", 0.5 + 0.002 * i, i * 100_000_000) for i in range(30)
    ]
    assert not any(still)
    drift = [
        c.observe_static(Side.LEFT, "open", 0.2 + 0.02 * i, (5 + i) * 1_000_000_000)
        for i in range(30)
    ]
    assert not any(drift)


def test_sides_are_independent() -> None:
    c = GestureClassifier()
    got = []
    for i in range(10):
        t = i * 100_000_000
        got += c.observe_static(Side.LEFT, "thumbs_up", 0.3, t)
        got += c.observe_static(Side.RIGHT, "thumbs_up", 0.7, t)
    assert sorted((e.name, e.side) for e in got) == [
        ("thumbs_up", Side.LEFT),
        ("thumbs_up", Side.RIGHT),
    ]


def _thumbs_up() -> HandObservation:
    sideways = np.array([-1.0, 0.0, 0.0])
    hand = make_hand(FIST, thumb_up=True, up=sideways)
    points = hand.points.copy()
    points[1:5] = [np.array([0.0, 0.02, 0.0]) + np.array([0.0, BONE * k, 0.0]) for k in range(4)]
    return HandObservation(Side.RIGHT, 0.9, (0.3, 0.5), points)


@pytest.mark.parametrize(("mirror", "side"), [(False, Side.RIGHT), (True, Side.LEFT)])
def test_tracker_hands_out_gestures_once_with_the_users_side(mirror: bool, side: Side) -> None:
    """Through the tracker's body path (no models): a held thumbs-up is one event; when the
    tracker mirrors (the models saw a flipped image) the side comes out as the user's own."""
    tracker = Tracker(load_model=False, body=True, mirror=mirror)
    bt = tracker.body_tracker
    assert bt is not None
    for i in range(12):  # 1.2 s of samples at 10 Hz
        bt.observe_hands([_thumbs_up()], i * 100_000_000)
    got = tracker.take_gestures()
    assert [(g.name, g.side) for g in got] == [("thumbs_up", side)]
    assert tracker.take_gestures() == []
