"""Shoulders, arms, hands and fingers of a 3D humanoid from the body parameters (frame keys 8-12).

The body parameters (:mod:`render_window.params`) carry each arm segment as an angle in the
frontal plane plus a forward component, the palm's forward component, one curl per finger and
a spread -- the same numbers the 2D renderer bends its arm layers by, after the same motion
layer: interpolation, and the tracking-loss easing that brings an arm no longer seen back to
hanging at rest (every parameter 0). So a 3D avatar's arms come and go exactly like a 2D one's.

Conventions (:mod:`protocol.body`): directions are in the user's body frame, +x the user's own
left, +y up, +z forward. The model's world after :class:`~render_window.pose3d.Poser`'s root
turn is the same frame (VRM 1.0 faces +Z with its left at +X; a VRM 0.x model is turned round),
and "left" is the avatar's anatomical left, so the user's left arm moves the avatar's left arm,
which the viewer sees on their right -- a person facing you. The self view mirrors the frame
before it gets here (:meth:`protocol.frame.ParamFrame.mirrored`), as for the face.

Rest poses differ between rigs (VRM 1.0 and most 0.x models stand in a T-pose, some exports in
an A-pose, bones may carry any rest rotation), so nothing here assumes one: every bone's rest
direction is measured from the model (the bone's head to its child's head) and each bone gets
the world turn that takes its rest direction to the tracked one, applied in the chest's frame
(so breathing and a lean carry the arms along). The turns are :mod:`protocol.vmc_body`'s --
the same shortest arcs, palm framing, curl and spread angles the VMC sender gives other apps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from protocol.body import FINGER_NAMES
from protocol.vmc_body import (
    CURL_RAD,
    MAX_SHRUG_RAD,
    SPREAD_RAD,
    THUMB_CURL_RAD,
    Vec3,
    q_arc,
    q_axis,
    q_frame,
)

F32 = NDArray[np.float32]
#: VRM finger names (VRM calls the pinky "little").
VRM_FINGERS = {"thumb": "Thumb", "index": "Index", "middle": "Middle", "ring": "Ring"}
VRM_FINGERS["pinky"] = "Little"
#: Finger joints from the palm out: VRM 1.0 thumbs are Metacarpal/Proximal/Distal, VRM 0.x
#: thumbs and every other finger Proximal/Intermediate/Distal; whichever the model has, in order.
FINGER_JOINTS = ("Metacarpal", "Proximal", "Intermediate", "Distal")
SIDES = (("left", "Left", 1.0), ("right", "Right", -1.0))  # bone prefix, param suffix, x sign
#: Fan of each finger at spread 1 (radians, toward the thumb), in FINGER_NAMES order.
FANS = np.array([SPREAD_RAD.get(f, 0.0) for f in FINGER_NAMES], np.float32)
#: A side whose body keys all moved less than this (radians, or curl / spread fractions) since
#: its bones were last posed keeps that pose: 5e-4 rad of a ~0.55 m arm is 0.3 mm, a third of
#: a pixel of nova at 1280x720 (0.6 m of height on 720 rows).
STILL = 5e-4


def _unit(v: NDArray[np.floating]) -> F32:
    n = float(np.linalg.norm(v))
    out: F32 = (v / n).astype(np.float32) if n > 1e-9 else np.zeros(3, np.float32)
    return out


def _vec(v: NDArray[np.floating]) -> Vec3:
    return (float(v[0]), float(v[1]), float(v[2]))


def _mat(q: tuple[float, float, float, float]) -> F32:
    x, y, z, w = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ],
        np.float32,
    )


def segment(params: Mapping[str, float], bone: str, suffix: str) -> F32:
    """A segment's unit direction from its (angle, forward) parameters: the inverse of
    :func:`render_window.params.segment_angle` (angle 0 and forward 0 = hanging down)."""
    a = params.get(f"{bone}Angle{suffix}", 0.0)
    f = max(-1.0, min(1.0, params.get(f"{bone}Forward{suffix}", 0.0)))
    r = math.sqrt(max(0.0, 1.0 - f * f))
    return np.array([math.sin(a) * r, -math.cos(a) * r, f], np.float32)


def palm_from(hand: F32, facing: float, sign: float) -> F32:
    """The palm normal for a hand pointing along ``hand`` whose normal's forward component is
    ``facing`` (the parameters carry only that): start from the relaxed palm (toward the body's
    midline for a hanging hand, down in a T-pose) and twist about the hand by the smaller angle
    that gives the asked forward component."""
    n0 = _unit(sign * _cross(hand, (0.0, 0.0, 1.0)))
    if not n0.any():  # the hand points straight forward or back: palm down
        return np.array([0.0, -1.0, 0.0], np.float32)
    w = _cross(hand, n0)
    if abs(float(w[2])) < 1e-6:
        return n0
    s = max(-1.0, min(1.0, facing / float(w[2])))
    out: F32 = (math.sqrt(1.0 - s * s) * n0 + s * w).astype(np.float32)
    return out


def _cross(a: NDArray[np.floating], b: NDArray[np.floating] | tuple[float, ...]) -> F32:
    """3-vector cross product (numpy's ``cross`` costs ~10 us a call, this ~1)."""
    return np.array(
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]],
        np.float32,
    )


