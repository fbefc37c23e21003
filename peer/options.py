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
