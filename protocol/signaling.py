"""Client <-> relay signaling messages: JSON text frames, one object per WebSocket message.

Every message is ``{"v": 1, "type": "...", ...fields}``. The relay parses each frame only far
enough to validate and route it; offer/answer/ICE/avatar frames are forwarded to the other peer
re-encoded from the parsed message (``to_json()``), so only the fields this module defines for
the type leave the relay: unknown fields are dropped, not carried (they were a 60 KB junk and
covert channel). SDP is an opaque, size-capped string.
"""

from __future__ import annotations

import enum
import json
import re
import secrets
import urllib.parse
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from .errors import DecodeError

SIGNAL_VERSION = 1
#: The networking process reads the TURN password from this environment variable when
#: ``--turn-pass`` is not given: its parent (``call/``) passes it there because argv is visible
#: to every local user and the environment is not.
TURN_PASS_ENV = "AVATARCHAT_TURN_PASS"
#: The room code, for the same reason: whoever knows it can take the second seat of the room,
#: so it is a secret and stays out of argv (``/proc/PID/cmdline`` is readable by every user).
ROOM_ENV = "AVATARCHAT_ROOM"
#: One WebSocket frame. aiortc's SDP for two DataChannels with host+srflx+relay candidates is
#: 1-3 KB; 64 KiB leaves room for many candidates and still bounds a hostile client.
MAX_SIGNAL_BYTES = 64 * 1024
MAX_SDP_CHARS = 32 * 1024
MAX_CANDIDATE_CHARS = 1024
MAX_REASON_CHARS = 200
#: 16 random bytes -> 22 URL-safe characters is the minimum (128 bits), 64 the maximum.
ROOM_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


def new_room_code() -> str:
    """A fresh, unguessable room code (128 random bits, URL-safe).

    Codes never start with ``-``: people paste them into command lines (``--join CODE``), where
    a leading dash reads as an option. Redrawing those costs 1/64 of the first character's
    choices, well under one bit.
    """
    while True:
        code = secrets.token_urlsafe(16)
        if not code.startswith("-"):
            return code


def relay_address(relay: str) -> str:
    """``ws://host:port/...`` -> ``host:port`` (the scheme's default port filled in): what a
    person checks when a relay cannot be reached, named the same by the networking process and
    the front-ends."""
    parts = urllib.parse.urlsplit(relay)
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if parts.scheme in ("wss", "https") else 80
    host = parts.hostname or "?"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def web_link(relay: str, room: str) -> str:
    """The browser peer's join link for a relay URL: the page that relay serves (``relay.static``)
    with the room code in the fragment (``#room=CODE``), which browsers never send to a server,
    so the code stays out of every access log. ``ws://h:p`` -> ``http://h:p/#room=CODE``; a
    relay behind a proxy at ``wss://h/x/ws`` -> ``https://h/x/#room=CODE``."""
    parts = urllib.parse.urlsplit(relay)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    path = parts.path.removesuffix("ws") if parts.path.endswith("/ws") else parts.path
    if not path.endswith("/"):
        path += "/"
    return urllib.parse.urlunsplit((scheme, parts.netloc, path, "", f"room={room}"))


class ErrorCode(enum.StrEnum):
    """Machine-readable error codes the relay sends (and clients show)."""

    BAD_JSON = "bad_json"
    BAD_MESSAGE = "bad_message"
    UNKNOWN_TYPE = "unknown_type"
    TOO_LARGE = "too_large"
    BINARY_NOT_ALLOWED = "binary_not_allowed"
    UNSUPPORTED_VERSION = "unsupported_version"
    BAD_ROOM = "bad_room"
    ROOM_FULL = "room_full"
    NO_SUCH_ROOM = "no_such_room"
    NOT_JOINED = "not_joined"
    ALREADY_JOINED = "already_joined"
    NO_PEER = "no_peer"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    IDLE_TIMEOUT = "idle_timeout"
    TURN_UNAVAILABLE = "turn_unavailable"
    SHUTTING_DOWN = "shutting_down"
    INTERNAL = "internal"


