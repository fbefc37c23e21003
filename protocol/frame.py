"""The parameter frame: one tracked camera frame's expression and head pose, on the hot path.

Wire form (version 1) is a CBOR map with small integer keys, never string keys:

====  ===============  ==========================================================
key   field            encoding
====  ===============  ==========================================================
0     version          uint (1)
1     seq              uint, wraps at 2**32
2     timestamp_us     uint, sender's CLOCK_MONOTONIC at capture, microseconds
3     flags            uint, :class:`FrameFlags`
4     head_rotation    array of 3 floats (pitch, yaw, roll; radians) as float16
5     head_translation array of 3 floats (x, y, z; centimetres, camera space) as float16
6     blendshapes      byte string of 52 bytes, ``round(v * 255)`` in MediaPipe's order
7     emotion          optional array [preset uint, weight uint 0..255]
8-12  body             optional upper body and hands, see :mod:`protocol.body`
====  ===============  ==========================================================

Keys 13 and above are reserved for extras (gaze, ...); a decoder ignores keys it does not know,
so older clients keep working when newer ones add channels (a build from before the body keys
ignores 8..12 the same way). A face-only frame is about 95 bytes, one with both arms and hands
about 145; :data:`TARGET_FRAME_BYTES` and :data:`TARGET_BODY_FRAME_BYTES` are the design targets
and :data:`MAX_FRAME_BYTES` the hard cap checked before decoding.
"""

from __future__ import annotations

import enum
import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any

from . import cbor
from .blendshapes import BLENDSHAPE_INDEX, MIRROR_PERMUTATION, NUM_BLENDSHAPES
from .body import BODY_KEYS, BodyPose
from .errors import DecodeError, EncodeError

FRAME_VERSION = 1
#: Design target for a full frame (all blendshapes, pose, flags, emotion).
TARGET_FRAME_BYTES = 128
#: Design target for a full frame that also carries the upper body and both hands.
TARGET_BODY_FRAME_BYTES = 200
#: Hard cap: anything bigger is refused before decoding (a frame is never legitimately this big).
MAX_FRAME_BYTES = 1024

#: Head rotation is clamped to a half-turn each way: a tracker never reports more.
MAX_ROTATION_RAD = math.pi
#: Translation is clamped to 10 m; float16 keeps ~0.5 cm precision at 1 m, enough for a head.
MAX_TRANSLATION_CM = 1000.0
_SEQ_MODULO = 1 << 32
_MAX_TIMESTAMP_US = (1 << 63) - 1

K_VERSION, K_SEQ, K_TIMESTAMP, K_FLAGS, K_ROTATION, K_TRANSLATION, K_BLENDSHAPES, K_EMOTION = range(
    8
)
_REQUIRED_KEYS = (K_VERSION, K_SEQ, K_TIMESTAMP, K_FLAGS, K_ROTATION, K_TRANSLATION, K_BLENDSHAPES)

_F16 = struct.Struct("<e")


class FrameFlags(enum.IntFlag):
    """Per-frame state bits."""

    FACE_PRESENT = 1
    CALIBRATED = 2
    MIRRORED = 4
    #: Tracking paused by the user (privacy): the receiver should idle the avatar.
    PAUSED = 8
    #: The pose is held from an earlier frame during a brief tracking loss.
    HELD = 16
    #: No face: the mouth blendshapes come from the sender's voice (peer.voice.mouth); the
    #: receiver draws the mouth from them while the rest of the face idles.
    VOICE_MOUTH = 32


class Emotion(enum.IntEnum):
    """Emotion presets a user can blend over tracking (hotkeys in the TUI)."""

    NEUTRAL = 0
    HAPPY = 1
    SAD = 2
    ANGRY = 3
    SURPRISED = 4


def _f16(value: float) -> float:
    """Round ``value`` to the nearest float16 (what the wire will carry)."""
    return float(_F16.unpack(_F16.pack(value))[0])


