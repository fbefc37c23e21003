"""VMC bones for the upper body and hands: :class:`protocol.body.BodyPose` -> ``Bone/Pos``.

VMC sends each bone's *local* rotation (relative to its parent) and marionettes apply it to
their own model, which only works between rigs that agree on what "no rotation" means. VRM's
normalised humanoid rig is that agreement: every bone at identity is the T-pose, arms straight
out to the sides (the left arm along Unity's -x, the right along +x), palms down, fingers
straight along the arm. So a bone's rotation here is the turn that takes its T-pose direction
to the tracked one, expressed in its parent's frame.

Our body vectors (``protocol.body``) are unit directions in the user's body frame: +x the
user's own left, +y up, +z forward. Unity's avatar frame has +x on the avatar's right, so a
vector converts with S = diag(-1, 1, 1), as the head pose does (:mod:`protocol.vmc`).

- ``UpperChest``: the torso's sideways lean (``torso_roll`` > 0 toward the user's own left is
  +z in Unity: the right side rises).
- ``LeftShoulder``/``RightShoulder``: the shrug, up to :data:`MAX_SHRUG_RAD`.
- ``UpperArm``/``LowerArm``: the shortest turn from the T-pose direction to the tracked
  direction (the twist along a long bone is not tracked; the hand carries it).
- ``Hand``: the full orientation from the hand's direction and its palm normal.
- Fingers (``Thumb``/``Index``/``Middle``/``Ring``/``Little`` x ``Proximal``/``Intermediate``/
  ``Distal``): each curl bends the three joints toward the palm (up to
  :data:`CURL_RAD`); ``spread`` fans the proximal joints apart in the palm's plane. This is an
  approximation of a hand (our tracker measures one curl per finger, not every joint).

A side that was not seen is sent at rest (:func:`protocol.body.rest_arm`, ``REST_HAND``), as our
renderer eases it to rest; a frame without a body sends none of these bones, so a receiver's
own idle motion or IK stays in charge.
"""

from __future__ import annotations

import math

from .body import FINGER_NAMES, REST_HAND, ArmPose, BodyPose, HandShape, Side, rest_arm

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]
Bone = tuple[str, Vec3, Quat]

IDENTITY: Quat = (0.0, 0.0, 0.0, 1.0)
#: A full shrug lifts the shoulder by this much.
MAX_SHRUG_RAD = math.radians(25)
#: Bend of (proximal, intermediate, distal) at curl 1, fingers and thumb.
CURL_RAD = (math.radians(70), math.radians(95), math.radians(65))
THUMB_CURL_RAD = (math.radians(35), math.radians(45), math.radians(60))
#: Proximal fan at spread 1 (index toward the thumb, little away from it), per finger.
SPREAD_RAD = {"index": math.radians(10), "middle": 0.0, "ring": -math.radians(8)}
SPREAD_RAD["pinky"] = -math.radians(16)
#: Unity's names for our fingers (HumanBodyBones calls the pinky "Little").
UNITY_FINGERS = {"thumb": "Thumb", "index": "Index", "middle": "Middle", "ring": "Ring"}
UNITY_FINGERS["pinky"] = "Little"
JOINTS = ("Proximal", "Intermediate", "Distal")

#: Local offsets of a typical adult rig (metres, the left side; x flips for the right).
#: Marionettes apply the rotations; these only keep a receiver that reads positions sane.
_OFFSETS: dict[str, Vec3] = {
    "Shoulder": (-0.02, 0.12, 0.0),
    "UpperArm": (-0.1, 0.0, 0.0),
    "LowerArm": (-0.26, 0.0, 0.0),
    "Hand": (-0.24, 0.0, 0.0),
    "Proximal": (-0.08, 0.0, 0.0),
    "Intermediate": (-0.04, 0.0, 0.0),
    "Distal": (-0.025, 0.0, 0.0),
}
UPPER_CHEST_OFFSET: Vec3 = (0.0, 0.12, 0.0)


def bone_names() -> list[str]:
    """Every bone :func:`body_bones` sends, in order (HumanBodyBones names)."""
    names = ["UpperChest"]
    for side in ("Left", "Right"):
        names += [f"{side}Shoulder", f"{side}UpperArm", f"{side}LowerArm", f"{side}Hand"]
        names += [f"{side}{UNITY_FINGERS[f]}{j}" for f in FINGER_NAMES for j in JOINTS]
    return names


# -- small quaternion kit (x, y, z, w; Hamilton product; Unity's numbers) ----------------------
def q_mul(a: Quat, b: Quat) -> Quat:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    )


def q_inv(q: Quat) -> Quat:
    return (-q[0], -q[1], -q[2], q[3])


def q_axis(axis: Vec3, angle: float) -> Quat:
    s = math.sin(angle / 2)
    return (axis[0] * s, axis[1] * s, axis[2] * s, math.cos(angle / 2))


def q_rotate(q: Quat, v: Vec3) -> Vec3:
    """``v`` turned by ``q``."""
    x, y, z, _w = q_mul(q_mul(q, (v[0], v[1], v[2], 0.0)), q_inv(q))
    return (x, y, z)


