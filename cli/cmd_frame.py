"""``avatarchat frame``: inspect parameter frames (decode hex to the seed's JSON view, encode back).

Useful for interop and debugging: ``python -m tracking --json`` prints seed views, and this
turns them into the exact wire bytes (and back).
"""

from __future__ import annotations

import argparse
import json
import sys

from cli.helptext import plain
from protocol import DecodeError, ParamFrame

#: What a seed object looks like (the tracker's --json view), for error messages.
SEED_EXAMPLE = (
    '{"headRotation": [0, 0, 0], "eyeBlinkLeft": 0, "eyeBlinkRight": 0, "mouthOpen": 0.2, '
    '"smile": 0.5, "timestamp": 0}'
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "frame",
        help="decode/encode parameter frames (hex <-> seed JSON)",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=["decode", "encode"], help="decode hex, or encode JSON")
    parser.add_argument(
        "value",
        nargs="?",
        help="hex bytes (decode) or a seed JSON object (encode); '-' or nothing reads one per "
        "line from a pipe",
    )
    parser.set_defaults(func=run)


def _hex(text: str) -> bytes:
    """The bytes of a hex string, or a ValueError a person understands."""
    digits = "".join(text.split())
    bad = next((c for c in digits if c not in "0123456789abcdefABCDEF"), None)
    if bad is not None:
        raise ValueError(f"not hex: {bad!r} is not a hex digit (expected 0-9 and a-f, e.g. a4)")
    if len(digits) % 2:
        raise ValueError(f"not hex: {len(digits)} digits, but bytes take two each")
    return bytes.fromhex(digits)


def _one(action: str, line: str, seq: int) -> str:
    if action == "decode":
        frame = ParamFrame.decode(_hex(line))
        view = {"seq": frame.seq, "bytes": len(frame.encode()), **frame.to_seed()}
        return json.dumps(view, separators=(",", ":"))
    try:
        seed = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON: {e.msg} at character {e.pos}") from e
    if not isinstance(seed, dict):
        raise ValueError(f"not a JSON object: a seed looks like {SEED_EXAMPLE}")
    try:
        return ParamFrame.from_seed(seed, seq=seq).encode().hex()
    except DecodeError as e:
        raise ValueError(f"not a seed: {e} (a seed looks like {SEED_EXAMPLE})") from e


def run(args: argparse.Namespace) -> int:
    if args.value is not None and args.value != "-":
        if not args.value.strip():
            print(f"error: the value to {args.action} is empty", file=sys.stderr)
            return 2
        lines = [args.value]
    elif sys.stdin.isatty():
        # Waiting silently for typed input looks like a hang: say what is expected instead.
        what = "hex bytes" if args.action == "decode" else "a JSON object"
        print(
            f"error: nothing to {args.action}: give {what} as an argument, or pipe lines in",
            file=sys.stderr,
        )
        return 2
    else:
        lines = [line for line in sys.stdin if line.strip()]
    status = 0
    for seq, line in enumerate(lines):
        try:
            print(_one(args.action, line.strip(), seq))
        except DecodeError as e:  # hex that is not a frame
            print(f"error: not a parameter frame: {e}", file=sys.stderr)
            status = 1
        except ValueError as e:  # not hex, not JSON, a seed out of range
            print(f"error: {e}", file=sys.stderr)
            status = 1
    return status