class SignalError(DecodeError):
    """A signaling frame was refused; ``code`` is what the relay puts in its error reply."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class SignalMessage:
    """Base class; subclasses set ``TYPE`` and declare their fields."""

    TYPE: ClassVar[str] = ""
    #: Field name -> max length in characters for string fields (validation).
    LIMITS: ClassVar[dict[str, int]] = {}

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"v": SIGNAL_VERSION, "type": self.TYPE}
        data.update(asdict(self))
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)


@dataclass(slots=True)
class TurnCredentials:
    """coturn REST credentials (``use-auth-secret``): username ``expiry:id``, HMAC password."""

    urls: list[str]
    username: str
    credential: str
    ttl: int


@dataclass(slots=True)
class Join(SignalMessage):
    TYPE: ClassVar[str] = "join"
    room: str = ""
    #: Client software, for diagnostics only ("avatarchat/0.1").
    client: str = ""
    #: False: join only a room someone is already in (someone typed an invitation's code); a
    #: wrong or expired code is then refused with ``no_such_room`` instead of silently opening
    #: an empty room nobody will ever come to. True (the default, and what older clients mean):
    #: join, opening the room if it is empty.
    create: bool = True
    LIMITS: ClassVar[dict[str, int]] = {"client": 64}


@dataclass(slots=True)
class Joined(SignalMessage):
    TYPE: ClassVar[str] = "joined"
    room: str = ""
    position: int = 1  # 1 = first in the room (waits), 2 = second (the peer is already there)
    peer_present: bool = False
    turn: TurnCredentials | None = None


@dataclass(slots=True)
class PeerJoined(SignalMessage):
    TYPE: ClassVar[str] = "peer_joined"


@dataclass(slots=True)
class PeerLeft(SignalMessage):
    TYPE: ClassVar[str] = "peer_left"
    reason: str = ""
    LIMITS: ClassVar[dict[str, int]] = {"reason": MAX_REASON_CHARS}


@dataclass(slots=True)
class Offer(SignalMessage):
    TYPE: ClassVar[str] = "offer"
    sdp: str = ""
    #: Negotiation generation: bumped for each new RTCPeerConnection so stale answers are ignored.
    gen: int = 0
    LIMITS: ClassVar[dict[str, int]] = {"sdp": MAX_SDP_CHARS}


@dataclass(slots=True)
class Answer(SignalMessage):
    TYPE: ClassVar[str] = "answer"
    sdp: str = ""
    gen: int = 0
    LIMITS: ClassVar[dict[str, int]] = {"sdp": MAX_SDP_CHARS}


@dataclass(slots=True)
class Ice(SignalMessage):
    TYPE: ClassVar[str] = "ice"
    candidate: str = ""
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None
    gen: int = 0
    LIMITS: ClassVar[dict[str, int]] = {"candidate": MAX_CANDIDATE_CHARS, "sdp_mid": 64}


@dataclass(slots=True)
class AvatarMeta(SignalMessage):
    TYPE: ClassVar[str] = "avatar"
    id: str = ""
    version: str = ""
    hash: str = ""
    LIMITS: ClassVar[dict[str, int]] = {"id": 64, "version": 32, "hash": 64}


@dataclass(slots=True)
class TurnRequest(SignalMessage):
    TYPE: ClassVar[str] = "turn_request"


@dataclass(slots=True)
class Turn(SignalMessage):
    TYPE: ClassVar[str] = "turn"
    urls: list[str] = field(default_factory=list)
    username: str = ""
    credential: str = ""
    ttl: int = 0


@dataclass(slots=True)
class Error(SignalMessage):
    TYPE: ClassVar[str] = "error"
    code: str = ErrorCode.INTERNAL.value
    message: str = ""
    LIMITS: ClassVar[dict[str, int]] = {"code": 32, "message": 500}


@dataclass(slots=True)
class Ping(SignalMessage):
    TYPE: ClassVar[str] = "ping"
    t: int = 0


@dataclass(slots=True)
class Pong(SignalMessage):
    TYPE: ClassVar[str] = "pong"
    t: int = 0


@dataclass(slots=True)
class Bye(SignalMessage):
    TYPE: ClassVar[str] = "bye"
    reason: str = ""
    LIMITS: ClassVar[dict[str, int]] = {"reason": MAX_REASON_CHARS}


MESSAGE_TYPES: dict[str, type[SignalMessage]] = {
    cls.TYPE: cls
    for cls in (
        Join,
        Joined,
        PeerJoined,
        PeerLeft,
        Offer,
        Answer,
        Ice,
        AvatarMeta,
        TurnRequest,
        Turn,
        Error,
        Ping,
        Pong,
        Bye,
    )
}
#: Messages the relay forwards to the other peer of the room (re-encoded: known fields only).
RELAYED_TYPES = frozenset({"offer", "answer", "ice", "avatar"})


def _check_field(cls: type[SignalMessage], name: str, annotation: str, value: Any) -> Any:
    where = f"{cls.TYPE}.{name}"
    optional = "None" in annotation
    if value is None:
        if optional:
            return None
        raise SignalError(ErrorCode.BAD_MESSAGE, f"{where} must not be null")
    if annotation.startswith("int"):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**53:
            raise SignalError(ErrorCode.BAD_MESSAGE, f"{where} must be a non-negative integer")
    elif annotation.startswith("bool"):
        if not isinstance(value, bool):
            raise SignalError(ErrorCode.BAD_MESSAGE, f"{where} must be true or false")
    elif annotation.startswith("str"):
        if not isinstance(value, str):
            raise SignalError(ErrorCode.BAD_MESSAGE, f"{where} must be a string")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as e:  # a lone surrogate ("\ud800") could not be re-sent
                raise SignalError(ErrorCode.BAD_MESSAGE, f"{where} is not valid Unicode") from e
        limit = cls.LIMITS.get(name, 256)
        if len(value) > limit:
            raise SignalError(
                ErrorCode.TOO_LARGE, f"{where} is {len(value)} characters, the cap is {limit}"
            )
    elif annotation.startswith("list[str]"):
        if (
            not isinstance(value, list)
            or len(value) > 8
            or not all(isinstance(u, str) and len(u) <= 256 for u in value)
        ):
            raise SignalError(ErrorCode.BAD_MESSAGE, f"{where} must be a list of up to 8 strings")
    elif annotation.startswith("TurnCredentials"):
        if not isinstance(value, dict):
            raise SignalError(ErrorCode.BAD_MESSAGE, f"{where} must be an object")
        try:
            return TurnCredentials(
                urls=list(_check_field(Turn, "urls", "list[str]", value["urls"])),
                username=_check_field(Turn, "username", "str", value["username"]),
                credential=_check_field(Turn, "credential", "str", value["credential"]),
                ttl=_check_field(Turn, "ttl", "int", value["ttl"]),
            )
        except KeyError as e:
            raise SignalError(ErrorCode.BAD_MESSAGE, f"{where} is missing {e.args[0]!r}") from e
    return value


def parse_signal(frame: str | bytes) -> SignalMessage:
    """Parse and validate one signaling frame. Raises :class:`SignalError` (a DecodeError)."""
    if isinstance(frame, bytes | bytearray):
        raise SignalError(ErrorCode.BINARY_NOT_ALLOWED, "signaling frames must be text, got binary")
    if len(frame) > MAX_SIGNAL_BYTES:  # chars <= bytes, so this is a safe early bound
        raise SignalError(
            ErrorCode.TOO_LARGE, f"frame of {len(frame)} characters exceeds {MAX_SIGNAL_BYTES}"
        )
    try:
        data = json.loads(frame)
    except (json.JSONDecodeError, RecursionError) as e:
        raise SignalError(ErrorCode.BAD_JSON, f"malformed JSON: {e}") from e
    except ValueError as e:  # well-formed but unrepresentable, e.g. an integer of 5,000 digits
        raise SignalError(ErrorCode.BAD_MESSAGE, f"unacceptable JSON value: {e}") from e
    if not isinstance(data, dict):
        raise SignalError(
            ErrorCode.BAD_MESSAGE, f"expected a JSON object, got {type(data).__name__}"
        )
    version = data.get("v")
    # Exactly an int: ``true == 1`` and ``1.0 == 1`` in Python, so a plain comparison let both
    # pass as version 1 (and a bool or float is no version any build ever sent).
    if version is not None and type(version) is not int:
        raise SignalError(
            ErrorCode.BAD_MESSAGE,
            f"'v' must be an integer, got {type(version).__name__} {str(version)[:20]}",
        )
    if version != SIGNAL_VERSION:
        raise SignalError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"unsupported signaling version {version!r} (this build speaks {SIGNAL_VERSION})",
        )
    kind = data.get("type")
    if not isinstance(kind, str):
        raise SignalError(ErrorCode.BAD_MESSAGE, "missing string field 'type'")
    cls = MESSAGE_TYPES.get(kind)
    if cls is None:
        raise SignalError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind[:40]!r}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        annotation = str(f.type)
        if f.name in data:
            values[f.name] = _check_field(cls, f.name, annotation, data[f.name])
        elif "None" not in annotation and f.name not in _DEFAULTABLE.get(kind, ()):
            raise SignalError(ErrorCode.BAD_MESSAGE, f"{kind} is missing field {f.name!r}")
    if kind == "join" and not ROOM_CODE_RE.match(values["room"]):
        raise SignalError(
            ErrorCode.BAD_ROOM,
            "room code must be 22-64 URL-safe characters (at least 128 random bits)",
        )
    return cls(**values)


#: Fields a sender may omit (they have safe defaults).
_DEFAULTABLE: dict[str, tuple[str, ...]] = {
    "join": ("client", "create"),
    "peer_left": ("reason",),
    "bye": ("reason",),
    "offer": ("gen",),
    "answer": ("gen",),
    "ice": ("gen",),
    "ping": ("t",),
    "pong": ("t",),
    "joined": ("turn", "peer_present"),
}