def _skew(axes: F32) -> F32:
    """The cross-product matrices K of unit axes (n, 3) -> (n, 3, 3), for Rodrigues' formula."""
    k = np.zeros((len(axes), 3, 3), np.float32)
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axes[:, 2], axes[:, 1], -axes[:, 0]
    k[:, 1, 0], k[:, 2, 0], k[:, 2, 1] = axes[:, 2], -axes[:, 1], axes[:, 0]
    return k


def _rodrigues(k: F32, k2: F32, angles: F32) -> F32:
    """Rotations by ``angles`` (n,) about the axes whose K and K @ K are given: (n, 3, 3)."""
    s, c = np.sin(angles)[:, None, None], np.cos(angles)[:, None, None]
    out: F32 = (np.eye(3, dtype=np.float32) + s * k + (1.0 - c) * k2).astype(np.float32)
    return out


@dataclass
class _Bone:
    """One arm bone: its node, and what turns a world delta into its local rotation."""

    node: int
    pr_t: F32  # the parent's rest world rotation, transposed
    rest_w: F32  # its own rest world rotation


@dataclass
class _Side:
    prefix: str  # "left" / "right"
    suffix: str  # "Left" / "Right" (parameter names)
    sign: float  # +1 left (the avatar's left is +x), -1 right
    root: int  # the first arm bone's parent (the chest): the frame the directions are in
    shoulder: _Bone | None
    chain: list[_Bone]  # upper arm, lower arm, hand
    rest: list[Vec3]  # their rest world directions
    rest_palm: F32
    #: Finger joints (palm outward, finger by finger) as arrays for the batch: bones, which
    #: finger (index into FINGER_NAMES), the joint's share of the curl (cumulative angle at
    #: curl 1), the parent's position in the batch (-1 = the hand), bend axes' K and K @ K.
    joints: list[_Bone]
    finger: NDArray[np.intp]
    bend: F32
    parent: NDArray[np.intp]
    k: F32
    k2: F32
    pr_t: F32 = field(init=False)  # the joints' _Bone fields stacked: (n, 3, 3)
    rest_w: F32 = field(init=False)
    chain_pr_t: F32 = field(init=False)  # the same for the shoulder (if any) and the chain
    chain_rest_w: F32 = field(init=False)
    palm_k: F32 = field(init=False)
    palm_k2: F32 = field(init=False)
    #: Every bone's node, in the order :meth:`ArmRig._side` returns their rotations.
    nodes: NDArray[np.intp] = field(init=False)
    #: The body keys this side's rotations depend on, and the last (keys, rotations).
    keys: list[str] = field(init=False)
    cached: tuple[NDArray[np.float64], F32] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        eye = np.eye(3, dtype=np.float32)[None]
        self.pr_t = np.stack([b.pr_t for b in self.joints]) if self.joints else eye
        self.rest_w = np.stack([b.rest_w for b in self.joints]) if self.joints else eye
        bones = ([self.shoulder] if self.shoulder is not None else []) + self.chain
        self.chain_pr_t = np.stack([b.pr_t for b in bones])
        self.chain_rest_w = np.stack([b.rest_w for b in bones])
        self.nodes = np.array([b.node for b in bones + self.joints], np.intp)
        self.palm_k = _skew(self.rest_palm[None, :])
        self.palm_k2 = self.palm_k @ self.palm_k
        x = self.suffix
        self.keys = [f"shoulderShrug{x}", f"palmFacing{x}", f"fingerSpread{x}"]
        self.keys += [f"{b}{k}{x}" for b in ("upperArm", "forearm", "hand")
                      for k in ("Angle", "Forward")]  # fmt: skip
        self.keys += [f"{f}Curl{x}" for f in FINGER_NAMES]


