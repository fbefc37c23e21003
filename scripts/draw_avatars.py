#!/usr/bin/env python3
"""Draw the built-in avatar packs into avatars/builtin/<id>/ (layers, avatar.toml, previews).

Run from the repo root: ``python scripts/draw_avatars.py [ID ...]``. The output is committed;
re-run after changing the art in scripts/avatar_art/. Previews are composed at rest with
avatars.compose, so they show exactly what the pack contains. The art (``avatar_art``) sits
beside this script, so it imports from the script's own folder, which Python puts on the path
itself; nothing edits ``sys.path``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from avatar_art import aria, bolt, fox, mochi
from avatar_art.kit import build

from avatars.compose import compose
from avatars.pack import builtin_dir, load_pack

log = logging.getLogger("draw_avatars")
#: FORMAT.md: preview.png is a 256x256 thumbnail for the TUI picker.
PREVIEW_SIZE = 256
ARTISTS = {"aria": aria.spec, "bolt": bolt.spec, "fox": fox.spec, "mochi": mochi.spec}


def draw(avatar_id: str, dest_root: Path) -> Path:
    out = dest_root / avatar_id
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    build(ARTISTS[avatar_id](), out)
    pack = load_pack(out)
    for vid in pack.variants:
        img = compose(pack, variant=vid, size=PREVIEW_SIZE)
        name = "preview.png" if vid == pack.default_variant else f"preview-{vid}.png"
        img.save(out / name, optimize=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("ids", nargs="*", help=f"avatars to draw (default: all of {sorted(ARTISTS)})")
    ap.add_argument("--out", type=Path, default=builtin_dir(), help="destination folder")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for avatar_id in args.ids or sorted(ARTISTS):
        out = draw(avatar_id, args.out)
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        log.info("%s: %d files, %.0f KiB", out, len(list(out.rglob("*.png"))), size / 1024)
    return 0


if __name__ == "__main__":
    sys.exit(main())
