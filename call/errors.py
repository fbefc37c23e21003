"""Exception hierarchy of :mod:`call`.

Everything :mod:`call` raises on purpose is a :class:`CallError`; OS and process errors are
translated at the boundary (``raise CallError(...) from e``) so a front-end prints one clear
line. It is not a ``peer.PeerError``: the call's owner and the networking process are separate
packages that never import each other.
"""

from __future__ import annotations


class CallError(Exception):
    """Base of every error raised on purpose by :mod:`call`."""


class SupervisorError(CallError):
    """A child process could not be started, or did not become ready in time."""


class RelayStartError(CallError):
    """The embedded local relay could not be started."""


class CallConfigError(CallError, ValueError):
    """The call was asked for with settings that cannot work (checked before anything runs)."""
