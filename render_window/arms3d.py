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
from dataclasses import dataclass

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
    n0 = _unit(sign * np.cross(hand, (0.0, 0.0, 1.0)))
    if not n0.any():  # the hand points straight forward or back: palm down
        return np.array([0.0, -1.0, 0.0], np.float32)
    w = np.cross(hand, n0)
    if abs(float(w[2])) < 1e-6:
        return n0
    s = max(-1.0, min(1.0, facing / float(w[2])))
    out: F32 = (math.sqrt(1.0 - s * s) * n0 + s * w).astype(np.float32)
    return out


@dataclass
class _Finger:
    name: str
    joints: list[str]  # VRM bone names, palm outward
    axis: F32  # world bend axis at rest (bends toward the palm)


@dataclass
class _Side:
    prefix: str  # "left" / "right"
    suffix: str  # "Left" / "Right" (parameter names)
    sign: float  # +1 left (the avatar's left is +x), -1 right
    rest: dict[str, F32]  # bone -> rest world direction
    rest_palm: F32
    fingers: list[_Finger]


class ArmRig:
    """Which arm and finger bones a model has and their rest directions, measured once."""

    def __init__(self, humanoid: Mapping[str, int], rest_pos: Callable[[int], F32]) -> None:
        self.sides: list[_Side] = []
        for prefix, suffix, sign in SIDES:
            chain = [f"{prefix}UpperArm", f"{prefix}LowerArm", f"{prefix}Hand"]
            if any(b not in humanoid for b in chain):
                continue
            pos = {b: rest_pos(humanoid[b]) for b in chain}
            upper = _unit(pos[chain[1]] - pos[chain[0]])
            lower = _unit(pos[chain[2]] - pos[chain[1]])
            rest = {chain[0]: upper, chain[1]: lower, chain[2]: lower}
            middle = humanoid.get(f"{prefix}MiddleProximal")
            if middle is not None:
                hand_dir = _unit(rest_pos(middle) - pos[chain[2]])
                if hand_dir.any():
                    rest[chain[2]] = hand_dir
            if not (upper.any() and lower.any()):
                continue  # a degenerate rig (joints on top of each other): leave the arm be
            palm = _unit(sign * np.cross(rest[chain[2]], (0.0, 0.0, 1.0)))
            if not palm.any():
                palm = np.array([0.0, -1.0, 0.0], np.float32)
            fingers = []
            for finger in FINGER_NAMES:
                names = [f"{prefix}{VRM_FINGERS[finger]}{j}" for j in FINGER_JOINTS]
                joints = [n for n in names if n in humanoid]
                if not joints:
                    continue
                base = rest_pos(humanoid[joints[0]])
                tip = rest_pos(humanoid[joints[-1]]) if len(joints) > 1 else base
                d = _unit(tip - base) if len(joints) > 1 else rest[chain[2]]
                axis = _unit(np.cross(d if d.any() else rest[chain[2]], palm))
                if axis.any():
                    fingers.append(_Finger(finger, joints, axis))
            self.sides.append(_Side(prefix, suffix, sign, rest, palm, fingers))

    def __bool__(self) -> bool:
        return bool(self.sides)

    def deltas(self, params: Mapping[str, float]) -> list[list[tuple[str, F32]]]:
        """Per side: (bone, world turn in the chest's frame) for every arm bone, parents first
        (shoulder, upper arm, forearm, hand, then each finger palm outward)."""
        sides: list[list[tuple[str, F32]]] = []
        for s in self.sides:
            out: list[tuple[str, F32]] = []
            sides.append(out)
            p, x = s.prefix, s.suffix
            shrug = max(0.0, min(1.0, params.get(f"shoulderShrug{x}", 0.0)))
            # Raising a shoulder turns it about +z: the left (pointing +x) toward +y, the right
            # (pointing -x) the other way round.
            lift = s.sign * shrug * MAX_SHRUG_RAD
            out.append((f"{p}Shoulder", _mat(q_axis((0.0, 0.0, 1.0), lift))))
            upper = segment(params, "upperArm", x)
            fore = segment(params, "forearm", x)
            hand = segment(params, "hand", x)
            palm = palm_from(hand, params.get(f"palmFacing{x}", 0.0), s.sign)
            out.append((f"{p}UpperArm", _mat(q_arc(_vec(s.rest[f"{p}UpperArm"]), _vec(upper)))))
            out.append((f"{p}LowerArm", _mat(q_arc(_vec(s.rest[f"{p}LowerArm"]), _vec(fore)))))
            rest_hand = _vec(s.rest[f"{p}Hand"])
            hand_turn = _mat(q_frame(rest_hand, _vec(s.rest_palm), _vec(hand), _vec(palm)))
            out.append((f"{p}Hand", hand_turn))
            spread = max(0.0, min(1.0, params.get(f"fingerSpread{x}", 0.0)))
            for f in s.fingers:
                curl = max(0.0, min(1.0, params.get(f"{f.name}Curl{x}", 0.0)))
                angles = THUMB_CURL_RAD if f.name == "thumb" else CURL_RAD
                fan_angle = s.sign * SPREAD_RAD.get(f.name, 0.0) * spread
                fan = _mat(q_axis(_vec(s.rest_palm), fan_angle))
                bent = np.eye(3, dtype=np.float32)
                axis = _vec(f.axis)
                for i, joint in enumerate(f.joints):
                    step = angles[min(i, len(angles) - 1)] * curl
                    bent = (bent @ _mat(q_axis(axis, step))).astype(np.float32)
                    out.append((joint, (hand_turn @ fan @ bent).astype(np.float32)))
        return sides
