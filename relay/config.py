"""Relay settings: one frozen dataclass, filled from flags with ``AVATARCHAT_RELAY_*`` fallbacks.

Every flag has an environment equivalent so a systemd unit (or a container) can configure the
relay without a command line, and so secrets such as the TURN secret need not appear in ``ps``.
Precedence: flag > environment > default.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

ENV_PREFIX = "AVATARCHAT_RELAY_"

#: Loopback by default: a relay is normally put behind nginx (deploy/); use --host 0.0.0.0 to
#: expose it directly.
DEFAULT_HOST = "127.0.0.1"
#: Unassigned by IANA and easy to remember; 0 asks the kernel for a free port (tests).
DEFAULT_PORT = 8765
#: A client that has not sent its upgrade request and ``join`` within this time is dropped:
#: real clients do both within one round trip, slowloris-style holders of sockets do not.
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
#: A connection with no text frame for this long is closed. Long enough for the first peer to
#: wait for the second one (clients send a JSON ``ping`` to stay longer), short enough to
#: reclaim abandoned sockets.
DEFAULT_IDLE_TIMEOUT = 600.0
#: WebSocket ping interval and pong deadline: finds dead TCP paths (NAT timeouts, sleeping
#: laptops) long before the kernel does, and keeps idle proxied connections warm (nginx's
#: proxy_read_timeout in deploy/ is 900 s, NAT TCP timers are minutes). Each ping costs the relay
#: about 0.1-0.3 ms of CPU, so 30 s keeps 10k idle peers at a few percent of a core.
DEFAULT_PING_INTERVAL = 30.0
DEFAULT_PONG_TIMEOUT = 10.0
#: Token bucket per connection: a call setup is about 5-30 frames (join, offer/answer, a few ICE
#: candidates, avatar), so a burst of 60 and 10 frames/s sustained never bothers a real client.
DEFAULT_RATE = 10.0
DEFAULT_BURST = 60
#: Per source IP: a household behind one NAT runs a few calls; hundreds of sockets is abuse.
DEFAULT_MAX_CONNS_PER_IP = 64
#: New WebSocket connections per client address (its /64 for IPv6, relay.limits.address_key):
#: a client opens one per call and one per reconnect, so 40 at once covers a household or small
#: office behind one NAT all reconnecting after a network change (or a relay restart), and
#: 20/s sustained is far above people; the test suite's relays stay under it per test. An
#: address that opened 1,410 rooms a second is what this stops (issue 15, defect 6).
DEFAULT_CONN_RATE = 20.0
DEFAULT_CONN_BURST = 40
#: Rooms created (a join that opens a new room) per client address: each call opens one room,
#: on one side only, so 20 at once covers the same household re-creating its calls after a
#: relay restart, and 5/s sustained is a call every 200 ms. Each room costs a hub entry and
#: log lines; this is the cap on how fast one address can make them.
DEFAULT_ROOM_RATE = 5.0
DEFAULT_ROOM_BURST = 20
#: Per process: 10k+ idle connections fit in well under 1 GiB (scripts/bench_relay.py).
DEFAULT_MAX_CONNECTIONS = 50_000
#: Frames queued towards one client; a signaling exchange needs only a handful in flight, so a
#: client that lets 32 pile up is not reading and is dropped (it must never block its peer).
DEFAULT_SEND_QUEUE = 32
#: coturn REST credentials live this long; a call needs them only while ICE gathers and
#: for allocation refreshes, and the relay hands out fresh ones on every join/turn_request.
DEFAULT_TURN_TTL = 3600
#: How long SIGTERM waits for peers to take their ``shutting_down`` error and close.
DEFAULT_SHUTDOWN_GRACE = 5.0


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """Everything the relay needs; tests build one directly with ``port=0``."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    metrics_port: int | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    ping_interval: float = DEFAULT_PING_INTERVAL
    pong_timeout: float = DEFAULT_PONG_TIMEOUT
    rate: float = DEFAULT_RATE
    burst: int = DEFAULT_BURST
    max_conns_per_ip: int = DEFAULT_MAX_CONNS_PER_IP
    conn_rate: float = DEFAULT_CONN_RATE
    conn_burst: int = DEFAULT_CONN_BURST
    room_rate: float = DEFAULT_ROOM_RATE
    room_burst: int = DEFAULT_ROOM_BURST
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    send_queue: int = DEFAULT_SEND_QUEUE
    turn_secret: str | None = field(default=None, repr=False)
    turn_uris: tuple[str, ...] = ()
    turn_ttl: int = DEFAULT_TURN_TTL
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(ENV_PREFIX + name)
    return value if value not in (None, "") else None


