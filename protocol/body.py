"""Upper body and hands: the shared types and their wire form (frame keys 8..12).

NOTE FOR CONSUMERS (render_window, avatars): the names below are the contract between tracking
(which fills them) and rendering (which draws them). Fields may be *added*; none of
``Side``, ``ArmPose.{upper_arm, forearm, hand, palm_normal}``, ``HandShape.{curls, spread}``,
``BodyPose.{shoulder_shrug, torso_roll, arms, hands}`` is renamed or removed without telling the
rendering side first.

Conventions, chosen so that nothing depends on whether the camera image was mirrored:

* "left" is always the user's *anatomical* left, in names as in vectors (like ARKit's
  ``eyeBlinkLeft``). ``arms[Side.LEFT]`` is the user's own left arm.
* Vectors are unit directions in the user's body frame: +x = the user's own left, +y = up,
  +z = forward out of the chest (toward the camera). An arm hanging at rest has
  ``upper_arm = forearm = hand = (0, -1, 0)``.
* ``None`` for an arm or a hand means "not seen in this frame": the renderer eases it back to
  rest (:func:`rest_arm`, :data:`REST_HAND`) instead of freezing it in the air.
* :meth:`BodyPose.mirrored` is the same operation as :meth:`ParamFrame.mirrored` applies to the
  face: sides swap and x flips sign (a mirror image of a left arm raised sideways is a right arm
  raised sideways).

Wire form: optional CBOR keys of the parameter frame, each a short byte string, so a full frame
with face, both arms and both hands stays well under 200 bytes (49 bytes here, 144 in all):

====  ===========  ========================================================================
key   field        encoding
====  ===========  ========================================================================
8     torso        3 bytes: shrug left u8, shrug right u8 (``round(v*255)``), roll int8
                   (``round(roll / (pi/2) * 127)``, so +-90 degrees)
9/10  arm L/R      12 bytes: upper_arm, forearm, hand, palm_normal; each 3 x int8
                   ``round(c * 127)``, renormalised on decode
11/12 hand L/R     6 bytes u8: curls thumb..pinky, spread (``round(v*255)``)
====  ===========  ========================================================================

Key 8 is present whenever the frame carries a body at all; keys 9..12 are present only for a side
that was seen. A frame without key 8 has ``body = None`` (an old peer, or the feature switched
off) and an old decoder simply ignores keys 8..12. Decoding is strict like the rest of the frame:
wrong types or lengths, keys 9..12 without key 8, or a direction vector too short to be a
quantised unit vector raise :class:`DecodeError`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import DecodeError, EncodeError

Vec3 = tuple[float, float, float]

K_TORSO = 8
K_ARM_LEFT = 9
K_ARM_RIGHT = 10
K_HAND_LEFT = 11
K_HAND_RIGHT = 12
#: Every frame key this module owns.
BODY_KEYS = (K_TORSO, K_ARM_LEFT, K_ARM_RIGHT, K_HAND_LEFT, K_HAND_RIGHT)

#: Torso roll is carried to +-90 degrees; nobody on a video call leans further.
MAX_TORSO_ROLL_RAD = math.pi / 2
FINGER_NAMES = ("thumb", "index", "middle", "ring", "pinky")
_TORSO_BYTES = 3
_ARM_BYTES = 12
_HAND_BYTES = 6
#: A decoded int8 vector shorter than this (in 1/127 units) is not a quantised unit vector: the
#: encoder's rounding moves the length of a unit vector by less than one unit.
_MIN_VEC_NORM = 100.0


#: Hand gestures a tracker recognises and a peer may announce (ctl ``Gesture``, the
#: ``gesture``/``peer_gesture`` events, the render command ``ShowGesture``). A receiver refuses
#: any other name: it is shown to the user, so it must come from this fixed set.
GESTURES = ("thumbs_up", "wave", "peace")


class Side(enum.IntEnum):
    LEFT = 0  # the user's anatomical left (like ARKit's eyeBlinkLeft)
    RIGHT = 1

    @property
    def other(self) -> Side:
        return Side.RIGHT if self is Side.LEFT else Side.LEFT


def normalized(v: Vec3) -> Vec3:
    """``v`` scaled to unit length; raises :class:`EncodeError` for a zero or non-finite vector."""
    n = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    if not math.isfinite(n) or n < 1e-9:
        raise EncodeError(f"direction vector {v} has no direction")
    return (v[0] / n, v[1] / n, v[2] / n)


def _mirror_vec(v: Vec3) -> Vec3:
    return (0.0 - v[0], v[1], v[2])  # 0.0 - x: no -0.0 in the seed view


@dataclass(frozen=True, slots=True)
class ArmPose:
    """One arm, as unit direction vectors in the user's body frame:
    +x = the user's own left, +y = up, +z = forward out of the chest (toward the camera).
    At rest (arm hanging) upper_arm = forearm = hand = (0, -1, 0)."""

    upper_arm: Vec3  # shoulder -> elbow
    forearm: Vec3  # elbow -> wrist
    hand: Vec3  # wrist -> middle-finger knuckle (MCP)
    palm_normal: Vec3  # out of the palm

    def mirrored(self) -> ArmPose:
        """The arm as seen in a mirror (to be stored on the *other* side)."""
        return ArmPose(
            _mirror_vec(self.upper_arm),
            _mirror_vec(self.forearm),
            _mirror_vec(self.hand),
            _mirror_vec(self.palm_normal),
        )

    def vectors(self) -> tuple[Vec3, Vec3, Vec3, Vec3]:
        return (self.upper_arm, self.forearm, self.hand, self.palm_normal)


@dataclass(frozen=True, slots=True)
class HandShape:
    """Finger articulation: one curl per finger plus how far the fingers are splayed."""

    curls: tuple[float, float, float, float, float]  # thumb, index, middle, ring, pinky: 0..1
    spread: float  # 0 fingers together .. 1 splayed

    def curl(self, finger: str) -> float:
        return self.curls[FINGER_NAMES.index(finger)]


def rest_arm(side: Side) -> ArmPose:
    """An arm hanging relaxed, palm toward the thigh (the left palm faces -x, the right +x)."""
    inward = -1.0 if side is Side.LEFT else 1.0
    down = (0.0, -1.0, 0.0)
    return ArmPose(down, down, down, (inward, 0.0, 0.0))


#: A relaxed hand: fingers slightly bent, a little apart.
REST_HAND = HandShape(curls=(0.15, 0.2, 0.2, 0.2, 0.2), spread=0.2)


@dataclass(frozen=True, slots=True)
class BodyPose:
    """Shoulders, arms and hands of one frame (see the module docstring for the conventions)."""

    shoulder_shrug: tuple[float, float] = (0.0, 0.0)  # left, right: 0 rest .. 1 raised
    torso_roll: float = 0.0  # radians, lean sideways (+ = toward the user's left)
    arms: tuple[ArmPose | None, ArmPose | None] = (None, None)  # indexed by Side; None = not seen
    hands: tuple[HandShape | None, HandShape | None] = (None, None)  # indexed by Side

    def arm(self, side: Side) -> ArmPose | None:
        return self.arms[side]

    def hand(self, side: Side) -> HandShape | None:
        return self.hands[side]

    def mirrored(self) -> BodyPose:
        """This pose as seen in a mirror: sides swap, x components and the roll flip sign."""
        left_arm, right_arm = self.arms
        return BodyPose(
            shoulder_shrug=(self.shoulder_shrug[1], self.shoulder_shrug[0]),
            torso_roll=-self.torso_roll,
            arms=(
                right_arm.mirrored() if right_arm is not None else None,
                left_arm.mirrored() if left_arm is not None else None,
            ),
            hands=(self.hands[1], self.hands[0]),
        )

    # -- wire form --------------------------------------------------------------------------
    def to_wire_map(self) -> dict[int, bytes]:
        """The frame keys this pose occupies (key 8 always, 9..12 for the sides seen)."""
        roll = _finite_enc(self.torso_roll, "torso_roll")
        roll = max(-MAX_TORSO_ROLL_RAD, min(MAX_TORSO_ROLL_RAD, roll))
        wire: dict[int, bytes] = {
            K_TORSO: bytes(
                (
                    _unit_byte(self.shoulder_shrug[0], "shoulder_shrug"),
                    _unit_byte(self.shoulder_shrug[1], "shoulder_shrug"),
                    round(roll / MAX_TORSO_ROLL_RAD * 127) & 0xFF,
                )
            )
        }
        for side, key in ((Side.LEFT, K_ARM_LEFT), (Side.RIGHT, K_ARM_RIGHT)):
            arm = self.arms[side]
            if arm is not None:
                wire[key] = b"".join(_vec_bytes(v) for v in arm.vectors())
        for side, key in ((Side.LEFT, K_HAND_LEFT), (Side.RIGHT, K_HAND_RIGHT)):
            hand = self.hands[side]
            if hand is not None:
                if len(hand.curls) != 5:
                    raise EncodeError(f"a hand has 5 curls, got {len(hand.curls)}")
                wire[key] = bytes(_unit_byte(c, "curl") for c in hand.curls) + bytes(
                    (_unit_byte(hand.spread, "spread"),)
                )
        return wire

    @classmethod
    def from_wire_map(cls, raw: Mapping[Any, Any]) -> BodyPose | None:
        """The body carried by a decoded frame map, or None when it carries none."""
        if K_TORSO not in raw:
            if any(k in raw for k in BODY_KEYS):
                raise DecodeError("arm or hand keys without the torso key 8")
            return None
        torso = _bytes(raw[K_TORSO], "torso", _TORSO_BYTES)
        arms: list[ArmPose | None] = [None, None]
        hands: list[HandShape | None] = [None, None]
        for side, key in ((Side.LEFT, K_ARM_LEFT), (Side.RIGHT, K_ARM_RIGHT)):
            if key in raw:
                b = _bytes(raw[key], f"{side.name.lower()} arm", _ARM_BYTES)
                arms[side] = ArmPose(*(_vec_from(b[i : i + 3]) for i in range(0, 12, 3)))
        for side, key in ((Side.LEFT, K_HAND_LEFT), (Side.RIGHT, K_HAND_RIGHT)):
            if key in raw:
                b = _bytes(raw[key], f"{side.name.lower()} hand", _HAND_BYTES)
                hands[side] = HandShape(
                    curls=(b[0] / 255, b[1] / 255, b[2] / 255, b[3] / 255, b[4] / 255),
                    spread=b[5] / 255,
                )
        return cls(
            shoulder_shrug=(torso[0] / 255, torso[1] / 255),
            torso_roll=_int8(torso[2]) / 127 * MAX_TORSO_ROLL_RAD,
            arms=(arms[0], arms[1]),
            hands=(hands[0], hands[1]),
        )

    # -- the seed's named view ----------------------------------------------------------------
    def to_seed(self) -> dict[str, Any]:
        """Readable names: ``shoulderShrug`` [left, right], ``torsoRoll`` (radians),
        ``leftArm``/``rightArm`` ({upperArm, forearm, hand, palmNormal}: [x, y, z]) and
        ``leftHand``/``rightHand`` ({thumb..pinky curls, spread}); unseen sides are null."""

        def vec(v: Vec3) -> list[float]:
            return [round(c, 4) for c in v]

        out: dict[str, Any] = {
            "shoulderShrug": [round(s, 4) for s in self.shoulder_shrug],
            "torsoRoll": round(self.torso_roll, 4),
        }
        for side in Side:
            name = side.name.lower()
            arm = self.arms[side]
            out[f"{name}Arm"] = (
                None
                if arm is None
                else {
                    "upperArm": vec(arm.upper_arm),
                    "forearm": vec(arm.forearm),
                    "hand": vec(arm.hand),
                    "palmNormal": vec(arm.palm_normal),
                }
            )
            hand = self.hands[side]
            out[f"{name}Hand"] = (
                None
                if hand is None
                else {
                    **{f: round(c, 4) for f, c in zip(FINGER_NAMES, hand.curls, strict=True)},
                    "spread": round(hand.spread, 4),
                }
            )
        return out


#: Nobody in view: shoulders level, both arms hanging, hands relaxed.
REST = BodyPose(arms=(rest_arm(Side.LEFT), rest_arm(Side.RIGHT)), hands=(REST_HAND, REST_HAND))


# -- codec helpers ------------------------------------------------------------------------------
def _finite_enc(value: float, name: str) -> float:
    if not math.isfinite(value):
        raise EncodeError(f"{name} is not finite ({value})")
    return value


def _unit_byte(value: float, name: str) -> int:
    v = _finite_enc(float(value), name)
    return max(0, min(255, round(v * 255)))


def _vec_bytes(v: Vec3) -> bytes:
    if len(v) != 3:
        raise EncodeError(f"expected a 3-vector, got {len(v)} components")
    u = normalized((float(v[0]), float(v[1]), float(v[2])))
    return bytes(max(-127, min(127, round(c * 127))) & 0xFF for c in u)


def _int8(b: int) -> int:
    return b - 256 if b > 127 else b


def _vec_from(b: bytes) -> Vec3:
    x, y, z = _int8(b[0]), _int8(b[1]), _int8(b[2])
    n = math.sqrt(x * x + y * y + z * z)
    if n < _MIN_VEC_NORM:
        raise DecodeError(f"direction ({x}, {y}, {z}) is not a quantised unit vector")
    return (x / n, y / n, z / n)


def _bytes(value: Any, name: str, length: int) -> bytes:
    if not isinstance(value, bytes):
        raise DecodeError(f"{name} must be a byte string, got {type(value).__name__}")
    if len(value) != length:
        raise DecodeError(f"{name}: expected {length} bytes, got {len(value)}")
    return value
