"""What the call remembers so a restarted child comes back as the user left it.

A child is started from its command line; everything the user changed since (pause, mirror,
smoothing, an emotion preset, the self-view, a switched avatar, the peer's avatar, the
connection overlay, mute and deafen) reaches it as commands. When a child crashes and the
supervisor starts it again, :meth:`CallMemory.replay` gives the commands that bring it back
to the same state. One place keeps these, so the TUI and the headless ``avatarchat call``
behave the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from i18n import _
from protocol.commands import (
    MAX_PEER_NAME,
    Command,
    Mirror,
    OpenRoom,
    Pause,
    SelfView,
    SetAvatar,
    SetDeafen,
    SetEmotion,
    SetMute,
    ShowOverlay,
    ShowPeerAvatar,
    ShowPeerName,
    ShowSelfAvatar,
    Smoothing,
)
from protocol.frame import Emotion
from protocol.text import printable

#: The networking process's states that the window shows as its banner (others: no banner
#: change). ``connected`` shows briefly; the rest stay until the state changes.
OVERLAY_FOR_PEER_STATE = {
    "signaling": "connecting",
    "connecting": "connecting",
    "waiting": "waiting",
    "connected": "connected",
    "peer_lost": "peer_lost",
    "peer_left": "peer_left",
    "refused": "refused",
}


#: The networking process's states that mean its join succeeded: the room is ours to rejoin.
ROOM_JOINED_STATES = frozenset({"waiting", "connecting", "connected"})
#: The networking process's exit code when the relay refused the join (peer.app): it is not
#: restarted (call.child.NO_RESTART_EXIT_CODES) and the window says "refused" for good.
REFUSED_EXIT_CODE = 3
#: How the networking process's fatal error starts when the relay refused the join
#: (peer.signaling): the refusal is shown at once, before the process has even exited.
REFUSED_JOIN = "relay refused the join"
#: How much of the relay's own words a refusal banner quotes.
MAX_REASON = 160


def refusal_reason(message: str) -> str:
    """Why the relay refused us, for the banner: a full room in the user's language (the one
    refusal a user meets in normal use), anything else in the relay's words, made printable
    (the relay is not ours to trust)."""
    if "room_full" in message:
        return _("the room already has two people in it")
    return printable(message.strip(), MAX_REASON)


def peer_name(name: str) -> str:
    """The peer's display name as the window may show it (it is their untrusted text)."""
    return " ".join(printable(name, MAX_PEER_NAME).split())


@dataclass(slots=True)
class CallMemory:
    """The settings and state replayed to a child after its (re)start."""

    mirror: bool | None = None
    smoothing: float | None = None
    paused: bool = False
    emotion: tuple[int, float] | None = None
    self_view: bool = True
    #: Our avatar after a switch during the call ("" = the one on the command line).
    avatar: str = ""
    variant: str = ""
    #: The peer's avatar as last announced by the networking process.
    peer_avatar: str = ""
    overlay: str = ""
    overlay_detail: str = ""
    #: The peer's display name from their hello (already cut and made printable).
    peer_name: str = ""
    #: The room is ours to be in: a join succeeded, or the user chose to open an empty room.
    #: A restarted networking process then joins without the "someone must be there" check.
    room_opened: bool = False
    #: Voice (issue 14): the call has an audio track, and the user's mute/deafen state. A
    #: restarted networking process starts from its command line's (``--muted``...), so both
    #: are replayed: a crash must never unmute someone.
    voice: bool = False
    muted: bool = False
    deafened: bool = False

    def set_emotion(self, preset: int, weight: float) -> None:
        self.emotion = None if preset == Emotion.NEUTRAL else (preset, weight)

    def replay(self, child: str) -> list[Command]:
        """The commands that bring a freshly started ``child`` up to date."""
        out: list[Command] = []
        if child == "tracking":
            if self.mirror is not None:
                out.append(Mirror(on=self.mirror))
            if self.smoothing is not None:
                out.append(Smoothing(enabled=self.smoothing > 0.0, amount=self.smoothing))
            if self.paused:
                out.append(Pause(on=True))
            if self.emotion is not None:
                out.append(SetEmotion(preset=self.emotion[0], weight=self.emotion[1]))
        elif child == "peer":
            if self.room_opened:
                out.append(OpenRoom())
            if self.avatar:
                out.append(SetAvatar(ref=self.avatar, variant=self.variant or None))
            if self.emotion is not None:
                out.append(SetEmotion(preset=self.emotion[0], weight=self.emotion[1]))
            if self.voice:
                out.append(SetMute(muted=self.muted))
                out.append(SetDeafen(deafened=self.deafened))
        elif child == "render":
            if not self.self_view:
                out.append(SelfView(on=False))
            if self.peer_avatar:
                out.append(ShowPeerAvatar(ref=self.peer_avatar))
            if self.avatar:
                out.append(ShowSelfAvatar(ref=self.avatar, variant=self.variant or None))
            if self.peer_name:
                out.append(ShowPeerName(name=self.peer_name))
            if self.overlay:
                out.append(ShowOverlay(state=self.overlay, detail=self.overlay_detail))
            if self.paused:
                out.append(ShowOverlay(state="self_paused"))
        return out
