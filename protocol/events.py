"""Events: what a child (tracking, peer, render, relay) tells its parent, one typed line each.

Every child sends ``ready`` once it is up, ``status`` when its state changes, ``stats`` about
once a second, ``error`` for anything the user should know, and ``bye`` as its last line. The
networking child adds what it hears from the remote peer (``peer_hello``, ``chat``,
``peer_avatar``, ``avatar_progress``, ``peer_emotion``, ``peer_gesture``, ``peer_bye``),
``chat_sent`` and ``voice_level`` (about 10 Hz while voice is on); tracking adds ``gesture`` (a
hand gesture the user made, once per gesture); the render window adds ``avatar_shown``,
``overlay``, ``screenshot`` and ``video_path_delay`` (lip sync, about once a second).

``ready.info`` and ``stats.values`` are the only free-form maps: what a child reports there
differs per child and grows with features, so the envelope is typed and the contents are
checked to be finite JSON values of bounded depth (:func:`protocol.control._check_json_value`);
the keys each child sends are documented beside the code that builds them.

Strings from the remote peer (chat text, names, bye reasons) pass through here verbatim:
they are untrusted and every front-end escapes them before showing them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from .body import GESTURES
from .control import EVENTS, ControlMessage
from .errors import DecodeError

#: Render window views (``avatar_shown.view``).
VIEWS = ("peer", "self")


@EVENTS.register
@dataclass(frozen=True, slots=True)
class Ready(ControlMessage):
    """The child is up. ``info``: what it started with (rings, port, source, avatar, ...)."""

    KIND: ClassVar[str] = "ready"
    info: dict[str, Any] = field(default_factory=dict)


@EVENTS.register
@dataclass(frozen=True, slots=True)
class Status(ControlMessage):
    """The child's state changed (``state`` is machine-readable, ``message`` for people)."""

    KIND: ClassVar[str] = "status"
    state: str
    message: str = ""

    def validate(self) -> None:
        if not self.state:
            raise DecodeError("event 'status': empty state")


@EVENTS.register
@dataclass(frozen=True, slots=True)
class Stats(ControlMessage):
    """About once a second: ``t`` is the sender's monotonic seconds when measured."""

    KIND: ClassVar[str] = "stats"
    t: float
    values: dict[str, Any] = field(default_factory=dict)


@EVENTS.register
@dataclass(frozen=True, slots=True)
class Error(ControlMessage):
    """Something went wrong; ``fatal`` means the child is exiting because of it."""

    KIND: ClassVar[str] = "error"
    message: str
    fatal: bool = False


@EVENTS.register
@dataclass(frozen=True, slots=True)
class Bye(ControlMessage):
    """The child's last line before a clean exit."""

    KIND: ClassVar[str] = "bye"
    reason: str = ""


@EVENTS.register
@dataclass(frozen=True, slots=True)
class PeerHello(ControlMessage):
    """The remote peer introduced itself over ``ctl`` (every string is the peer's, untrusted)."""

    KIND: ClassVar[str] = "peer_hello"
    name: str = ""
    avatar_id: str = ""
    avatar_version: str = ""
    avatar_hash: str = ""
    app_version: str = ""
    protocol: int = 0


@EVENTS.register
@dataclass(frozen=True, slots=True)
class ChatReceived(ControlMessage):
    """A chat line from the remote peer (``sender`` is the peer's display name, untrusted)."""

    KIND: ClassVar[str] = "chat"
    text: str
    sender: str = ""
    msg_id: int = 0


@EVENTS.register
@dataclass(frozen=True, slots=True)
class ChatSent(ControlMessage):
    """Our chat line went out on ``ctl``."""

    KIND: ClassVar[str] = "chat_sent"
    text: str


@EVENTS.register
@dataclass(frozen=True, slots=True)
class PeerAvatar(ControlMessage):
    """Draw the peer with ``ref`` (a built-in id or a cached pack path); ``pending`` while
    their own pack is still being transferred and ``ref`` is a stand-in."""

    KIND: ClassVar[str] = "peer_avatar"
    ref: str
    avatar_id: str = ""
    pending: bool = False

    def validate(self) -> None:
        if not self.ref:
            raise DecodeError("event 'peer_avatar': empty ref")


@EVENTS.register
@dataclass(frozen=True, slots=True)
class AvatarProgress(ControlMessage):
    """The peer's own avatar is arriving: ``received`` of ``total`` bytes so far (a few times a
    second and once at the end; a 40 MB VRM takes a while, and a stand-in with no word of
    progress looks like a bug). ``peer_avatar`` with ``pending: false`` says it is done."""

    KIND: ClassVar[str] = "avatar_progress"
    avatar_id: str
    received: int
    total: int

    def validate(self) -> None:
        if not 0 <= self.received <= self.total:
            raise DecodeError("event 'avatar_progress': received outside 0..total")


@EVENTS.register
@dataclass(frozen=True, slots=True)
class PeerEmotion(ControlMessage):
    """The peer chose an emotion preset (protocol.frame.Emotion) with a weight 0..1."""

    KIND: ClassVar[str] = "peer_emotion"
    preset: int
    weight: float = 1.0

    def validate(self) -> None:
        _check_weight("peer_emotion", self.weight)


@EVENTS.register
@dataclass(frozen=True, slots=True)
class PeerBye(ControlMessage):
    """The peer hung up (``reason`` is theirs, untrusted)."""

    KIND: ClassVar[str] = "peer_bye"
    reason: str = ""


