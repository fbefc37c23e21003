"""``avatarchat frame``: inspect parameter frames (decode hex to the seed's JSON view, encode back).

Useful for interop and debugging: ``python -m tracking --json`` prints seed views, and this
turns them into the exact wire bytes (and back).
"""

from __future__ import annotations

import argparse
import json
import sys

from protocol import DecodeError, ParamFrame


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("frame", help="decode/encode parameter frames (hex <-> seed JSON)")
    parser.add_argument("action", choices=["decode", "encode"], help="decode hex, or encode JSON")
    parser.add_argument(
        "value", nargs="?", help="hex bytes or a seed JSON object (default: one per line on stdin)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    lines = [args.value] if args.value else [line for line in sys.stdin if line.strip()]
    status = 0
    for seq, line in enumerate(lines):
        try:
            if args.action == "decode":
                frame = ParamFrame.decode(bytes.fromhex(line.strip()))
                print(
                    json.dumps(
                        {"seq": frame.seq, "bytes": len(frame.encode()), **frame.to_seed()},
                        separators=(",", ":"),
                    )
                )
            else:
                seed = json.loads(line)
                if not isinstance(seed, dict):
                    raise DecodeError("expected a JSON object")
                print(ParamFrame.from_seed(seed, seq=seq).encode().hex())
        except (ValueError, DecodeError) as e:  # bad hex, bad JSON, bad frame
            print(f"error: {e}", file=sys.stderr)
            status = 1
    return status
