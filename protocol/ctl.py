"""Peer <-> peer control messages on the reliable, ordered ``ctl`` DataChannel.

Each message is a CBOR map ``{0: type, 1: field1, 2: field2, ...}``: integer keys in the field
order of the dataclass below, so the wire stays small and a new *trailing* field can be added
without breaking older peers (unknown keys are ignored, missing trailing optional fields take
their defaults).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from . import cbor
from .body import GESTURES
from .errors import DecodeError, EncodeError

CTL_VERSION = 1
#: Avatar packs travel in chunks of at most this many bytes, keeping each ctl message small
#: enough not to stall the SCTP association for the params channel.
AVATAR_CHUNK_BYTES = 16 * 1024
#: A whole avatar pack may be at most this large on the wire.
MAX_AVATAR_PACK_BYTES = 8 * 1024 * 1024
#: A 3D avatar travels as its own .vrm/.glb file, which may be this large: VRoid exports are
#: 10-40 MB, mostly textures. Its chunks are paced behind ``params`` like a pack's.
MAX_AVATAR_MODEL_BYTES = 48 * 1024 * 1024
#: The first bytes of a GLB/VRM file (a pack zip starts with ``PK``).
GLB_MAGIC_BYTES = b"glTF"
MAX_CTL_BYTES = AVATAR_CHUNK_BYTES + 1024
MAX_CHAT_CHARS = 2000
MAX_NAME_CHARS = 64
_MAX_UINT = (1 << 63) - 1


def transfer_cap(head: bytes) -> int:
    """The most bytes an avatar transfer may have, by its first bytes: a GLB/VRM model may be
    :data:`MAX_AVATAR_MODEL_BYTES`, anything else (a pack zip) :data:`MAX_AVATAR_PACK_BYTES`."""
    return MAX_AVATAR_MODEL_BYTES if head[:4] == GLB_MAGIC_BYTES else MAX_AVATAR_PACK_BYTES


@dataclass(slots=True)
class CtlMessage:
    TYPE: ClassVar[int] = 0
    #: Field name -> cap (characters for str, bytes for bytes).
    LIMITS: ClassVar[dict[str, int]] = {}

    def problem(self) -> str | None:
        """What is wrong with the values beyond their types (None = nothing); checked on
        encode and on parse, so a message that names something unknown never gets through."""
        return None

    def encode(self) -> bytes:
        wire: dict[int, Any] = {0: self.TYPE}
        for i, f in enumerate(fields(self), start=1):
            value = getattr(self, f.name)
            _check(type(self), f.name, str(f.type), value, EncodeError)
            wire[i] = value
        problem = self.problem()
        if problem is not None:
            raise EncodeError(f"{type(self).__name__}: {problem}")
        data = cbor.dumps(wire)
        if len(data) > MAX_CTL_BYTES:
            raise EncodeError(f"{type(self).__name__} of {len(data)} bytes exceeds {MAX_CTL_BYTES}")
        return data


@dataclass(slots=True)
class Hello(CtlMessage):
    TYPE: ClassVar[int] = 1
    name: str = ""
    avatar_id: str = ""
    avatar_version: str = ""
    avatar_hash: str = ""  # SHA-256 hex of the pack's content
    app_version: str = ""
    protocol: int = CTL_VERSION
    LIMITS: ClassVar[dict[str, int]] = {
        "name": MAX_NAME_CHARS,
        "avatar_id": 64,
        "avatar_version": 32,
        "avatar_hash": 64,
        "app_version": 32,
    }


@dataclass(slots=True)
class Ping(CtlMessage):
    TYPE: ClassVar[int] = 2
    seq: int = 0
    t1_us: int = 0  # sender's monotonic clock when sent


@dataclass(slots=True)
class Pong(CtlMessage):
    """NTP-style reply: t2 = receive time, t3 = reply time, both on the replier's clock."""

    TYPE: ClassVar[int] = 3
    seq: int = 0
    t1_us: int = 0
    t2_us: int = 0
    t3_us: int = 0


@dataclass(slots=True)
class Chat(CtlMessage):
    TYPE: ClassVar[int] = 4
    msg_id: int = 0
    text: str = ""
    LIMITS: ClassVar[dict[str, int]] = {"text": MAX_CHAT_CHARS}


@dataclass(slots=True)
class EmotionPreset(CtlMessage):
    TYPE: ClassVar[int] = 5
    preset: int = 0  # protocol.frame.Emotion
    weight: float = 1.0


