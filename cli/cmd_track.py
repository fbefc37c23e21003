"""``avatarchat track``: run the tracking process headless (same options as
``python -m tracking``), e.g. ``avatarchat track --source sample --json``."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    from tracking.__main__ import build_parser

    parser = subparsers.add_parser(
        "track",
        help="face tracking: camera or clip -> parameter frames (JSON or a shm ring)",
        description="Face tracking: camera or clip -> parameter frames. Raw frames never "
        "leave the process.",
    )
    build_parser(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from tracking.__main__ import run

    return run(args)
