"""``python -m relay``: run the signaling relay until SIGTERM/SIGINT (then shut down gracefully).

Prints one ``ready`` control event (JSON line, protocol.control) with the bound port on stdout
so scripts and tests that start it with ``--port 0`` learn where it listens; logs go to stderr.
"""

from __future__ import annotations

import logging
import resource
import signal
import sys
from collections.abc import Sequence

import trio

from protocol.control import event_line

from .config import RelayConfig, parse_config
from .server import RelayServer, serve_relay

log = logging.getLogger("relay")


def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one: every connection is a descriptor, and
    the usual soft limit of 1024 would cap the relay far below what it can hold."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else 1_048_576
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError):
            return soft
    return soft


async def run(config: RelayConfig) -> int:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            server: RelayServer = await nursery.start(serve_relay, config)
            print(event_line("ready", port=server.port, metrics_port=server.metrics_port,
                             host=config.host), end="", flush=True)
            async for signum in signals:
                log.info("%s: shutting down gracefully", signal.Signals(signum).name)
                server.shutdown()
                break
    print(event_line("bye"), end="", flush=True)
    return 0


def _find_oserror(exc: BaseException) -> OSError | None:
    """The OSError inside ``exc`` (trio wraps task errors in exception groups)."""
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _find_oserror(inner)
            if found is not None:
                return found
    return None


def run_relay(config: RelayConfig) -> int:
    """Run until SIGTERM/SIGINT; 0 after a graceful stop, 1 if the port cannot be bound."""
    # trio-websocket logs every frame at DEBUG; keep it quiet (and payload-free) regardless.
    logging.getLogger("trio-websocket").setLevel(logging.WARNING)
    log.info("open-files limit %d", raise_fd_limit())
    try:
        return trio.run(run, config)
    except KeyboardInterrupt:
        return 0
    except Exception as e:
        error = _find_oserror(e)
        if error is None:
            raise
        log.error("cannot listen on %s:%d: %s", config.host, config.port, error.strerror or error)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return run_relay(config)


if __name__ == "__main__":
    sys.exit(main())
