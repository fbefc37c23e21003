"""``python -m relay``: run the signaling relay until SIGTERM/SIGINT (then shut down gracefully).

Prints one ``ready`` control event (JSON line, protocol.control) with the bound port on stdout
so scripts and tests that start it with ``--port 0`` learn where it listens; logs go to stderr.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import sys
import threading
from collections.abc import Sequence

import trio

from protocol.channel import ChildChannel
from protocol.commands import Command, Quit
from protocol.events import Bye, Ready

from .config import RelayConfig, parse_config
from .server import RelayServer, serve_relay

log = logging.getLogger("relay")
#: Not a relay setting but a way of running it: end with the parent's stdin (see main).
EXIT_ON_EOF_FLAG = "--exit-on-stdin-eof"


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
            ready = Ready(
                info={"port": server.port, "metrics_port": server.metrics_port, "host": config.host}
            )
            print(ready.encode(), end="", flush=True)
            async for signum in signals:
                log.info("%s: shutting down gracefully", signal.Signals(signum).name)
                server.shutdown()
                break
    print(Bye().encode(), end="", flush=True)
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


def _exit_on_stdin_eof() -> None:
    """Supervised use (``call/`` starts an embedded relay): the relay does not otherwise read
    stdin, so a parent that dies without cleaning up would leave it listening. The children's
    control channel reads stdin here too: a ``quit`` command, or EOF (which the channel turns
    into ``quit``), sends this process its graceful-shutdown SIGTERM; other commands are
    ignored. Events still go out through ``print`` (the channel is quiet)."""

    asked = threading.Event()

    def on_command(command: Command) -> None:
        # Once: a parent's quit is followed by EOF (another quit), and a second SIGTERM that
        # lands after the graceful shutdown restored the default handler kills us (exit -15).
        if isinstance(command, Quit) and not asked.is_set():
            asked.set()
            os.kill(os.getpid(), signal.SIGTERM)

    ChildChannel(quiet=True, on_command=on_command).start()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if EXIT_ON_EOF_FLAG in args:
        args = [a for a in args if a != EXIT_ON_EOF_FLAG]
        _exit_on_stdin_eof()
    config = parse_config(args)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return run_relay(config)


if __name__ == "__main__":
    sys.exit(main())