def _env_list(environ: Mapping[str, str], name: str) -> list[str] | None:
    """List-valued settings are comma-separated in the environment."""
    value = _env(environ, name)
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def build_parser(
    parser: argparse.ArgumentParser | None = None, environ: Mapping[str, str] | None = None
) -> argparse.ArgumentParser:
    """Add the relay's flags (defaults from the environment) to ``parser`` or a new one."""
    env = os.environ if environ is None else environ
    if parser is None:
        parser = argparse.ArgumentParser(
            prog="python -m relay",
            description=(
                "avatarchat signaling relay: rooms of two over WebSocket (ws://HOST:PORT/ws?room="
                "CODE), offer/answer/ICE/avatar forwarded verbatim to the other peer only, TURN "
                "REST credentials, /healthz and Prometheus /metrics. Stores nothing on disk."
            ),
            epilog=(
                f"Every flag can also be set with an environment variable: {ENV_PREFIX}<FLAG> "
                f"with dashes as underscores, e.g. {ENV_PREFIX}PORT=8701, "
                f"{ENV_PREFIX}TURN_SECRET=..., {ENV_PREFIX}TURN_URI=turn:a:3478,turns:a:5349 "
                "(comma-separated for repeatable flags). Flags win over the environment."
            ),
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )

    def default(name: str, fallback: object, kind: type = str) -> object:
        value = _env(env, name)
        if value is None:
            return fallback
        try:
            return kind(value)
        except ValueError:
            assert parser is not None
            parser.error(f"{ENV_PREFIX}{name}={value!r} is not a valid {kind.__name__}")

    g = parser.add_argument_group("listening")
    g.add_argument("--host", default=default("HOST", DEFAULT_HOST),
                   help="address to bind; 0.0.0.0 or :: to face the internet directly")
    g.add_argument("--port", type=int, default=default("PORT", DEFAULT_PORT, int),
                   help="TCP port for WebSocket, /healthz and /metrics (0 = any free port)")
    g.add_argument("--metrics-port", type=int, default=default("METRICS_PORT", None, int),
                   help="serve /metrics (and /healthz) on this separate port instead, keeping "
                   "counters off the public port")
    g.add_argument("--tls-cert", default=default("TLS_CERT", None),
                   help="PEM certificate chain: serve wss:// directly (normally nginx does TLS)")
    g.add_argument("--tls-key", default=default("TLS_KEY", None), help="PEM private key")
    g.add_argument("--allowed-origin", action="append", dest="allowed_origins",
                   default=None,
                   help="accept browser handshakes only from this Origin (repeatable); "
                   "requests without an Origin header (native clients) are always accepted")
    g.add_argument("--trusted-proxy", action="append", dest="trusted_proxies",
                   default=None,
                   help="peer address whose X-Real-IP / X-Forwarded-For is believed for the "
                   "per-IP cap (repeatable; e.g. 127.0.0.1 behind a local nginx)")

    g = parser.add_argument_group("limits")
    g.add_argument("--handshake-timeout", type=float,
                   default=default("HANDSHAKE_TIMEOUT", DEFAULT_HANDSHAKE_TIMEOUT, float),
                   help="seconds to complete the HTTP upgrade and send 'join'")
    g.add_argument("--idle-timeout", type=float,
                   default=default("IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT, float),
                   help="close a connection that sends no frame for this many seconds")
    g.add_argument("--ping-interval", type=float,
                   default=default("PING_INTERVAL", DEFAULT_PING_INTERVAL, float),
                   help="seconds between WebSocket pings from the relay")
    g.add_argument("--pong-timeout", type=float,
                   default=default("PONG_TIMEOUT", DEFAULT_PONG_TIMEOUT, float),
                   help="drop a connection whose pong is this late (unless it sent other "
                   "data meanwhile)")
    g.add_argument("--rate", type=float, default=default("RATE", DEFAULT_RATE, float),
                   help="frames per second each connection may send (sustained)")
    g.add_argument("--burst", type=int, default=default("BURST", DEFAULT_BURST, int),
                   help="frames a connection may send at once above --rate")
    g.add_argument("--max-conns-per-ip", type=int,
                   default=default("MAX_CONNS_PER_IP", DEFAULT_MAX_CONNS_PER_IP, int),
                   help="concurrent connections from one source address (an IPv6 client "
                   "counts by its /64)")
    g.add_argument("--conn-rate", type=float,
                   default=default("CONN_RATE", DEFAULT_CONN_RATE, float),
                   help="new WebSocket connections per second from one address (or IPv6 /64); "
                   "more get HTTP 429")
    g.add_argument("--conn-burst", type=int,
                   default=default("CONN_BURST", DEFAULT_CONN_BURST, int),
                   help="new connections one address may open at once above --conn-rate")
    g.add_argument("--room-rate", type=float,
                   default=default("ROOM_RATE", DEFAULT_ROOM_RATE, float),
                   help="rooms one address (or IPv6 /64) may create per second; more get a "
                   "rate_limited error")
    g.add_argument("--room-burst", type=int,
                   default=default("ROOM_BURST", DEFAULT_ROOM_BURST, int),
                   help="rooms one address may create at once above --room-rate")
    g.add_argument("--max-connections", type=int,
                   default=default("MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS, int),
                   help="concurrent connections for the whole process")
    g.add_argument("--send-queue", type=int,
                   default=default("SEND_QUEUE", DEFAULT_SEND_QUEUE, int),
                   help="frames queued towards one client before it counts as a slow "
                   "consumer and is dropped")
    g.add_argument("--shutdown-grace", type=float,
                   default=default("SHUTDOWN_GRACE", DEFAULT_SHUTDOWN_GRACE, float),
                   help="seconds SIGTERM waits for peers to close before cutting them")

    g = parser.add_argument_group("TURN (coturn use-auth-secret REST credentials)")
    # No env-derived default here: --help prints defaults, and this one is a secret.
    g.add_argument("--turn-secret", default=None,
                   help="coturn's static-auth-secret; prefer the environment variable "
                   f"{ENV_PREFIX}TURN_SECRET so it does not show in ps")
    g.add_argument("--turn-uri", action="append", dest="turn_uris",
                   default=None,
                   help="TURN/STUN URI handed to clients, e.g. turn:turn.example.org:3478"
                   "?transport=udp (repeatable)")
    g.add_argument("--turn-ttl", type=int, default=default("TURN_TTL", DEFAULT_TURN_TTL, int),
                   help="lifetime of issued TURN credentials in seconds")
    return parser


def config_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> RelayConfig:
    """Turn parsed flags into a validated :class:`RelayConfig` (ValueError on nonsense)."""
    env = os.environ if environ is None else environ
    config = RelayConfig(
        host=args.host,
        port=args.port,
        metrics_port=args.metrics_port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        allowed_origins=tuple(args.allowed_origins or _env_list(env, "ALLOWED_ORIGIN") or ()),
        trusted_proxies=tuple(args.trusted_proxies or _env_list(env, "TRUSTED_PROXY") or ()),
        handshake_timeout=args.handshake_timeout,
        idle_timeout=args.idle_timeout,
        ping_interval=args.ping_interval,
        pong_timeout=args.pong_timeout,
        rate=args.rate,
        burst=args.burst,
        max_conns_per_ip=args.max_conns_per_ip,
        conn_rate=args.conn_rate,
        conn_burst=args.conn_burst,
        room_rate=args.room_rate,
        room_burst=args.room_burst,
        max_connections=args.max_connections,
        send_queue=args.send_queue,
        turn_secret=args.turn_secret or _env(env, "TURN_SECRET"),
        turn_uris=tuple(args.turn_uris or _env_list(env, "TURN_URI") or ()),
        turn_ttl=args.turn_ttl,
        shutdown_grace=args.shutdown_grace,
    )
    validate(config)
    return config


def validate(config: RelayConfig) -> None:
    problems: list[str] = []
    if not 0 <= config.port < 65536:
        problems.append("--port must be 0-65535")
    if bool(config.tls_cert) != bool(config.tls_key):
        problems.append("--tls-cert and --tls-key go together")
    for name in ("handshake_timeout", "idle_timeout", "ping_interval", "pong_timeout", "rate",
                 "conn_rate", "room_rate"):
        if getattr(config, name) <= 0:
            problems.append(f"--{name.replace('_', '-')} must be positive")
    for name in ("burst", "conn_burst", "room_burst", "max_conns_per_ip", "max_connections",
                 "send_queue", "turn_ttl"):
        if getattr(config, name) < 1:
            problems.append(f"--{name.replace('_', '-')} must be at least 1")
    if config.turn_secret and not config.turn_uris:
        problems.append("--turn-secret needs at least one --turn-uri")
    if problems:
        raise ValueError("; ".join(problems))


def parse_config(argv: Sequence[str] | None = None) -> RelayConfig:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return config_from_args(args)
    except ValueError as e:
        parser.error(str(e))
