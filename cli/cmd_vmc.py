"""``avatarchat vmc send --to HOST:PORT [--source SPEC]``: drive another app's avatar (VSeeFace,
Warudo, VNyan, VMagicMirror, ...) with avatarchat's face tracking, over the VMC protocol.

No call is made: the tracker and the VMC sender run (:class:`call.vmc.VmcBridge`) until Ctrl+C
or ``--seconds``. VMC is plain UDP without encryption, outside avatarchat's privacy model: the
frames go only to the address given, and anyone on the path can read them - keep it on this
machine or your own network. The other direction is a source: ``--source vmc:PORT`` in
``avatarchat call``/``track`` makes a VMC sender (a phone tracker) the camera.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from typing import Any

from call import CallConfigError, CallError, CallEvent, ChildFailed
from call.vmc import VmcBridge
from cli.helptext import plain
from i18n import _
from protocol.events import Error, Stats
from protocol.text import printable
from protocol.vmc import DEFAULT_PORT


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "vmc",
        help="VMC protocol: send our tracking to VSeeFace, Warudo, VNyan, ...",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="vmc_command", metavar="ACTION")
    send = sub.add_parser(
        "send",
        help="track and send as VMC (OSC over UDP) to HOST:PORT",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    send.add_argument(
        "--to",
        required=True,
        metavar="HOST:PORT",
        help=f"the VMC receiver (a marionette listens on port {DEFAULT_PORT} by default)",
    )
    send.add_argument(
        "--source",
        default="camera:0",
        help="camera:N, /dev/videoN, a clip path, 'sample', 'synthetic' or vmc:PORT",
    )
    send.add_argument("--seconds", type=float, metavar="S", help="stop after S seconds")
    send.add_argument("--quiet", action="store_true", help="no per-second status line")
    send.add_argument(
        "--tracking-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for the tracker (repeatable), e.g. --tracking-arg=--mirror",
    )
    send.set_defaults(func=run_send)
    p.set_defaults(func=lambda _args: (p.print_help(), 2)[1])


def run_send(args: argparse.Namespace) -> int:
    return asyncio.run(_send(args))


async def _send(args: argparse.Namespace) -> int:
    failed: list[str] = []

    def on_event(source: str, event: CallEvent) -> None:
        if isinstance(event, Error | ChildFailed) and event.fatal:
            failed.append(f"{source}: {printable(event.message)}")

    bridge = VmcBridge(
        args.to, source=args.source, on_event=on_event, tracking_args=args.tracking_arg
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    print(
        _(
            "Sending tracking to {address} as VMC: plain UDP, not encrypted, outside the call's "
            "privacy (anyone on the path can read it)."
        ).format(address=args.to),
        file=sys.stderr,
    )
    try:
        await bridge.start()
        await bridge.wait_ready()
        deadline = time.monotonic() + args.seconds if args.seconds else None
        while not stop.is_set() and not bridge.ended:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            if not args.quiet:
                print(
                    _status_line(bridge.stats.get("vmc"), bridge.stats.get("tracking")), flush=True
                )
            if deadline is not None and time.monotonic() >= deadline:
                break
    except CallConfigError as e:
        print(f"avatarchat vmc: {e}", file=sys.stderr)
        return 2
    except CallError as e:
        print(f"avatarchat vmc: {e}", file=sys.stderr)
        for line in failed:
            print(f"  {line}", file=sys.stderr)
        return 1
    finally:
        await bridge.close()
    if failed:
        for line in failed:
            print(f"avatarchat vmc: {line}", file=sys.stderr)
        return 1
    return 0


def _status_line(vmc: Stats | None, tracking: Stats | None) -> str:
    v = vmc.values if vmc is not None else {}
    face = bool(tracking.values.get("face_present")) if tracking is not None else False
    line = _("vmc: {sent} frames sent ({hz} Hz, {size} B each), {errors} errors; {face}")
    return line.format(
        sent=v.get("vmc_sent", 0),
        hz=v.get("vmc_send_hz", 0),
        size=v.get("vmc_bytes_per_frame", 0),
        errors=v.get("vmc_send_errors", 0),
        face=_("tracking a face") if face else _("no face in view"),
    )
