"""The VMC protocol (OSC over UDP) as seen from a parameter frame: names, coordinates, and the
pure frame <-> message mapping. No sockets here: the VMC source in ``tracking/`` (VMC in) and
the sender in ``peer/`` (VMC out) both import this module, and the tests check it without
either process.

Spec: https://protocol.vmc.info/marionette-spec (Performer -> Marionette). What we send, one
OSC bundle per frame, in this order:

- ``/VMC/Ext/OK`` (int loaded=1, int calibration state 0|3, int calibration mode 0,
  int tracking status 1|0) - v2.7 form; tracking status is 1 while a face is tracked or held.
- ``/VMC/Ext/T`` (float seconds since the sender started).
- ``/VMC/Ext/Root/Pos`` (string "root", float px py pz, qx qy qz qw).
- ``/VMC/Ext/Bone/Pos`` (string "Neck" then "Head", float px py pz, qx qy qz qw); then, for a
  frame that carries a body (``ParamFrame.body``), UpperChest, the shoulders, arms, hands and
  the fingers' three joints (:mod:`protocol.vmc_body`).
- ``/VMC/Ext/Blend/Val`` (string name, float value) for the 52 ARKit ("perfect sync") names and
  the VRM 0.x presets, then ``/VMC/Ext/Blend/Apply`` (no arguments).

What we read (a performer's messages, one state turned into a frame per ``Blend/Apply``) is
:class:`protocol.vmc_in.VmcState`, beside this module: it shares the names and coordinates
below.

Coordinates. VMC is Unity's: left-handed, +x the avatar's right, +y up, +z the avatar's
forward; quaternions are sent x, y, z, w; positions in metres. Our pose (``protocol.frame``,
``tracking/pose.py``) is right-handed camera space: +X the image's right (the subject's own
left), +Y up, +Z toward the viewer (the subject's forward). So Unity = S * ours with
``S = diag(-1, 1, 1)``, and a rotation R becomes ``S R S``. With ours
``R = Ry(yaw) Rx(pitch) Rz(-roll)`` that is ``Ry(-yaw) Rx(pitch) Rz(roll)``: exactly Unity's
``Quaternion.Euler(pitch, -yaw, roll)`` (Unity applies Z, then X, then Y). In words, on the
avatar: pitch > 0 nods down (+x rotation in Unity), yaw > 0 turns to the avatar's own left
(negative Unity y), roll > 0 tilts toward the avatar's own left shoulder (+z in Unity). VMC
drives the avatar in its own terms, as ours do: no mirroring on either side.

Bones: the whole head rotation goes on ``Head``; ``Neck`` is sent at rest (identity), so a
receiver that composes the chain gets the same head. On the way in, ``Neck * Head`` is the
head's rotation (a sender that splits the turn between the two is read correctly). Bone
positions are a typical adult rig's local offsets: marionettes apply bone rotations only.

Root: its position carries the head's offset from the resting pose (metres, Unity axes) only
on calibrated frames, where that offset is small; an uncalibrated frame's translation is from
the camera (about half a metre back) and would move the avatar, so the root stays at the
origin. On the way in the root is ignored: it is the avatar's place in the sender's scene, not
a head offset, and our frames carry no translation from VMC.

Blendshapes: the 51 MediaPipe channels go out under their ARKit names in the perfect-sync
spelling (``EyeBlinkLeft``: the first letter upper case, as perfect-sync VRM clips are named),
plus ARKit's ``TongueOut`` at 0 (MediaPipe has no tongue). The VRM presets are derived: A/I/U/E/O
from the mouth, Blink from both eyes (Blink_L/_R carry only the difference, so an avatar with all
three does not close an eye twice), LookUp/Down/Left/Right from the gaze channels, and
Joy/Angry/Sorrow from the emotion preset (Fun stays 0: no expression of ours means it). On the
way in names match without regard to case; a perfect-sync value wins, the presets only fill
channels the sender did not name (a VRM-only tracker), and Joy/Angry/Sorrow set the emotion.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder

from .blendshapes import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES, NUM_BLENDSHAPES
from .body import REST as REST_BODY
from .errors import DecodeError
from .frame import Emotion, FrameFlags, ParamFrame, quantize_unit
from .vmc_body import body_bones

# Re-exported: the VMC input reads datagrams with these (protocol.vmc_osc says why).
from .vmc_osc import MAX_PACKET_BYTES as MAX_PACKET_BYTES
from .vmc_osc import packet_messages as packet_messages

#: The marionette's port by convention (performers send to it).
DEFAULT_PORT = 39539

ADDR_OK = "/VMC/Ext/OK"
ADDR_TIME = "/VMC/Ext/T"
ADDR_ROOT = "/VMC/Ext/Root/Pos"
ADDR_BONE = "/VMC/Ext/Bone/Pos"
ADDR_BLEND = "/VMC/Ext/Blend/Val"
ADDR_APPLY = "/VMC/Ext/Blend/Apply"

#: Calibration state values of ``/VMC/Ext/OK``.
CALIBRATION_UNCALIBRATED = 0
CALIBRATION_DONE = 3

Quat = tuple[float, float, float, float]
Vec3 = tuple[float, float, float]
IDENTITY: Quat = (0.0, 0.0, 0.0, 1.0)

#: Local bone offsets of a typical adult rig, metres (marionettes use the rotations).
NECK_OFFSET: Vec3 = (0.0, 0.1, 0.0)
HEAD_OFFSET: Vec3 = (0.0, 0.08, 0.0)


def perfect_sync_name(name: str) -> str:
    """MediaPipe/ARKit ``eyeBlinkLeft`` -> perfect-sync clip name ``EyeBlinkLeft``."""
    return name[:1].upper() + name[1:]


#: The 52 ARKit names, perfect-sync spelling: ours (without MediaPipe's ``_neutral``) + tongue.
ARKIT_NAMES: tuple[str, ...] = (
    *(perfect_sync_name(n) for n in BLENDSHAPE_NAMES if n != "_neutral"),
    "TongueOut",
)
assert len(ARKIT_NAMES) == 52
#: lower-cased ARKit name -> our channel index (TongueOut has none).
ARKIT_INDEX: dict[str, int] = {
    n.lower(): i for i, n in enumerate(BLENDSHAPE_NAMES) if n != "_neutral"
}

VRM_PRESETS: tuple[str, ...] = (
    "A", "I", "U", "E", "O",
    "Blink", "Blink_L", "Blink_R",
    "Joy", "Angry", "Sorrow", "Fun",
    "LookUp", "LookDown", "LookLeft", "LookRight",
)  # fmt: skip
BLEND_NAMES: tuple[str, ...] = (*ARKIT_NAMES, *VRM_PRESETS)

_EMOTION_PRESET = {Emotion.HAPPY: "Joy", Emotion.ANGRY: "Angry", Emotion.SAD: "Sorrow"}
PRESET_EMOTION = {v.lower(): k for k, v in _EMOTION_PRESET.items()}


# -- coordinates ---------------------------------------------------------------------------
def _axis_quat(axis: int, angle: float) -> Quat:
    s, c = math.sin(angle / 2), math.cos(angle / 2)
    q = [0.0, 0.0, 0.0, c]
    q[axis] = s
    return (q[0], q[1], q[2], q[3])


def quat_mul(a: Quat, b: Quat) -> Quat:
    """Hamilton product ``a * b`` (x, y, z, w): rotate by b, then by a (Unity's ``a * b``)."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    )


def unity_quat_from_pose(pitch: float, yaw: float, roll: float) -> Quat:
    """Our (pitch, yaw, roll) radians -> the head's Unity quaternion (x, y, z, w).

    ``Quaternion.Euler(pitch, -yaw, roll)``: Ry(-yaw) * Rx(pitch) * Rz(roll) (module docstring).
    """
    q = quat_mul(_axis_quat(1, -yaw), _axis_quat(0, pitch))
    return quat_mul(q, _axis_quat(2, roll))


def pose_from_unity_quat(q: Quat) -> Vec3:
    """A Unity quaternion (x, y, z, w; any length but zero) -> our (pitch, yaw, roll) radians.

    Builds the Unity rotation matrix, conjugates it by S = diag(-1, 1, 1) into our frame and
    decomposes it as ``tracking.pose.euler_from_rotation`` does. Raises DecodeError for a zero
    or non-finite quaternion.
    """
    x, y, z, w = q
    n = x * x + y * y + z * z + w * w
    if not math.isfinite(n) or n < 1e-12:
        raise DecodeError(f"not a rotation quaternion: {q!r}")
    s = 2.0 / n
    # Unity matrix entries we need (row, column), from the unit quaternion formula.
    m10 = s * (x * y + w * z)
    m11 = 1.0 - s * (x * x + z * z)
    m12 = s * (y * z - w * x)
    m02 = s * (x * z + w * y)
    m22 = 1.0 - s * (x * x + y * y)
    # Ours = S M S: entries (i, j) change sign when exactly one of i, j is 0.
    r12, r02, r22, r10, r11 = m12, -m02, m22, -m10, m11
    pitch = math.asin(max(-1.0, min(1.0, -r12)))
    yaw = math.atan2(r02, r22)
    roll = -math.atan2(r10, r11)
    return (pitch, yaw, roll)


def unity_position(translation_cm: Vec3) -> Vec3:
    """Our camera-space centimetres -> Unity metres (x flips: the avatar's right is -X)."""
    x, y, z = translation_cm
    return (-x / 100.0, y / 100.0, z / 100.0)


# -- frame -> VMC ---------------------------------------------------------------------------
def _avg(a: float, b: float) -> float:
    return (a + b) / 2.0


def preset_values(frame: ParamFrame) -> dict[str, float]:
    """The VRM 0.x preset weights a frame implies (module docstring says how)."""
    w = frame.weight
    left, right = w("eyeBlinkLeft"), w("eyeBlinkRight")
    blink = min(left, right)
    out = {
        "A": w("jawOpen"),
        "I": _avg(w("mouthStretchLeft"), w("mouthStretchRight")),
        "U": w("mouthPucker"),
        "E": _avg(w("mouthLowerDownLeft"), w("mouthLowerDownRight")),
        "O": w("mouthFunnel"),
        "Blink": blink,
        "Blink_L": left - blink,
        "Blink_R": right - blink,
        "Joy": 0.0,
        "Angry": 0.0,
        "Sorrow": 0.0,
        "Fun": 0.0,
        "LookUp": _avg(w("eyeLookUpLeft"), w("eyeLookUpRight")),
        "LookDown": _avg(w("eyeLookDownLeft"), w("eyeLookDownRight")),
        # Looking to one's own left: the left eye looks out, the right eye in.
        "LookLeft": _avg(w("eyeLookOutLeft"), w("eyeLookInRight")),
        "LookRight": _avg(w("eyeLookInLeft"), w("eyeLookOutRight")),
    }
    if frame.emotion is not None and frame.emotion in _EMOTION_PRESET:
        out[_EMOTION_PRESET[frame.emotion]] = quantize_unit(frame.emotion_weight) / 255.0
    return out


def frame_messages(frame: ParamFrame, t: float) -> list[tuple[str, list[Any]]]:
    """The messages of one frame's bundle, in order, as (address, arguments): the readable
    form tests and the template use. ``t`` is the sender's relative time in seconds."""
    face = bool(frame.flags & (FrameFlags.FACE_PRESENT | FrameFlags.HELD))
    calibrated = bool(frame.flags & FrameFlags.CALIBRATED)
    head = unity_quat_from_pose(*frame.head_rotation) if face else IDENTITY
    root = unity_position(frame.head_translation) if face and calibrated else (0.0, 0.0, 0.0)
    state = CALIBRATION_DONE if calibrated else CALIBRATION_UNCALIBRATED
    messages: list[tuple[str, list[Any]]] = [
        (ADDR_OK, [1, state, 0, int(face)]),
        (ADDR_TIME, [float(t)]),
        (ADDR_ROOT, ["root", *root, *IDENTITY]),
        (ADDR_BONE, ["Neck", *NECK_OFFSET, *IDENTITY]),
        (ADDR_BONE, ["Head", *HEAD_OFFSET, *head]),
    ]
    if frame.body is not None:
        for name, position, rotation in body_bones(frame.body):
            messages.append((ADDR_BONE, [name, *position, *rotation]))
    weights = frame.blendshapes
    for name in BLENDSHAPE_NAMES[1:]:
        messages.append(
            (ADDR_BLEND, [perfect_sync_name(name), weights[BLENDSHAPE_INDEX[name]] / 255])
        )
    messages.append((ADDR_BLEND, ["TongueOut", 0.0]))
    for name, value in preset_values(frame).items():
        messages.append((ADDR_BLEND, [name, value]))
    messages.append((ADDR_APPLY, []))
    return messages


_CHANNELS = tuple(range(1, NUM_BLENDSHAPES))  # every channel but MediaPipe's _neutral


def frame_numbers(frame: ParamFrame, t: float) -> list[float]:
    """Just the numbers of :func:`frame_messages`, in the same order (the encoder's hot path:
    no names, no tuples; a test holds the two equal)."""
    face = bool(frame.flags & (FrameFlags.FACE_PRESENT | FrameFlags.HELD))
    calibrated = bool(frame.flags & FrameFlags.CALIBRATED)
    head = unity_quat_from_pose(*frame.head_rotation) if face else IDENTITY
    root = unity_position(frame.head_translation) if face and calibrated else (0.0, 0.0, 0.0)
    state = CALIBRATION_DONE if calibrated else CALIBRATION_UNCALIBRATED
    weights = frame.blendshapes
    body: list[float] = []
    if frame.body is not None:
        for _name, position, rotation in body_bones(frame.body):
            body += [*position, *rotation]
    return [
        1, state, 0, int(face), float(t),
        *root, *IDENTITY,
        *NECK_OFFSET, *IDENTITY,
        *HEAD_OFFSET, *head,
        *body,
        *[weights[i] / 255 for i in _CHANNELS],
        0.0,  # TongueOut
        *preset_values(frame).values(),
    ]  # fmt: skip


_BUNDLE_HEAD = b"#bundle\x00" + struct.pack(">Q", 1)  # OSC time tag 1 = "immediately"
_F32 = struct.Struct(">f")
_I32 = struct.Struct(">i")


class BundleEncoder:
    """Encodes frames to one OSC bundle each, fast enough for every frame at a small CPU cost.

    python-osc builds every message once (the first frame) into a template; each later frame
    copies the template and overwrites only the numbers, whose byte offsets never move (OSC
    floats and ints are fixed 4-byte fields, and the names do not change). That keeps a frame
    at tens of microseconds instead of a couple of milliseconds of builder calls, and the bytes
    are python-osc's own (the tests parse them with python-osc's dispatcher).
    """

    def __init__(self) -> None:
        #: Two layouts: with the body's bones and without (a frame carries a body or not).
        self._layouts = {
            False: _layout(ParamFrame(seq=0, timestamp_us=0)),
            True: _layout(ParamFrame(seq=0, timestamp_us=0, body=REST_BODY)),
        }

    def encode(self, frame: ParamFrame, t: float) -> bytes:
        template, slots = self._layouts[frame.body is not None]
        values = frame_numbers(frame, t)
        buf = bytearray(template)
        for (offset, fmt), value in zip(slots, values, strict=True):
            fmt.pack_into(buf, offset, value)
        return bytes(buf)


def _layout(frame: ParamFrame) -> tuple[bytes, list[tuple[int, struct.Struct]]]:
    """A bundle template built by python-osc, and (byte offset, struct) for every number in
    it, in message order."""
    parts: list[bytes] = [_BUNDLE_HEAD]
    slots: list[tuple[int, struct.Struct]] = []
    at = len(_BUNDLE_HEAD)
    for address, args in frame_messages(frame, 0.0):
        builder = OscMessageBuilder(address)
        for arg in args:
            tag = "s" if isinstance(arg, str) else "i" if isinstance(arg, int) else "f"
            builder.add_arg(arg, tag)
        data = builder.build().dgram
        parts.append(_I32.pack(len(data)))
        parts.append(data)
        numbers = [a for a in args if not isinstance(a, str)]
        # The numbers are the message's last 4 * len(numbers) bytes (strings come first).
        start = at + 4 + len(data) - 4 * len(numbers)
        for i, arg in enumerate(numbers):
            slots.append((start + 4 * i, _I32 if isinstance(arg, int) else _F32))
        at += 4 + len(data)
    return b"".join(parts), slots


def parse_target(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``[IPv6]:PORT``) where VMC goes -> (host, port). Raises ValueError
    with a sentence for people; the host is not resolved here (no I/O in this module)."""
    text = text.strip()
    host, sep, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{text!r}: write an IPv6 address in brackets, [ADDRESS]:PORT")
    if not sep or not host or any(c.isspace() for c in host):
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:{DEFAULT_PORT})")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r}: the port must be a number in 1..65535")
    return host, int(port_text)


#: Where ``--source vmc:PORT`` listens when no host is given: this machine only.
LISTEN_LOOPBACK = "127.0.0.1"


def parse_source_spec(spec: str) -> tuple[str, int] | None:
    """``vmc:PORT`` or ``vmc:HOST:PORT`` (the tracker's VMC source) -> (host, port) to listen
    on; None if ``spec`` is not a VMC spec. ValueError (a sentence) for a bad one. Here, not in
    ``tracking/``, so front-ends can refuse a bad spec before any process starts."""
    if not spec.startswith("vmc:"):
        return None
    host, _, port_text = spec[4:].rpartition(":")
    host = host.strip("[]") or LISTEN_LOOPBACK
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"bad VMC source {spec!r}: use vmc:PORT or vmc:HOST:PORT (1..65535)")
    return host, int(port_text)