def _clamp(value: float, limit: float) -> float:
    return -limit if value < -limit else limit if value > limit else value


def quantize_unit(value: float) -> int:
    """Map a 0..1 weight to one byte; NaN becomes 0, out-of-range values are clamped."""
    if value != value:  # NaN
        return 0
    q = round(value * 255.0)
    return 0 if q < 0 else 255 if q > 255 else q


@dataclass(slots=True)
class ParamFrame:
    """One frame of expression and pose parameters.

    ``blendshapes`` holds the 52 quantised weights as bytes (the wire form), because that is what
    every consumer can afford to copy around; use :meth:`weight` / :meth:`weights` for floats.
    """

    seq: int
    timestamp_us: int
    flags: FrameFlags = FrameFlags(0)  # noqa: RUF009 - an immutable int flag
    head_rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    head_translation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    blendshapes: bytes = bytes(NUM_BLENDSHAPES)
    emotion: Emotion | None = None
    emotion_weight: float = 0.0
    version: int = FRAME_VERSION
    #: Decoded keys this version does not interpret (forward compatibility; not re-encoded).
    extras: dict[int, Any] = field(default_factory=dict)
    #: Upper body and hands (keys 8..12); None when the sender tracks no body (or is older).
    body: BodyPose | None = None

    # -- construction helpers -------------------------------------------------------------
    @classmethod
    def from_weights(
        cls,
        seq: int,
        timestamp_us: int,
        weights: Any,
        *,
        flags: FrameFlags = FrameFlags.FACE_PRESENT,
        head_rotation: tuple[float, float, float] = (0.0, 0.0, 0.0),
        head_translation: tuple[float, float, float] = (0.0, 0.0, 0.0),
        emotion: Emotion | None = None,
        emotion_weight: float = 0.0,
        body: BodyPose | None = None,
    ) -> ParamFrame:
        """Build a frame from 52 float weights in 0..1 (a list, tuple or numpy array)."""
        values = list(weights)
        if len(values) != NUM_BLENDSHAPES:
            raise EncodeError(f"expected {NUM_BLENDSHAPES} blendshape weights, got {len(values)}")
        return cls(
            seq=seq,
            timestamp_us=timestamp_us,
            flags=flags,
            head_rotation=head_rotation,
            head_translation=head_translation,
            blendshapes=bytes(quantize_unit(float(v)) for v in values),
            emotion=emotion,
            emotion_weight=emotion_weight,
            body=body,
        )

    # -- accessors ------------------------------------------------------------------------
    def weight(self, name: str) -> float:
        """The weight (0..1) of the blendshape called ``name`` (MediaPipe/ARKit name)."""
        return self.blendshapes[BLENDSHAPE_INDEX[name]] / 255.0

    def weights(self) -> list[float]:
        return [b / 255.0 for b in self.blendshapes]

    @property
    def face_present(self) -> bool:
        return bool(self.flags & FrameFlags.FACE_PRESENT)

    def mirrored(self) -> ParamFrame:
        """This frame as seen in a mirror: left/right channels swap, yaw and roll flip sign; the
        body's sides swap and its x components flip the same way (:meth:`BodyPose.mirrored`)."""
        pitch, yaw, roll = self.head_rotation
        x, y, z = self.head_translation
        return ParamFrame(
            seq=self.seq,
            timestamp_us=self.timestamp_us,
            flags=self.flags ^ FrameFlags.MIRRORED,
            head_rotation=(pitch, -yaw, -roll),
            head_translation=(-x, y, z),
            blendshapes=bytes(self.blendshapes[i] for i in MIRROR_PERMUTATION),
            emotion=self.emotion,
            emotion_weight=self.emotion_weight,
            version=self.version,
            body=self.body.mirrored() if self.body is not None else None,
        )

    # -- wire form ------------------------------------------------------------------------
    def to_wire_map(self) -> dict[int, Any]:
        if len(self.blendshapes) != NUM_BLENDSHAPES:
            raise EncodeError(
                f"expected {NUM_BLENDSHAPES} blendshape bytes, got {len(self.blendshapes)}"
            )
        if not 0 <= self.timestamp_us <= _MAX_TIMESTAMP_US:
            raise EncodeError(f"timestamp_us {self.timestamp_us} out of range")
        wire: dict[int, Any] = {
            K_VERSION: self.version,
            K_SEQ: self.seq % _SEQ_MODULO,
            K_TIMESTAMP: self.timestamp_us,
            K_FLAGS: int(self.flags),
            K_ROTATION: [
                _f16(_finite(v, "head_rotation", MAX_ROTATION_RAD)) for v in self.head_rotation
            ],
            K_TRANSLATION: [
                _f16(_finite(v, "head_translation", MAX_TRANSLATION_CM))
                for v in self.head_translation
            ],
            K_BLENDSHAPES: bytes(self.blendshapes),
        }
        if self.emotion is not None:
            wire[K_EMOTION] = [int(self.emotion), quantize_unit(self.emotion_weight)]
        if self.body is not None:
            wire.update(self.body.to_wire_map())
        return wire

    def encode(self) -> bytes:
        """CBOR bytes for the wire and the ring."""
        data = cbor.dumps(self.to_wire_map())
        if len(data) > MAX_FRAME_BYTES:  # only possible through a bug: fields are fixed-size
            raise EncodeError(f"frame of {len(data)} bytes exceeds the cap of {MAX_FRAME_BYTES}")
        return data

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> ParamFrame:
        """Parse and validate wire bytes. Raises :class:`DecodeError` and nothing else."""
        raw = cbor.loads(data, max_size=MAX_FRAME_BYTES, max_items=256)
        if not isinstance(raw, dict):
            raise DecodeError(f"frame must be a CBOR map, got {type(raw).__name__}")
        for key in _REQUIRED_KEYS:
            if key not in raw:
                raise DecodeError(f"frame is missing required key {key}")
        version = _uint(raw[K_VERSION], "version", 255)
        if version != FRAME_VERSION:
            raise DecodeError(
                f"unsupported frame version {version} (this build speaks {FRAME_VERSION})"
            )
        blend = raw[K_BLENDSHAPES]
        if not isinstance(blend, bytes):
            raise DecodeError(f"blendshapes must be a byte string, got {type(blend).__name__}")
        if len(blend) != NUM_BLENDSHAPES:
            raise DecodeError(f"blendshapes: expected {NUM_BLENDSHAPES} bytes, got {len(blend)}")
        emotion: Emotion | None = None
        emotion_weight = 0.0
        if K_EMOTION in raw:
            em = raw[K_EMOTION]
            if not isinstance(em, list) or len(em) != 2:
                raise DecodeError("emotion must be an array of [preset, weight]")
            preset = _uint(em[0], "emotion preset", 255)
            try:
                emotion = Emotion(preset)
            except ValueError as e:
                raise DecodeError(f"unknown emotion preset {preset}") from e
            emotion_weight = _uint(em[1], "emotion weight", 255) / 255.0
        return cls(
            seq=_uint(raw[K_SEQ], "seq", _SEQ_MODULO - 1),
            timestamp_us=_uint(raw[K_TIMESTAMP], "timestamp", _MAX_TIMESTAMP_US),
            flags=FrameFlags(_uint(raw[K_FLAGS], "flags", 0xFFFF) & _KNOWN_FLAGS),
            head_rotation=_vec3(raw[K_ROTATION], "head_rotation", MAX_ROTATION_RAD),
            head_translation=_vec3(raw[K_TRANSLATION], "head_translation", MAX_TRANSLATION_CM),
            blendshapes=blend,
            emotion=emotion,
            emotion_weight=emotion_weight,
            version=version,
            extras={
                k: v
                for k, v in raw.items()
                if isinstance(k, int) and k > K_EMOTION and k not in BODY_KEYS
            },
            body=BodyPose.from_wire_map(raw),
        )

    # -- the seed's named view ------------------------------------------------------------
    def to_seed(self) -> dict[str, Any]:
        """The seed's named view: ``headRotation`` (radians), the four named weights and
        ``timestamp`` (sender's monotonic clock, milliseconds); plus, when the frame carries a
        body, ``body`` with readable names (:meth:`BodyPose.to_seed`)."""
        seed: dict[str, Any] = {
            "headRotation": [round(v, 4) for v in self.head_rotation],
            "eyeBlinkLeft": round(self.weight("eyeBlinkLeft"), 4),
            "eyeBlinkRight": round(self.weight("eyeBlinkRight"), 4),
            "mouthOpen": round(self.weight("jawOpen"), 4),
            "smile": round((self.weight("mouthSmileLeft") + self.weight("mouthSmileRight")) / 2, 4),
            "timestamp": self.timestamp_us / 1000.0,
        }
        if self.body is not None:
            seed["body"] = self.body.to_seed()
        return seed

    def to_seed_json(self) -> str:
        return json.dumps(self.to_seed(), separators=(",", ":"))

    @classmethod
    def from_seed(cls, seed: dict[str, Any], seq: int = 0) -> ParamFrame:
        """Build a frame from the seed's named view (other channels are zero)."""
        try:
            rot = seed["headRotation"]
            if not isinstance(rot, list | tuple) or len(rot) != 3:
                raise ValueError("headRotation must be a list of 3 numbers")
            weights = [0.0] * NUM_BLENDSHAPES
            weights[BLENDSHAPE_INDEX["eyeBlinkLeft"]] = float(seed["eyeBlinkLeft"])
            weights[BLENDSHAPE_INDEX["eyeBlinkRight"]] = float(seed["eyeBlinkRight"])
            weights[BLENDSHAPE_INDEX["jawOpen"]] = float(seed["mouthOpen"])
            smile = float(seed["smile"])
            weights[BLENDSHAPE_INDEX["mouthSmileLeft"]] = smile
            weights[BLENDSHAPE_INDEX["mouthSmileRight"]] = smile
            timestamp_us = round(float(seed["timestamp"]) * 1000.0)
            rotation = (
                _finite(float(rot[0]), "headRotation", MAX_ROTATION_RAD),
                _finite(float(rot[1]), "headRotation", MAX_ROTATION_RAD),
                _finite(float(rot[2]), "headRotation", MAX_ROTATION_RAD),
            )
        except KeyError as e:
            raise DecodeError(f"seed view is missing {e.args[0]!r}") from e
        except (TypeError, ValueError) as e:
            raise DecodeError(f"bad seed view: {e}") from e
        return cls.from_weights(seq, timestamp_us, weights, head_rotation=rotation)


_KNOWN_FLAGS = int(
    FrameFlags.FACE_PRESENT
    | FrameFlags.CALIBRATED
    | FrameFlags.MIRRORED
    | FrameFlags.PAUSED
    | FrameFlags.HELD
    | FrameFlags.VOICE_MOUTH
)


def _uint(value: Any, name: str, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise DecodeError(f"{name} must be an unsigned integer, got {type(value).__name__}")
    if not 0 <= value <= maximum:
        raise DecodeError(f"{name} {value} out of range 0..{maximum}")
    return value


def _finite(value: float, name: str, limit: float) -> float:
    """Reject NaN/inf (a tracker bug or an attack), clamp finite values to +-limit."""
    if not math.isfinite(value):
        raise DecodeError(f"{name} contains a non-finite value ({value})")
    return _clamp(value, limit)


def _vec3(value: Any, name: str, limit: float) -> tuple[float, float, float]:
    if not isinstance(value, list) or len(value) != 3:
        raise DecodeError(f"{name} must be an array of 3 numbers")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise DecodeError(f"{name} must hold numbers, got {type(v).__name__}")
        out.append(_finite(float(v), name, limit))
    return (out[0], out[1], out[2])