class ArmRig:
    """Which arm and finger bones a model has and their rest directions, measured once; then,
    each frame, their local rotations (:meth:`rotations`)."""

    def __init__(
        self,
        humanoid: Mapping[str, int],
        parent: list[int],
        rest_world_rot: list[F32],
        rest_pos: Callable[[int], F32],
    ) -> None:
        self.sides: list[_Side] = []

        def bone(name: str) -> _Bone:
            k = humanoid[name]
            p = parent[k]
            pr = rest_world_rot[p] if p >= 0 else np.eye(3, dtype=np.float32)
            return _Bone(k, pr.T.copy(), rest_world_rot[k])

        for prefix, suffix, sign in SIDES:
            names = [f"{prefix}UpperArm", f"{prefix}LowerArm", f"{prefix}Hand"]
            if any(b not in humanoid for b in names):
                continue
            pos = [rest_pos(humanoid[b]) for b in names]
            upper, lower = _unit(pos[1] - pos[0]), _unit(pos[2] - pos[1])
            if not (upper.any() and lower.any()):
                continue  # a degenerate rig (joints on top of each other): leave the arm be
            hand_dir = lower
            middle = humanoid.get(f"{prefix}MiddleProximal")
            if middle is not None and _unit(rest_pos(middle) - pos[2]).any():
                hand_dir = _unit(rest_pos(middle) - pos[2])
            palm = _unit(sign * _cross(hand_dir, (0.0, 0.0, 1.0)))
            if not palm.any():
                palm = np.array([0.0, -1.0, 0.0], np.float32)
            shoulder = bone(f"{prefix}Shoulder") if f"{prefix}Shoulder" in humanoid else None
            first = shoulder.node if shoulder is not None else humanoid[names[0]]
            joints: list[_Bone] = []
            finger_of: list[int] = []
            bend: list[float] = []
            parents: list[int] = []
            axes: list[F32] = []
            for fi, finger in enumerate(FINGER_NAMES):
                chain = [f"{prefix}{VRM_FINGERS[finger]}{j}" for j in FINGER_JOINTS]
                chain = [n for n in chain if n in humanoid]
                if not chain:
                    continue
                base, tip = rest_pos(humanoid[chain[0]]), rest_pos(humanoid[chain[-1]])
                d = _unit(tip - base) if len(chain) > 1 else hand_dir
                axis = _unit(_cross(d if d.any() else hand_dir, palm))
                if not axis.any():
                    continue
                angles = THUMB_CURL_RAD if finger == "thumb" else CURL_RAD
                total = 0.0
                for i, name in enumerate(chain):
                    total += angles[min(i, len(angles) - 1)]
                    parents.append(len(joints) - 1 if i else -1)
                    joints.append(bone(name))
                    finger_of.append(fi)
                    bend.append(total)
                    axes.append(axis)
            k = _skew(np.array(axes, np.float32).reshape(-1, 3))
            self.sides.append(
                _Side(
                    prefix, suffix, sign, parent[first], shoulder,
                    [bone(n) for n in names], [_vec(upper), _vec(lower), _vec(hand_dir)], palm,
                    joints, np.array(finger_of, np.intp), np.array(bend, np.float32),
                    np.array(parents, np.intp), k, k @ k,
                )
            )  # fmt: skip

    def __bool__(self) -> bool:
        return bool(self.sides)

    def rotations(self, params: Mapping[str, float]) -> list[tuple[NDArray[np.intp], F32]]:
        """(nodes, local rotations (n, 3, 3)) of every arm bone for ``params``, one pair a side.

        A bone's world turn D becomes its local rotation as ``parent_rest^T @ D_parent^T @ D
        @ rest``: the parent's turn is taken off, so the chest's own turn (breathing, a lean)
        cancels out of every arm bone's local rotation and carries the arms along by itself
        through the hierarchy. The rotations therefore depend on a side's body keys alone,
        and a side whose keys moved less than :data:`STILL` since it was last worked out
        (an arm at rest, a held pose) reuses that result: about 0.4 ms a side, a view, a
        frame, for a change under a third of a pixel at 1280x720."""
        out: list[tuple[NDArray[np.intp], F32]] = []
        for s in self.sides:
            keys = np.array([params.get(k, 0.0) for k in s.keys], np.float64)
            if s.cached is None or float(np.abs(keys - s.cached[0]).max()) >= STILL:
                s.cached = (keys, self._side(s, params))
            out.append((s.nodes, s.cached[1]))
        return out

    @staticmethod
    def _side(s: _Side, params: Mapping[str, float]) -> F32:
        """The local rotations of one side's bones (:attr:`_Side.nodes` order), in the chest's
        frame (taken as the identity: it cancels, see :meth:`rotations`)."""
        x = s.suffix
        turns: list[F32] = []
        if s.shoulder is not None:
            # Raising a shoulder turns it about +z: the left (pointing +x) toward +y, the
            # right (pointing -x) the other way round.
            shrug = max(0.0, min(1.0, params.get(f"shoulderShrug{x}", 0.0)))
            turns.append(_mat(q_axis((0.0, 0.0, 1.0), s.sign * shrug * MAX_SHRUG_RAD)))
        hand = segment(params, "hand", x)
        palm = palm_from(hand, params.get(f"palmFacing{x}", 0.0), s.sign)
        turns += [
            _mat(q_arc(s.rest[0], _vec(segment(params, "upperArm", x)))),
            _mat(q_arc(s.rest[1], _vec(segment(params, "forearm", x)))),
            _mat(q_frame(s.rest[2], _vec(s.rest_palm), _vec(hand), _vec(palm))),
        ]
        d = np.stack(turns)
        d_parent = np.concatenate([np.eye(3, dtype=np.float32)[None], d[:-1]])
        chain: F32 = (s.chain_pr_t @ np.swapaxes(d_parent, 1, 2) @ d @ s.chain_rest_w).astype(
            np.float32
        )
        if not s.joints:
            return chain
        # Every finger joint at once: bend about the finger's axis by its share of the curl,
        # fan about the palm normal by the spread, then the hand's turn.
        curls = np.array(
            [max(0.0, min(1.0, params.get(f"{f}Curl{x}", 0.0))) for f in FINGER_NAMES],
            np.float32,
        )
        spread = max(0.0, min(1.0, params.get(f"fingerSpread{x}", 0.0)))
        fan = _rodrigues(s.palm_k, s.palm_k2, s.sign * FANS * spread)
        bent = _rodrigues(s.k, s.k2, s.bend * curls[s.finger])
        world = d[-1] @ fan[s.finger] @ bent
        parents = np.where(s.parent[:, None, None] >= 0, world[s.parent], d[-1])
        local = s.pr_t @ np.swapaxes(parents, 1, 2) @ world @ s.rest_w
        return np.concatenate([chain, local]).astype(np.float32)
