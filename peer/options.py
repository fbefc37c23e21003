"""What the networking process is started with (``python -m peer`` flags, parsed)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class PeerOptions:
    relay: str
    room: str
    local_ring: str
    remote_ring: str
    name: str = ""
    avatar: str = "aria"
    ice_servers: list[str] = field(default_factory=list)
    turn_user: str | None = None
    turn_pass: str | None = None
    turn_only: bool = False
    stats_json: str | None = None
    #: Join only a room someone is in (an invitation's code): a wrong code says so at once.
    join_existing: bool = False
    #: Seconds an unreachable relay is retried before the call ends (tests make it short).
    relay_give_up_s: float = 60.0
    #: Voice (issue 14): an Opus track beside the DataChannels; False = text-and-avatar only
    #: (the SDP has no m=audio).
    voice: bool = True
    #: Microphone spec: ``default`` | a device name (substring) | ``file:PATH`` (WAV) | ``clip``
    #: (the tracker's clip, see ``clip_path``) | ``silence`` (peer.voice.sources).
    mic: str = "default"
    #: Speaker spec: ``default`` | a device name | ``file:PATH`` (WAV, 48 kHz mono 16-bit) |
    #: ``none`` (peer.voice.sinks).
    speaker: str = "default"
    echo_cancel: bool = True
    muted: bool = False
    deafened: bool = False
    #: ``--mic clip``: the clip file the tracker plays, and the monotonic instant (ns,
    #: time.monotonic_ns of this machine) its first frame was due, shared by both children.
    clip_path: str | None = None
    clip_epoch_ns: int | None = None
