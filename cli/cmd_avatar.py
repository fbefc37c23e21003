"""``avatarchat avatar list|validate``: inspect built-in packs and check a pack before sharing it.

Validation prints every problem on its own line (not just the first), so a pack author can fix
them in one go; bad input never produces a traceback, only messages and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from i18n import _

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("avatar", help="list built-in avatars or validate an avatar pack")
    sub = p.add_subparsers(dest="avatar_command", metavar="ACTION")
    ls = sub.add_parser("list", help="list the built-in avatar packs")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=cmd_list)
    val = sub.add_parser("validate", help="check a pack directory or .zip against FORMAT.md")
    val.add_argument("path", help="pack directory, .zip, or built-in id")
    val.set_defaults(func=cmd_validate)
    show = sub.add_parser(
        "show", help="render an avatar pose to a PNG, or to the terminal (half-block colour)"
    )
    show.add_argument("ref", help="built-in id, pack directory or .zip")
    show.add_argument("--variant", help="variant id (default: the pack's)")
    show.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PARAM=VALUE",
        help="pose parameter, repeatable (e.g. --set jawOpen=1 --set headYaw=0.4)",
    )
    show.add_argument("--size", type=int, default=512, help="PNG size in pixels (default 512)")
    show.add_argument("--columns", type=int, default=48, help="terminal width in characters")
    show.add_argument("--out", type=Path, help="write a PNG here instead of printing")
    show.set_defaults(func=cmd_show)
    zp = sub.add_parser("zip", help="validate a pack and write it as a deterministic .zip")
    zp.add_argument("path", help="pack directory or built-in id")
    zp.add_argument("--out", type=Path, required=True, help="the .zip to write")
    zp.set_defaults(func=cmd_zip)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def cmd_list(args: argparse.Namespace) -> int:
    from avatars.errors import PackError
    from avatars.pack import builtin_ids, load_pack

    rows = []
    status = 0
    for avatar_id in builtin_ids():
        try:
            pack = load_pack(avatar_id)
        except PackError as exc:
            print(f"{avatar_id}: BROKEN: {exc}", file=sys.stderr)
            status = 1
            continue
        rows.append(
            {
                "id": pack.id,
                "name": pack.name,
                "version": pack.version,
                "variants": list(pack.variants),
                "default_variant": pack.default_variant,
                "hash": pack.content_hash,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return status
    print(f"{'ID':<10} {'NAME':<10} {'VERSION':<8} {'HASH':<12}  VARIANTS")
    for r in rows:
        variants = ", ".join(f"{v}*" if v == r["default_variant"] else v for v in r["variants"])
        print(f"{r['id']:<10} {r['name']:<10} {r['version']:<8} {r['hash'][:12]:<12}  {variants}")
    return status


def cmd_validate(args: argparse.Namespace) -> int:
    from avatars.errors import PackError
    from avatars.pack import load_pack, validate_pack

    problems = validate_pack(args.path)
    if problems:
        # INVALID / OK / BROKEN stay English in every language: scripts look for them.
        print(f"INVALID {args.path}: " + _("{count} problem(s)").format(count=len(problems)))
        for line in problems:
            print(f"  {line}")
        return 1
    try:
        pack = load_pack(Path(args.path) if Path(args.path).exists() else args.path)
    except PackError as exc:  # e.g. a zip that cannot be unpacked into the cache
        print(f"INVALID {args.path}: {exc}")
        return 1
    except OSError as exc:
        print(f"INVALID {args.path}: " + _("cannot read ({error})").format(error=exc))
        return 1
    print(
        f"OK {pack.id} {pack.version} ({pack.name}) sha256:{pack.content_hash} "
        f"layers={len(pack.layers)} variants={','.join(pack.variants)}"
    )
    return 0


def _parse_params(items: list[str]) -> dict[str, float] | str:
    from avatars.params import PARAM_SET

    params: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            return f"--set {item!r}: " + _("expected PARAM=VALUE")
        if name not in PARAM_SET:
            return f"--set {item!r}: " + _("unknown parameter {name}").format(name=repr(name))
        try:
            params[name] = float(value)
        except ValueError:
            return f"--set {item!r}: " + _("{value} is not a number").format(value=repr(value))
    return params


def cmd_show(args: argparse.Namespace) -> int:
    from avatars.compose import compose
    from avatars.errors import PackError
    from avatars.pack import load_pack
    from avatars.terminal import halfblock_lines

    params = _parse_params(args.set)
    if isinstance(params, str):
        print(params, file=sys.stderr)
        return 1
    if not 16 <= args.size <= 2048 or not 8 <= args.columns <= 400:
        print(_("--size must be 16..2048 and --columns 8..400"), file=sys.stderr)
        return 1
    try:
        pack = load_pack(args.ref, variant=args.variant)
        img = compose(pack, params, size=args.size)
    except PackError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if args.out is not None:
        try:
            img.save(args.out, format="PNG")
        except OSError as exc:
            message = _("cannot write {path}: {error}").format(path=args.out, error=exc)
            print(message, file=sys.stderr)
            return 1
        shown = f"{pack.id}/{pack.default_variant}, {args.size}px"
        print(_("wrote {path} ({what})").format(path=args.out, what=shown))
        return 0
    print("\n".join(halfblock_lines(img, args.columns)))
    return 0


def cmd_zip(args: argparse.Namespace) -> int:
    from avatars.errors import PackError
    from avatars.pack import load_pack, pack_bytes

    try:
        pack = load_pack(args.path)
        data = pack_bytes(pack)
    except PackError as exc:
        print(f"INVALID {args.path}: {exc}")
        return 1
    try:
        args.out.write_bytes(data)
    except OSError as exc:
        print(_("cannot write {path}: {error}").format(path=args.out, error=exc), file=sys.stderr)
        return 1
    what = f"{pack.id} {pack.version} sha256:{pack.content_hash}"
    print(_("wrote {path}: {what} ({size} bytes)").format(path=args.out, what=what, size=len(data)))
    return 0