@EVENTS.register
@dataclass(frozen=True, slots=True)
class AvatarShown(ControlMessage):
    """The render window now draws ``view`` (peer or self) with this avatar."""

    KIND: ClassVar[str] = "avatar_shown"
    view: str
    avatar: str
    name: str = ""
    variant: str | None = None
    renderer: str | None = None

    def validate(self) -> None:
        if self.view not in VIEWS:
            raise DecodeError(f"event 'avatar_shown': view {self.view!r} not one of {VIEWS}")


@EVENTS.register
@dataclass(frozen=True, slots=True)
class OverlayShown(ControlMessage):
    """The render window's connection overlay changed (``state`` "" = none shown)."""

    KIND: ClassVar[str] = "overlay"
    state: str


@EVENTS.register
@dataclass(frozen=True, slots=True)
class ScreenshotSaved(ControlMessage):
    """A requested screenshot was written to ``path``."""

    KIND: ClassVar[str] = "screenshot"
    path: str
    seq: int = -1
    present_ns: int = 0
    idle_weight: float = 0.0
    tag: str | None = None
    index: int = 0


@EVENTS.register
@dataclass(frozen=True, slots=True)
class VoiceLevel(ControlMessage):
    """The networking child's voice meter, about 10 times a second while voice is on (faster
    than ``stats`` so a level meter moves): ``in_level`` is our microphone's level 0..1 (RMS
    dBFS mapped from -60..0 dB), ``speaking`` our voice activity, ``peer_speaking`` the peer's
    (from the audio we receive)."""

    KIND: ClassVar[str] = "voice_level"
    in_level: float = 0.0
    speaking: bool = False
    peer_speaking: bool = False

    def validate(self) -> None:
        if not 0.0 <= self.in_level <= 1.0:
            raise DecodeError(f"event 'voice_level': in_level {self.in_level} not in 0..1")


#: The largest own-path delay a window reports (ms): past this its figure is a stall, not a path.
MAX_VIDEO_PATH_MS = 10_000.0


@EVENTS.register
@dataclass(frozen=True, slots=True)
class VideoPathDelay(ControlMessage):
    """Render: how late the window can show the peer's frames at the earliest, capture ->
    present on this host's clock (ms): the running median over the last ``frames`` presented
    frames of the peer's *own* path (tracking, network, the motion's playout delay, drawing),
    without any lip-sync hold. About once a second while peer frames are shown; call/ weighs it
    against the voice's delay to decide which stream waits for the other (call.lipsync)."""

    KIND: ClassVar[str] = "video_path_delay"
    delay_ms: float
    frames: int = 0

    def validate(self) -> None:
        if not 0.0 <= self.delay_ms <= MAX_VIDEO_PATH_MS:
            raise DecodeError(
                f"event 'video_path_delay': delay_ms {self.delay_ms} not in "
                f"0..{MAX_VIDEO_PATH_MS:g}"
            )
        if self.frames < 0:
            raise DecodeError(f"event 'video_path_delay': frames {self.frames} < 0")


def _check_gesture(kind: str, name: str, side: int) -> None:
    if name not in GESTURES:
        raise DecodeError(f"event {kind!r}: unknown gesture {name!r:.20}")
    if side not in (0, 1):
        raise DecodeError(f"event {kind!r}: side {side} is not 0 (left) or 1 (right)")


@EVENTS.register
@dataclass(frozen=True, slots=True)
class GestureMade(ControlMessage):
    """Tracking: the user made a hand gesture (one of :data:`protocol.body.GESTURES`) with the
    ``side`` hand (0 = the user's own left). Sent once per gesture, not once per frame."""

    KIND: ClassVar[str] = "gesture"
    name: str
    side: int = 0

    def validate(self) -> None:
        _check_gesture(self.KIND, self.name, self.side)


@EVENTS.register
@dataclass(frozen=True, slots=True)
class PeerGesture(ControlMessage):
    """Networking: the peer made a hand gesture (validated against the known set and
    rate-limited before it is reported)."""

    KIND: ClassVar[str] = "peer_gesture"
    name: str
    side: int = 0

    def validate(self) -> None:
        _check_gesture(self.KIND, self.name, self.side)


def _check_weight(kind: str, weight: float) -> None:
    if not 0.0 <= weight <= 1.0:
        raise DecodeError(f"event {kind!r}: weight {weight} not in 0..1")


#: Every event class, for type annotations.
Event: TypeAlias = (
    Ready
    | Status
    | Stats
    | Error
    | Bye
    | PeerHello
    | ChatReceived
    | ChatSent
    | PeerAvatar
    | AvatarProgress
    | PeerEmotion
    | PeerBye
    | AvatarShown
    | OverlayShown
    | ScreenshotSaved
    | VoiceLevel
    | VideoPathDelay
    | GestureMade
    | PeerGesture
)


def flat(event: Event) -> dict[str, Any]:
    """One flat dict for scripts, reports and assertions: ``{"event": kind, **fields}``, with
    a ``stats`` event's values and a ``ready`` event's info lifted to the top."""
    out: dict[str, Any] = {"event": event.KIND, **event.fields()}
    if isinstance(event, Stats):
        out.update(out.pop("values"))
    elif isinstance(event, Ready):
        out.update(out.pop("info"))
    return out


def parse_event(line: str | bytes) -> Event:
    """One stdout line of a child -> its event (UnknownMessage / DecodeError otherwise)."""
    return EVENTS.parse(line)  # type: ignore[return-value]
