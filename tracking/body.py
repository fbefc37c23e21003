"""Hands and upper body beside the face: scheduling, hand identity, smoothing, loss.

Budget: on a 2-core machine the face model alone costs about a quarter of a core at 30 FPS, and
the hand (~6 ms) and pose (~9 ms) models together would more than double it if both ran every
frame. So the face runs every frame and the body models take turns on the others: with the
default period of 3, frame n runs hands when ``n % 3 == 1`` and pose when ``n % 3 == 2`` (each
at 10 Hz from a 30 FPS camera). Arms and hands move slower than eyelids, a wave is 2-4 Hz, and the
receiver interpolates anyway; every frame still carries the latest body. The hands' turn is
skipped while the pose sees the person but neither wrist (:meth:`BodyTracker.hands_out_of_view`):
the usual face-and-shoulders framing of a call, where the hand model would only run its palm
detector, its dearest part, for nothing.

Hand identity ("left stays left"), in order of trust:

1. the pose's wrists: a hand belongs to the arm whose wrist it sits on (the pose model sees the
   whole arm up to the shoulder, so it is never confused about sides); a hand far from every
   wrist the pose sees is someone else's (bodies/s29: a friend's hand holding a cup) and is
   dropped;
2. without a fresh pose, where each side's hand was a moment ago;
3. the hand model's own handedness label.

Each side is smoothed with One Euro filters like the face, held for :data:`HAND_GRACE_S` after it
leaves the view (a missed detection or two), then reported as ``None`` so the receiver eases
the arm down to rest instead of freezing it in the air.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from itertools import permutations
from typing import Any

import numpy as np
from numpy.typing import NDArray

from protocol.body import ArmPose, BodyPose, HandShape, Side, Vec3

from .body_geometry import (
    MIN_VISIBILITY,
    ArmObservation,
    HandObservation,
    PoseObservation,
    pose_observation,
    to_body,
)
from .body_models import (
    create_hand_landmarker,
    create_pose_landmarker,
    load_hand_model,
    load_pose_model,
)
from .gestures import GestureClassifier, GestureEvent
from .model import native_stderr_quiet
from .smoothing import FilterParams, OneEuroFilter

log = logging.getLogger(__name__)

Array = NDArray[np.float64]

#: Frames per body cycle: hands on one frame of each cycle, pose on another, face on all.
DEFAULT_BODY_PERIOD = 3
#: A side's arm or hand is held this long after it was last seen, then dropped (None).
HAND_GRACE_S = 0.4
#: A pose (or a side's last position) older than this is not used to tell hands apart.
IDENTITY_FRESH_S = 0.35
#: A hand farther than this (normalised image units) from every wrist the pose sees is not
#: this person's. Her own hands sit within ~0.05 of the pose's wrists on s29 (the pose is at
#: most two frames older); the friend's hand there is 0.17 below her right wrist.
MAX_WRIST_DISTANCE = 0.1
#: Smoothing for arms (direction components) and hands (curls, spread), like the head's: the
#: samples come at ~10 Hz, so a lower cutoff than the face's.
ARM_FILTER = FilterParams(min_cutoff=2.0, beta=1.0, d_cutoff=1.0)
HAND_FILTER = FilterParams(min_cutoff=3.0, beta=2.0, d_cutoff=1.0)
TORSO_FILTER = FilterParams(min_cutoff=1.0, beta=0.5, d_cutoff=1.0)
#: How much the ear-to-shoulder ratio drops (as a fraction of the resting value) at a full shrug.
SHRUG_SPAN = 0.35
#: The resting ratio follows the user down slowly (they sit back, lean in) at this rate per s.
SHRUG_BASELINE_DECAY = 0.02


def _vec(a: Array, i: int) -> Vec3:
    v = a[i : i + 3]
    n = float(np.linalg.norm(v))
    if n < 1e-6:
        return (0.0, -1.0, 0.0)
    return (float(v[0] / n), float(v[1] / n), float(v[2] / n))


@dataclass(slots=True)
class _SideState:
    """What is known about one side between frames."""

    arm: ArmPose | None = None
    arm_ns: int = -(10**18)
    hand: HandShape | None = None
    hand_dir: Vec3 | None = None
    hand_normal: Vec3 | None = None
    hand_ns: int = -(10**18)
    wrist_xy: tuple[float, float] | None = None
    wrist_ns: int = -(10**18)


class BodyTracker:
    """Runs the hand and pose models on their turns and keeps a smoothed :class:`BodyPose`."""

    def __init__(
        self,
        *,
        period: int = DEFAULT_BODY_PERIOD,
        load_model: bool = True,
        gestures: bool = True,
    ) -> None:
        if period < 2:
            raise ValueError(f"body period must be at least 2 frames, got {period}")
        self.period = period
        self._hands: Any = None
        self._pose: Any = None
        if load_model:
            self._hands = create_hand_landmarker(load_hand_model())
            self._pose = create_pose_landmarker(load_pose_model())
        self._frame = 0
        self._last_ts_ms = -1
        self._sides = [_SideState(), _SideState()]
        self._arm_filters = [OneEuroFilter(ARM_FILTER) for _ in Side]
        self._hand_filters = [OneEuroFilter(HAND_FILTER) for _ in Side]
        self._torso_filter = OneEuroFilter(TORSO_FILTER)
        self._torso: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self._torso_t = 0.0
        self._ear_baseline: list[float | None] = [None, None]
        self._last_pose: PoseObservation | None = None
        self._last_pose_ns = -(10**18)
        self._person_ns = -(10**18)
        self.gestures = GestureClassifier() if gestures else None
        #: Gestures recognised since the caller last took them (:meth:`take_gestures`).
        self.pending: list[GestureEvent] = []
        #: What ran on the last frame ("hands", "pose" or ""), and counters for the benchmark.
        self.last_ran = ""
        self.hand_runs = 0
        self.hand_hits = 0
        self.pose_runs = 0
        self.pose_hits = 0
        #: Hand turns skipped because the pose saw the person but neither wrist.
        self.hand_skips = 0

    def close(self) -> None:
        for model in (self._hands, self._pose):
            if model is not None:
                model.close()
        self._hands = self._pose = None

    def reset(self) -> None:
        """Forget everything (pause, mirror change): the next body is tracked afresh."""
        self._sides = [_SideState(), _SideState()]
        for f in (*self._arm_filters, *self._hand_filters, self._torso_filter):
            f.reset()
        self._last_pose = None
        self._last_pose_ns = -(10**18)
        if self.gestures is not None:
            self.gestures.reset()

    def wrist_xy(self, side: Side) -> tuple[float, float] | None:
        """Where (normalised image coordinates, of the image the models saw) this side's hand
        or wrist was last seen: what tells the hands apart, and what tests check."""
        return self._sides[side].wrist_xy

    def take_gestures(self) -> list[GestureEvent]:
        out, self.pending = self.pending, []
        return out

    # -- per frame ------------------------------------------------------------------------------
    def process(self, image: Any, ts_ms: int, media_ns: int) -> BodyPose | None:
        """Run this frame's model (if it is a body frame) on ``image`` (an ``mp.Image`` the
        face model also saw; ``ts_ms`` strictly increasing) and return the current body."""
        self._frame += 1
        turn = self._frame % self.period
        self.last_ran = ""
        ts_ms = max(ts_ms, self._last_ts_ms + 1)
        self._last_ts_ms = ts_ms
        if turn == 1 and self._hands is not None and self.hands_out_of_view(media_ns):
            self.hand_skips += 1  # the most common call framing: face and shoulders only
        elif turn == 1 and self._hands is not None:
            self.last_ran = "hands"
            self.hand_runs += 1
            result = _quiet_first(self._hands, image, ts_ms, self.hand_runs == 1)
            hands = _hand_observations(result)
            self.hand_hits += bool(hands)
            self.observe_hands(hands, media_ns)
        elif turn == 2 and self._pose is not None:
            self.last_ran = "pose"
            self.pose_runs += 1
            result = _quiet_first(self._pose, image, ts_ms, self.pose_runs == 1)
            pose = _pose_observation(result)
            self.pose_hits += pose is not None
            self.observe_pose(pose, media_ns)
        return self.current(media_ns)

    def hands_out_of_view(self, media_ns: int) -> bool:
        """The pose model (fresh) sees the person but neither wrist: no hand can be in view, so
        the hand model's turn is skipped. Its palm detector is its most expensive part and runs
        on every turn while it tracks fewer hands than it looks for, which is every turn of a
        face-and-shoulders call. It also keeps the hand model from finding "hands" in an ear or a
        collar (faces/d12). A wrist coming into view is seen by the next pose turn."""
        if self._last_pose is None or media_ns - self._last_pose_ns > IDENTITY_FRESH_S * 1e9:
            return False
        return all(w is None for w in self._last_pose.wrists_xy)

    def observe_pose(self, pose: PoseObservation | None, media_ns: int) -> None:
        if pose is None:
            return
        self._last_pose, self._last_pose_ns = pose, media_ns
        self._person_ns = media_ns
        t = media_ns / 1e9
        for side in Side:
            arm = pose.arms[side]
            state = self._sides[side]
            if arm is None:
                continue
            self._set_arm(side, arm, media_ns, t)
            state.wrist_xy, state.wrist_ns = arm.wrist_xy, media_ns
        shrugs = [0.0, 0.0]
        for side in Side:
            ratio = pose.ear_ratio[side]
            if ratio is None:
                continue
            base = self._ear_baseline[side]
            if base is None or ratio > base:
                base = ratio
            else:
                base = max(ratio, base - SHRUG_BASELINE_DECAY * max(t - self._torso_t, 0.0))
            self._ear_baseline[side] = base
            if base > 1e-3:
                shrugs[side] = max(0.0, min(1.0, (base - ratio) / (SHRUG_SPAN * base)))
        roll = pose.torso_roll if pose.torso_roll is not None else 0.0
        roll = max(-math.pi / 2, min(math.pi / 2, roll))
        out = self._torso_filter(np.array([shrugs[0], shrugs[1], roll]), t)
        self._torso = (float(out[0]), float(out[1]), float(out[2]))
        self._torso_t = t

    def _set_arm(self, side: Side, arm: ArmObservation, media_ns: int, t: float) -> None:
        state = self._sides[side]
        hand_fresh = media_ns - state.hand_ns <= HAND_GRACE_S * 1e9
        hand_dir = state.hand_dir if hand_fresh and state.hand_dir else arm.hand
        normal = state.hand_normal if hand_fresh and state.hand_normal else arm.palm_normal
        raw = np.array([*arm.upper_arm, *arm.forearm, *hand_dir, *normal])
        if media_ns - state.arm_ns > HAND_GRACE_S * 1e9:
            self._arm_filters[side].reset()
        f = self._arm_filters[side](raw, t)
        state.arm = ArmPose(_vec(f, 0), _vec(f, 3), _vec(f, 6), _vec(f, 9))
        state.arm_ns = media_ns

    def observe_hands(self, hands: list[HandObservation], media_ns: int) -> None:
        t = media_ns / 1e9
        for side, hand in self.assign(hands, media_ns).items():
            state = self._sides[side]
            shape = hand.shape()
            if media_ns - state.hand_ns > HAND_GRACE_S * 1e9:
                self._hand_filters[side].reset()
            f = self._hand_filters[side](np.array([*shape.curls, shape.spread]), t)
            clipped = np.clip(f, 0.0, 1.0)
            state.hand = HandShape(
                curls=(
                    float(clipped[0]),
                    float(clipped[1]),
                    float(clipped[2]),
                    float(clipped[3]),
                    float(clipped[4]),
                ),
                spread=float(clipped[5]),
            )
            state.hand_dir = hand.direction()
            state.hand_normal = hand.palm_normal(side)
            state.hand_ns = media_ns
            state.wrist_xy, state.wrist_ns = hand.wrist_xy, media_ns
            if state.arm is not None and media_ns - state.arm_ns <= HAND_GRACE_S * 1e9:
                arm = state.arm
                state.arm = ArmPose(
                    arm.upper_arm,
                    arm.forearm,
                    state.hand_dir or arm.hand,
                    state.hand_normal or arm.palm_normal,
                )
            if self.gestures is not None:
                self.pending.extend(self.gestures.observe(side, hand, media_ns))

    def assign(self, hands: list[HandObservation], media_ns: int) -> dict[Side, HandObservation]:
        """Which side each detected hand is (see the module docstring); drops strangers' hands."""
        if not hands:
            return {}
        pose = self._last_pose if media_ns - self._last_pose_ns <= IDENTITY_FRESH_S * 1e9 else None
        candidates = list(hands)
        if pose is not None and any(w is not None for w in pose.wrists_xy):
            candidates = [
                h
                for h in hands
                if min(_dist(h.wrist_xy, w) for w in pose.wrists_xy if w is not None)
                <= MAX_WRIST_DISTANCE
            ]

        def cost(hand: HandObservation, side: Side) -> float:
            label = 0.0 if hand.side_label is side else 0.05
            if pose is not None and pose.wrists_xy[side] is not None:
                return _dist(hand.wrist_xy, pose.wrists_xy[side]) + label  # type: ignore[arg-type]
            state = self._sides[side]
            if state.wrist_xy is not None and media_ns - state.wrist_ns <= IDENTITY_FRESH_S * 1e9:
                return _dist(hand.wrist_xy, state.wrist_xy) + label
            return 0.2 + label * 4  # no geometry to go by: the label decides

        best: dict[Side, HandObservation] = {}
        best_cost = math.inf
        for sides in permutations(Side, min(len(candidates), 2)):
            chosen = candidates[: len(sides)]
            total = sum(cost(h, s) for h, s in zip(chosen, sides, strict=True))
            if total < best_cost:
                best_cost, best = total, dict(zip(sides, chosen, strict=True))
        return best

    def current(self, media_ns: int) -> BodyPose | None:
        """The body to send now: None when no person has been seen for a while."""
        if media_ns - self._person_ns > HAND_GRACE_S * 1e9 and not any(
            media_ns - s.hand_ns <= HAND_GRACE_S * 1e9 for s in self._sides
        ):
            return None
        arms: list[ArmPose | None] = [None, None]
        hands: list[HandShape | None] = [None, None]
        for side in Side:
            state = self._sides[side]
            if state.arm is not None and media_ns - state.arm_ns <= HAND_GRACE_S * 1e9:
                arms[side] = state.arm
            if state.hand is not None and media_ns - state.hand_ns <= HAND_GRACE_S * 1e9:
                hands[side] = state.hand
        shrug_l, shrug_r, roll = self._torso
        return BodyPose(
            shoulder_shrug=(shrug_l, shrug_r),
            torso_roll=roll,
            arms=(arms[0], arms[1]),
            hands=(hands[0], hands[1]),
        )


