"""Exception hierarchy of the networking process.

Everything :mod:`peer` raises on purpose is a :class:`PeerError`; lower-level errors (OSError,
aiortc, websockets, protocol.DecodeError) are translated at the boundary with ``raise X from e``
so the CLI and the TUI can print one clear line instead of a traceback.
"""

from __future__ import annotations


class PeerError(Exception):
    """Base of every error raised on purpose by :mod:`peer`."""


class SignalingError(PeerError):
    """The relay refused us (bad room, room full, ...) in a way retrying will not fix."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class NegotiationError(PeerError):
    """Offer/answer failed or produced something we refuse (e.g. an SDP with media sections)."""


class AvatarTransferError(PeerError):
    """A peer-to-peer avatar pack transfer was refused (too large, bad hash, invalid pack)."""
