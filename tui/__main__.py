"""``avatarchat-tui``: the interactive app (``python -m tui``)."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
from logging.handlers import RotatingFileHandler

from i18n import _
from protocol.signaling import ROOM_CODE_RE
from tui.lang import apply_language
from tui.settings import load_settings, state_dir

log = logging.getLogger("tui")

#: After SIGHUP, children get this long to exit on SIGTERM (the peer says bye) before SIGKILL.
HANGUP_GRACE_S = 3.0
#: The log file must never grow without bound on a machine that calls every day.
LOG_BYTES = 2 * 1024 * 1024


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avatarchat-tui",
        description="1:1 avatar chat in your terminal. With no options, opens the home screen.",
    )
    parser.add_argument(
        "--relay",
        default="",
        metavar="URL",
        help="relay WebSocket URL (default: settings, else start one locally)",
    )
    parser.add_argument(
        "--lan",
        action="store_true",
        help="a room you create without a relay can be joined from your network "
        "(default: settings, else this machine only)",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--join", default="", metavar="CODE", help="join this room at once")
    group.add_argument("--create", action="store_true", help="create a room at once")
    parser.add_argument("--name", default="", help="display name for this call")
    parser.add_argument(
        "--source",
        default="",
        metavar="SPEC",
        help="camera path, clip path, or 'sample' (the bundled clip)",
    )
    parser.add_argument("--avatar", default="", metavar="ID", help="avatar pack id or path")
    parser.add_argument(
        "--no-window",
        action="store_true",
        help="do not open the avatar window (stats and chat only)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging to the log file"
    )
    return parser


def setup_logging(verbose: bool) -> str:
    """Log to a file in the user's state dir: the terminal belongs to the TUI."""
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tui.log"
    handler = RotatingFileHandler(path, maxBytes=LOG_BYTES, backupCount=2, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    return str(path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings()
    apply_language(settings.language)
    if args.join and not ROOM_CODE_RE.match(args.join):
        message = _("{code} is not a room code").format(code=repr(args.join))
        print(f"avatarchat-tui: {message}", file=sys.stderr)
        return 2
    log_path = setup_logging(args.verbose)
    # ``kill -USR1 <pid>`` dumps every thread's stack to a file: the terminal belongs to the
    # UI, and a hung UI is exactly when one needs to know where it hangs.
    dump = open(state_dir() / "stacks.txt", "a", encoding="utf-8")  # noqa: SIM115
    faulthandler.register(signal.SIGUSR1, file=dump, all_threads=True)
    from tui.app import AppOptions, AvatarChatApp

    options = AppOptions(
        relay=args.relay,
        lan=args.lan,
        join=args.join,
        create=args.create,
        name=args.name,
        source=args.source,
        avatar=args.avatar,
        window=not args.no_window,
    )
    app = AvatarChatApp(options, settings)

    def terminal_closed(signum: int, frame: object) -> None:
        """SIGHUP: no terminal to draw on, and Textual's writes to it may block the loop for
        good. Stop the children and unlink the rings right here, then leave."""
        log.info("terminal closed (SIGHUP): stopping the call's processes and exiting")
        for controller in app.controllers():
            controller.emergency_cleanup(grace_s=HANGUP_GRACE_S)
        logging.shutdown()
        os._exit(128 + signal.SIGHUP)

    signal.signal(signal.SIGHUP, terminal_closed)
    try:
        result = app.run()
    except Exception:
        log.exception("the app crashed")
        print(_("avatarchat-tui crashed; details in {path}").format(path=log_path), file=sys.stderr)
        result = 1
    finally:
        # Last resort: whatever a crash or a lost terminal left running is killed and unlinked.
        for controller in app.controllers():
            controller.emergency_cleanup(grace_s=HANGUP_GRACE_S)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
