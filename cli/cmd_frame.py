"""``avatarchat frame``: inspect parameter frames (decode hex to the seed's JSON view, encode back).

Useful for interop and debugging: ``python -m tracking --json`` prints seed views, and this
turns them into the exact wire bytes (and back).
"""

from __future__ import annotations

import argparse
import json
import sys

from cli.helptext import plain
from i18n import _
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
        raise ValueError(
            _("not hex: {char} is not a hex digit (expected 0-9 and a-f, e.g. a4)").format(
                char=repr(bad)
            )
        )
    if len(digits) % 2:
        raise ValueError(
            _("not hex: {count} digits, but bytes take two each").format(count=len(digits))
        )
    return bytes.fromhex(digits)


def _one(action: str, line: str, seq: int) -> str:
    if action == "decode":
        frame = ParamFrame.decode(_hex(line))
        view = {"seq": frame.seq, "bytes": len(frame.encode()), **frame.to_seed()}
        return json.dumps(view, separators=(",", ":"))
    try:
        seed = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(
            _("not JSON: {reason} at character {pos}").format(reason=e.msg, pos=e.pos)
        ) from e
    if not isinstance(seed, dict):
        raise ValueError(
            _("not a JSON object: a seed looks like {example}").format(example=SEED_EXAMPLE)
        )
    try:
        return ParamFrame.from_seed(seed, seq=seq).encode().hex()
    except DecodeError as e:
        raise ValueError(
            _("not a seed: {error} (a seed looks like {example})").format(
                error=e, example=SEED_EXAMPLE
            )
        ) from e


def run(args: argparse.Namespace) -> int:
    if args.value is not None and args.value != "-":
        if not args.value.strip():
            message = _("error: the value to {action} is empty").format(action=args.action)
            print(message, file=sys.stderr)
            return 2
        lines = [args.value]
    elif sys.stdin.isatty():
        # Waiting silently for typed input looks like a hang: say what is expected instead.
        if args.action == "decode":
            message = _("error: nothing to decode: give hex bytes as an argument, or pipe lines in")
        else:
            message = _(
                "error: nothing to encode: give a JSON object as an argument, or pipe lines in"
            )
        print(message, file=sys.stderr)
        return 2
    else:
        lines = [line for line in sys.stdin if line.strip()]
    status = 0
    for seq, line in enumerate(lines):
        try:
            print(_one(args.action, line.strip(), seq))
        except DecodeError as e:  # hex that is not a frame
            print(_("error: not a parameter frame: {error}").format(error=e), file=sys.stderr)
            status = 1
        except ValueError as e:  # not hex, not JSON, a seed out of range
            print(_("error: {error}").format(error=e), file=sys.stderr)
            status = 1
    return status
