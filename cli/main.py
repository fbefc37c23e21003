"""``avatarchat``: the headless command line.

Each subcommand lives in its own module ``cli/cmd_<name>.py`` exposing
``register(subparsers) -> None``; the parser it adds sets ``func`` (args -> exit code). Keeping
one module per command lets the parts of the product add commands without touching each other.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

import cli
import i18n

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avatarchat",
        description="Terminal-first 1:1 avatar chat (headless commands). "
        "Run 'avatarchat-tui' for the interactive app.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(cli.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"cli.{info.name}")
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # $AVATARCHAT_LANG, else the locale; the children inherit the environment, so the window
    # (``call --window``) speaks the same language.
    i18n.setup()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