def _cross(a: Vec3, b: Vec3) -> Vec3:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _dot(a: Vec3, b: Vec3) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _unit(v: Vec3) -> Vec3:
    n = math.sqrt(_dot(v, v))
    return (v[0] / n, v[1] / n, v[2] / n) if n > 1e-12 else (0.0, 0.0, 0.0)


def q_arc(a: Vec3, b: Vec3) -> Quat:
    """The shortest turn taking unit ``a`` to unit ``b``."""
    d = _dot(a, b)
    if d < -0.999999:  # opposite: any axis at right angles to a will do
        axis = _cross(a, (0.0, 0.0, 1.0))
        if _dot(axis, axis) < 1e-9:
            axis = _cross(a, (0.0, 1.0, 0.0))
        return q_axis(_unit(axis), math.pi)
    c = _cross(a, b)
    q = (c[0], c[1], c[2], 1.0 + d)
    n = math.sqrt(_dot(c, c) + q[3] * q[3])
    return (q[0] / n, q[1] / n, q[2] / n, q[3] / n)


def q_frame(t_dir: Vec3, t_up: Vec3, dir_: Vec3, up: Vec3) -> Quat:
    """The turn taking the frame (t_dir, t_up) onto (dir_, up): first the direction, then the
    twist about it that brings the up vector (made perpendicular) round."""
    first = q_arc(t_dir, dir_)
    moved = q_rotate(first, t_up)
    k = _dot(up, dir_)
    up_perp = _unit((up[0] - k * dir_[0], up[1] - k * dir_[1], up[2] - k * dir_[2]))
    if up_perp == (0.0, 0.0, 0.0):
        return first
    angle = math.atan2(_dot(_cross(moved, up_perp), dir_), _dot(moved, up_perp))
    return q_mul(q_axis(dir_, angle), first)


def unity(v: Vec3) -> Vec3:
    """Our body frame -> Unity's (x flips)."""
    return (-v[0], v[1], v[2])


# -- the bones ---------------------------------------------------------------------------------
def body_bones(body: BodyPose) -> list[Bone]:
    """The ``Bone/Pos`` contents for one body: (name, local position, local rotation)."""
    bones: list[Bone] = [
        ("UpperChest", UPPER_CHEST_OFFSET, q_axis((0.0, 0.0, 1.0), body.torso_roll))
    ]
    for side in Side:
        arm = body.arms[side] or rest_arm(side)
        hand = body.hands[side] or REST_HAND
        bones += _side_bones(side, body.shoulder_shrug[side], arm, hand)
    return bones


def _side_bones(side: Side, shrug: float, arm: ArmPose, hand: HandShape) -> list[Bone]:
    name = "Left" if side is Side.LEFT else "Right"
    sign = -1.0 if side is Side.LEFT else 1.0  # the T-pose arm points along sign * x
    t_dir: Vec3 = (sign, 0.0, 0.0)
    t_palm: Vec3 = (0.0, -1.0, 0.0)

    def pos(key: str) -> Vec3:
        x, y, z = _OFFSETS[key]
        return (x if side is Side.LEFT else -x, y, z)

    # Raising the left shoulder turns its bone (pointing -x) up: -z in Unity; the right, +z.
    shoulder = q_axis((0.0, 0.0, 1.0), sign * min(1.0, max(0.0, shrug)) * MAX_SHRUG_RAD)
    upper_w = q_arc(t_dir, _unit(unity(arm.upper_arm)))
    fore_w = q_arc(t_dir, _unit(unity(arm.forearm)))
    hand_w = q_frame(t_dir, t_palm, _unit(unity(arm.hand)), _unit(unity(arm.palm_normal)))
    # Arm directions are in the chest's frame; the shoulder's shrug is its own local turn.
    bones: list[Bone] = [
        (f"{name}Shoulder", pos("Shoulder"), shoulder),
        (f"{name}UpperArm", pos("UpperArm"), q_mul(q_inv(shoulder), upper_w)),
        (f"{name}LowerArm", pos("LowerArm"), q_mul(q_inv(upper_w), fore_w)),
        (f"{name}Hand", pos("Hand"), q_mul(q_inv(fore_w), hand_w)),
    ]
    # Fingers bend toward the palm: for the left hand (along -x, palm -y) that is +z; the
    # right mirrors it. The fan is about the palm normal (y).
    bend_axis: Vec3 = (0.0, 0.0, 1.0)
    for finger, curl in zip(FINGER_NAMES, hand.curls, strict=True):
        curl = min(1.0, max(0.0, curl))
        angles = THUMB_CURL_RAD if finger == "thumb" else CURL_RAD
        fan = SPREAD_RAD.get(finger, 0.0) * min(1.0, max(0.0, hand.spread))
        for joint, angle in zip(JOINTS, angles, strict=True):
            turn = q_axis(bend_axis, -sign * curl * angle)
            if finger == "thumb":  # the thumb folds across the palm, about the palm normal
                turn = q_axis((0.0, 1.0, 0.0), sign * curl * angle)
            elif joint == "Proximal" and fan:
                turn = q_mul(q_axis((0.0, 1.0, 0.0), -sign * fan), turn)
            bones.append((f"{name}{UNITY_FINGERS[finger]}{joint}", pos(joint), turn))
    return bones