@dataclass(slots=True)
class AvatarRequest(CtlMessage):
    TYPE: ClassVar[int] = 6
    hash: str = ""
    LIMITS: ClassVar[dict[str, int]] = {"hash": 64}


@dataclass(slots=True)
class AvatarChunk(CtlMessage):
    TYPE: ClassVar[int] = 7
    hash: str = ""
    index: int = 0
    total: int = 1
    size: int = 0  # total pack size in bytes, so the receiver can refuse early
    data: bytes = b""
    LIMITS: ClassVar[dict[str, int]] = {"hash": 64, "data": AVATAR_CHUNK_BYTES}


@dataclass(slots=True)
class AvatarSwitch(CtlMessage):
    TYPE: ClassVar[int] = 8
    avatar_id: str = ""
    avatar_version: str = ""
    avatar_hash: str = ""
    LIMITS: ClassVar[dict[str, int]] = {"avatar_id": 64, "avatar_version": 32, "avatar_hash": 64}


@dataclass(slots=True)
class Bye(CtlMessage):
    TYPE: ClassVar[int] = 9
    reason: str = ""
    LIMITS: ClassVar[dict[str, int]] = {"reason": 200}


@dataclass(slots=True)
class AvatarUnavailable(CtlMessage):
    """Reply to an :class:`AvatarRequest` the sender cannot or will not serve."""

    TYPE: ClassVar[int] = 10
    hash: str = ""
    reason: str = ""
    LIMITS: ClassVar[dict[str, int]] = {"hash": 64, "reason": 200}


@dataclass(slots=True)
class Gesture(CtlMessage):
    """The sender made a hand gesture (one of :data:`protocol.body.GESTURES`) with its ``side``
    hand (:class:`protocol.body.Side`: 0 = the sender's own left). Sent once per gesture: the
    tracker's classifier has a cool-down, and the receiver rate-limits anyway."""

    TYPE: ClassVar[int] = 11
    name: str = GESTURES[0]  # every field has a default, like every ctl message
    side: int = 0
    LIMITS: ClassVar[dict[str, int]] = {"name": 16}

    def problem(self) -> str | None:
        if self.name not in GESTURES:
            return f"unknown gesture {self.name!r:.20}"
        if self.side not in (0, 1):
            return f"side {self.side} is not 0 (left) or 1 (right)"
        return None


CTL_TYPES: dict[int, type[CtlMessage]] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        Ping,
        Pong,
        Chat,
        EmotionPreset,
        AvatarRequest,
        AvatarChunk,
        AvatarSwitch,
        Bye,
        AvatarUnavailable,
        Gesture,
    )
}


def _check(
    cls: type[CtlMessage],
    name: str,
    annotation: str,
    value: Any,
    error: type[DecodeError] | type[EncodeError],
) -> None:
    where = f"{cls.__name__}.{name}"
    if annotation == "int":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_UINT:
            raise error(f"{where} must be an unsigned integer, got {value!r:.40}")
    elif annotation == "float":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise error(f"{where} must be a finite number, got {value!r:.40}")
    elif annotation in ("str", "bytes"):
        expected = str if annotation == "str" else bytes
        if not isinstance(value, expected):
            raise error(f"{where} must be {annotation}, got {type(value).__name__}")
        limit = cls.LIMITS.get(name, 256)
        if len(value) > limit:
            unit = "characters" if expected is str else "bytes"
            raise error(f"{where} is {len(value)} {unit}, the cap is {limit}")


def parse_ctl(data: bytes | bytearray | memoryview) -> CtlMessage:
    """Decode one ctl message strictly. Raises :class:`DecodeError` and nothing else."""
    raw = cbor.loads(data, max_size=MAX_CTL_BYTES, max_depth=1, max_items=32)
    if not isinstance(raw, dict):
        raise DecodeError(f"ctl message must be a CBOR map, got {type(raw).__name__}")
    kind = raw.get(0)
    if not isinstance(kind, int) or isinstance(kind, bool):
        raise DecodeError("ctl message is missing its integer type (key 0)")
    cls = CTL_TYPES.get(kind)
    if cls is None:
        raise DecodeError(f"unknown ctl message type {kind}")
    values: dict[str, Any] = {}
    for i, f in enumerate(fields(cls), start=1):
        if i in raw:
            value = raw[i]
            annotation = str(f.type)
            if annotation == "float" and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            _check(cls, f.name, annotation, value, DecodeError)
            values[f.name] = value
    msg = cls(**values)
    problem = msg.problem()
    if problem is not None:
        raise DecodeError(f"{cls.__name__}: {problem}")
    return msg