def _dist(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _quiet_first(model: Any, image: Any, ts_ms: int, first: bool) -> Any:
    if first:
        with native_stderr_quiet():  # the C++ side logs noise on its first run
            return model.detect_for_video(image, ts_ms)
    return model.detect_for_video(image, ts_ms)


def _hand_observations(result: Any) -> list[HandObservation]:
    out: list[HandObservation] = []
    for image_lms, world_lms, handedness in zip(
        result.hand_landmarks, result.hand_world_landmarks, result.handedness, strict=False
    ):
        if not handedness or len(world_lms) != 21:
            continue
        label = Side.LEFT if handedness[0].category_name == "Left" else Side.RIGHT
        world = np.array([(p.x, p.y, p.z) for p in world_lms], dtype=np.float64)
        if not np.isfinite(world).all():
            continue
        out.append(
            HandObservation(
                side_label=label,
                score=float(handedness[0].score),
                wrist_xy=(float(image_lms[0].x), float(image_lms[0].y)),
                points=to_body(world),
            )
        )
    return out


def _pose_observation(result: Any) -> PoseObservation | None:
    if not result.pose_landmarks or not result.pose_world_landmarks:
        return None
    lms, world_lms = result.pose_landmarks[0], result.pose_world_landmarks[0]
    world = np.array([(p.x, p.y, p.z) for p in world_lms], dtype=np.float64)
    image = np.array([(p.x, p.y) for p in lms], dtype=np.float64)
    seen = np.array(
        [
            (p.visibility or 0.0) >= MIN_VISIBILITY and (p.presence or 0.0) >= MIN_VISIBILITY
            for p in lms
        ]
    )
    if not (np.isfinite(world).all() and np.isfinite(image).all()):
        return None
    return pose_observation(world, image, seen)
