"""Commands: what the parent (``call/``) asks a child to do, one typed line each.

Every child understands :class:`Quit` (so does EOF on its stdin: a child whose parent died
ends by itself). The rest are addressed to one child:

- tracking: :class:`Pause`, :class:`Recalibrate`, :class:`Mirror`, :class:`SetEmotion`,
  :class:`Smoothing`
- peer (networking): :class:`Hangup`, :class:`SendChat`, :class:`SetEmotion`,
  :class:`SetAvatar`, :class:`SetMute`, :class:`SetDeafen`, :class:`SendGesture`,
  :class:`SetSyncHold`
- render: :class:`ShowPeerAvatar`, :class:`ShowSelfAvatar`, :class:`SelfView`,
  :class:`ShowOverlay`, :class:`ShowPeerName`, :class:`TakeScreenshot`, :class:`ResetStats`,
  :class:`Resize`, :class:`Fullscreen`, :class:`SetPeerDelay`, :class:`ShowGesture`

A child that gets a command meant for another logs and ignores it, like an unknown one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from .body import GESTURES
from .control import COMMAND_KEY, COMMANDS, ControlMessage, UnknownMessage
from .errors import DecodeError

#: Overlay states the render window can be told to show ("auto" = decide from the rings).
OVERLAY_STATES = (
    "auto",
    "none",
    "connecting",
    "waiting",
    "connected",
    "peer_lost",
    "peer_left",
    "paused",
    "refused",
    "reconnecting",
    "self_paused",
    "self_resumed",
    "recalibrating",
    "calibrated",
)
#: Overlay states about this side, not the connection: the window keeps them apart from the
#: connection's state (our pause and a recalibration last across connection changes).
#: ``self_resumed`` and ``calibrated`` only end what ``self_paused`` and ``recalibrating`` began.
SELF_OVERLAY_STATES = frozenset({"self_paused", "self_resumed", "recalibrating", "calibrated"})
#: The most of the peer's (untrusted) name a window title shows.
MAX_PEER_NAME = 40
#: Recalibration takes at least this long (a single frame is no resting face) and at most this.
RECALIBRATE_RANGE_S = (0.1, 30.0)
#: Screenshots per burst, to bound what one command can make a window write.
MAX_SCREENSHOT_BURST = 1000
#: A window larger than this is a typo (or an attack on the GPU's memory).
MAX_WINDOW_SIDE = 8192
#: The most the window will hold the peer's avatar back for lip sync: an audio path slower
#: than this is broken, and a conversation with a face this late is worse than unsynced lips.
MAX_PEER_DELAY_MS = 1000.0
#: The most extra delay the voice's playout buffer accepts for lip sync (ms; its own jitter
#: target stops at 300 ms): call/ asks for far less (call.lipsync.HOLD_CAP_MS), this only bounds
#: what one line can make the networking process do.
MAX_SYNC_HOLD_MS = 300.0


def _fail(kind: str, what: str) -> DecodeError:
    return DecodeError(f"cmd {kind!r}: {what}")


@dataclass(frozen=True, slots=True)
class _AvatarRef(ControlMessage):
    """An avatar by reference: a built-in id or a pack path, and optionally a variant."""

    ref: str
    variant: str | None = None

    def validate(self) -> None:
        if not self.ref:
            raise _fail(self.KIND, "empty ref")


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class Quit(ControlMessage):
    """Stop now (EOF on stdin and SIGTERM do the same)."""

    KIND: ClassVar[str] = "quit"
    reason: str = ""


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class Hangup(ControlMessage):
    """Networking: say bye to the peer, then quit."""

    KIND: ClassVar[str] = "hangup"


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class SendChat(ControlMessage):
    """Networking: send a chat line to the peer."""

    KIND: ClassVar[str] = "chat"
    text: str

    def validate(self) -> None:
        if not self.text.strip():
            raise _fail(self.KIND, "empty text")


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class SetEmotion(ControlMessage):
    """Tracking: blend this preset over the tracked face; networking: tell the peer."""

    KIND: ClassVar[str] = "emotion"
    preset: int
    weight: float = 1.0

    def validate(self) -> None:
        if not 0 <= self.preset <= 255:
            raise _fail(self.KIND, f"preset {self.preset} not in 0..255")
        if not 0.0 <= self.weight <= 1.0:
            raise _fail(self.KIND, f"weight {self.weight} not in 0..1")


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class SetAvatar(_AvatarRef):
    """Networking: our avatar is now ``ref`` (tell the peer, offer the pack)."""

    KIND: ClassVar[str] = "avatar"


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class SetMute(ControlMessage):
    """Networking: stop (``muted``) or resume sending our voice. While muted the audio track
    sends silence frames rather than nothing, so the peer's playout keeps its timing and no
    renegotiation is needed; the microphone is still read for the local level meter."""

    KIND: ClassVar[str] = "set_mute"
    muted: bool = True


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class SetDeafen(ControlMessage):
    """Networking: stop (``deafened``) or resume playing the peer's voice (received audio is
    still decoded, so the stats and the lip-sync delay stay live)."""

    KIND: ClassVar[str] = "set_deafen"
    deafened: bool = True


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class Pause(ControlMessage):
    """Tracking: stop inference; frames carry only the PAUSED flag (privacy)."""

    KIND: ClassVar[str] = "pause"
    on: bool = True


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class OpenRoom(ControlMessage):
    """Networking: the room we joined to had nobody in it (``no_room`` status); the user chose
    to open it and wait for the other person instead of checking the code."""

    KIND: ClassVar[str] = "open_room"


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class Recalibrate(ControlMessage):
    """Tracking: record the resting face again over ``seconds``."""

    KIND: ClassVar[str] = "recalibrate"
    seconds: float = 3.0

    def validate(self) -> None:
        lo, hi = RECALIBRATE_RANGE_S
        if not lo <= self.seconds <= hi:
            raise _fail(self.KIND, f"seconds {self.seconds} not in {lo:g}..{hi:g}")


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class Mirror(ControlMessage):
    """Tracking: selfie view (track the flipped image, correct left/right back)."""

    KIND: ClassVar[str] = "mirror"
    on: bool = True


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class Smoothing(ControlMessage):
    """Tracking: One Euro smoothing. ``amount`` is the one-knob setting (0 raw .. 0.5 default
    .. 1 very smooth), mapped onto the groups by the tracker, which owns their defaults;
    ``groups`` sets parameters directly: ``{"eyes": {"min_cutoff": .., "beta": ..}}``."""

    KIND: ClassVar[str] = "smoothing"
    enabled: bool = True
    amount: float | None = None
    groups: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.amount is not None and not 0.0 <= self.amount <= 1.0:
            raise _fail(self.KIND, f"amount {self.amount} not in 0..1")
        for name, params in self.groups.items():
            if not isinstance(params, dict):
                raise _fail(self.KIND, f"group {name!r} must be an object")
            for key, value in params.items():
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise _fail(self.KIND, f"{name}.{key} must be a number")


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class ShowPeerAvatar(_AvatarRef):
    """Render: draw the peer with ``ref`` (a built-in id or a pack path)."""

    KIND: ClassVar[str] = "peer_avatar"


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class ShowSelfAvatar(_AvatarRef):
    """Render: draw the self-view with ``ref``."""

    KIND: ClassVar[str] = "self_avatar"


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class SelfView(ControlMessage):
    """Render: show or hide the self-view inset."""

    KIND: ClassVar[str] = "self_view"
    on: bool = True


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class ShowOverlay(ControlMessage):
    """Render: the call's state as the window's banner (see :data:`OVERLAY_STATES`).

    ``detail``: why (``refused``: the reason, already in the user's language or the relay's
    words, shown after the banner text). ``seconds``: how long ``recalibrating`` lasts; the
    window counts down from it by itself, so one command drives a live countdown."""

    KIND: ClassVar[str] = "overlay"
    state: str = "auto"
    detail: str = ""
    seconds: float = 0.0

    def validate(self) -> None:
        if self.state not in OVERLAY_STATES:
            raise _fail(self.KIND, f"state {self.state!r} not one of {OVERLAY_STATES}")
        if not 0.0 <= self.seconds <= RECALIBRATE_RANGE_S[1]:
            raise _fail(self.KIND, f"seconds {self.seconds} not in 0..{RECALIBRATE_RANGE_S[1]:g}")


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class ShowPeerName(ControlMessage):
    """Render: the peer's display name, for the window's title. It is the peer's own,
    untrusted text: the window cuts it to :data:`MAX_PEER_NAME` characters and replaces control
    and format characters (:func:`protocol.text.printable`)."""

    KIND: ClassVar[str] = "peer_name"
    name: str = ""


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class TakeScreenshot(ControlMessage):
    """Render: save the next presented frame(s) as PNG: ``count`` frames ``every`` frames
    apart, once a frame at or after ``min_seq`` is shown (and ``settled``, if asked)."""

    KIND: ClassVar[str] = "screenshot"
    path: str = ""
    count: int = 1
    every: int = 1
    min_seq: int | None = None
    settled: bool = True
    tag: str | None = None

    def validate(self) -> None:
        if not 1 <= self.count <= MAX_SCREENSHOT_BURST:
            raise _fail(self.KIND, f"count {self.count} not in 1..{MAX_SCREENSHOT_BURST}")
        if not 1 <= self.every <= MAX_SCREENSHOT_BURST:
            raise _fail(self.KIND, f"every {self.every} not in 1..{MAX_SCREENSHOT_BURST}")


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class ResetStats(ControlMessage):
    """Render: start the whole-run percentiles afresh (after a benchmark's warm-up)."""

    KIND: ClassVar[str] = "reset_stats"


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class Resize(ControlMessage):
    """Render: set the window's size in pixels."""

    KIND: ClassVar[str] = "size"
    width: int
    height: int

    def validate(self) -> None:
        for side in (self.width, self.height):
            if not 1 <= side <= MAX_WINDOW_SIDE:
                raise _fail(self.KIND, f"side {side} not in 1..{MAX_WINDOW_SIDE}")


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class Fullscreen(ControlMessage):
    """Render: enter or leave full screen."""

    KIND: ClassVar[str] = "fullscreen"
    on: bool = True


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class SetPeerDelay(ControlMessage):
    """Render: the peer's voice reaches the speaker ``delay_ms`` after it was captured, so
    show the peer's avatar that late too (lip sync). The window never shows it *earlier* than
    its own low-latency path allows and moves towards a new delay slowly; 0 (no voice, or no
    audio flowing) means the low-latency path alone."""

    KIND: ClassVar[str] = "set_peer_delay"
    delay_ms: float = 0.0

    def validate(self) -> None:
        if not 0.0 <= self.delay_ms <= MAX_PEER_DELAY_MS:
            raise _fail(self.KIND, f"delay_ms {self.delay_ms} not in 0..{MAX_PEER_DELAY_MS:g}")


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class SetSyncHold(ControlMessage):
    """Networking: hold the peer's voice ``hold_ms`` longer than its jitter buffer needs, so
    it plays no earlier than the window can show the avatar captured at the same instant (lip
    sync when the face's path is the slower one). The playout buffer grows and sheds that
    depth in pauses of speech, never with a jump; 0 = the voice's own low-latency path."""

    KIND: ClassVar[str] = "set_sync_hold"
    hold_ms: float = 0.0

    def validate(self) -> None:
        if not 0.0 <= self.hold_ms <= MAX_SYNC_HOLD_MS:
            raise _fail(self.KIND, f"hold_ms {self.hold_ms} not in 0..{MAX_SYNC_HOLD_MS:g}")


def _check_gesture(kind: str, name: str, side: int) -> None:
    if name not in GESTURES:
        raise _fail(kind, f"unknown gesture {name!r:.20}, expected one of {GESTURES}")
    if side not in (0, 1):
        raise _fail(kind, f"side {side} is not 0 (left) or 1 (right)")


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class SendGesture(ControlMessage):
    """Peer: tell the remote peer we made a hand gesture (ctl ``Gesture``)."""

    KIND: ClassVar[str] = "send_gesture"
    name: str
    side: int = 0

    def validate(self) -> None:
        _check_gesture(self.KIND, self.name, self.side)


@COMMANDS.register
@dataclass(frozen=True, slots=True)
class ShowGesture(ControlMessage):
    """Render: the peer made a hand gesture (one of :data:`protocol.body.GESTURES`) with their
    ``side`` hand (:class:`protocol.body.Side`, the peer's own left = 0): show it briefly (an
    emoji burst or an avatar reaction). call/ sends it once per gesture the peer announced,
    already rate-limited by the networking child."""

    KIND: ClassVar[str] = "show_gesture"
    name: str
    side: int = 0

    def validate(self) -> None:
        _check_gesture(self.KIND, self.name, self.side)


Command: TypeAlias = (
    Quit
    | Hangup
    | SendChat
    | SetEmotion
    | SetAvatar
    | SetMute
    | SetDeafen
    | OpenRoom
    | Pause
    | Recalibrate
    | Mirror
    | Smoothing
    | ShowPeerAvatar
    | ShowSelfAvatar
    | SelfView
    | ShowOverlay
    | ShowPeerName
    | TakeScreenshot
    | ResetStats
    | SetPeerDelay
    | SetSyncHold
    | Resize
    | Fullscreen
    | SendGesture
    | ShowGesture
)


def parse_command(line: str | bytes) -> Command:
    """One stdin line of a child -> its command (UnknownMessage / DecodeError otherwise)."""
    return COMMANDS.parse(line)  # type: ignore[return-value]


def command_from(kind: str, **fields: Any) -> Command:
    """A command from its wire name and fields (scripts and test harnesses that take the name
    as a string); validated exactly as a received line would be."""
    cls = COMMANDS.classes.get(kind)
    if cls is None:
        raise UnknownMessage(COMMAND_KEY, kind)
    return cls.from_fields(fields)  # type: ignore[return-value]
