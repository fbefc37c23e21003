"""The signaling relay: rooms of two over WebSocket, verbatim forwarding, limits, TURN REST
credentials, health and metrics. Run it with ``python -m relay``; embed it with
:func:`serve_relay` (``await nursery.start(serve_relay, RelayConfig(port=0))``)."""

from .config import RelayConfig
from .hub import Hub, room_tag
from .server import RelayServer, serve_relay

__all__ = ["Hub", "RelayConfig", "RelayServer", "room_tag", "serve_relay"]
