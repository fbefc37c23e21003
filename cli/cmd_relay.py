"""``avatarchat relay``: the signaling relay (same flags and environment as ``python -m relay``)."""

from __future__ import annotations

import argparse
import logging
from typing import Any

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    from relay.config import build_parser

    parser = subparsers.add_parser(
        "relay",
        help="run the signaling relay (rooms of two, TURN credentials, /healthz, /metrics)",
        description="Run the avatarchat signaling relay; see 'python -m relay --help'. Every "
        "flag also reads AVATARCHAT_RELAY_<FLAG> from the environment.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    build_parser(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from relay.__main__ import run_relay
    from relay.config import config_from_args

    try:
        config = config_from_args(args)
    except ValueError as e:
        log.error("%s", e)
        return 2
    return run_relay(config)
