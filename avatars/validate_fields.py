"""The checks every table of a pack manifest shares: the problem list, and single values.

:mod:`avatars.validate` checks a whole pack in one pass, collecting every problem with where it
is; the tables it walks (pack, layers, bindings, sprites, variants) all ask the same questions of
single values (is this a pack image of the right size, a pair of numbers, a known key). Those
answers, and the format's limits, live here so each table's checker reads as the table itself.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from avatars.png import png_decode_error, png_size
from avatars.source import PackSource, unsafe_path_reason

FORMAT_VERSION = 1
MANIFEST = "avatar.toml"
#: FORMAT.md Limits.
MAX_LAYERS = 64
MAX_IMAGE_SIDE = 2048
#: A canvas is a design space, not a texture; 4096 leaves room for hi-dpi art.
MAX_CANVAS_SIDE = 4096
#: Mesh grids beyond this add vertices without visible benefit for 2D warps.
MAX_MESH = 64
#: An unreferenced-files problem names at most this many (a hostile pack may hold hundreds).
MAX_NAMED_UNREFERENCED = 5
#: Bounds that keep a hostile manifest cheap to evaluate per frame.
MAX_BINDINGS_PER_LAYER = 32
MAX_SPRITES = 16
MAX_VARIANTS = 32

PACK_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
LAYER_ID_RE = re.compile(r"^[a-z0-9_]{1,32}$")
VARIANT_ID_RE = PACK_ID_RE

TOP_LEVEL = ("pack", "variants", "layers")
# fmt: off
PACK_KEYS = {
    "format", "id", "name", "version", "author", "license", "canvas", "default_variant",
    "description",
}
# fmt: on
LAYER_KEYS = {"id", "image", "parent", "position", "pivot", "z", "mesh", "bindings", "bone"}
BINDING_KEYS = {"param", "target", "gain", "offset", "min", "max", "sprites"}
VARIANT_KEYS = {"id", "name", "textures", "tint"}


def suggest(name: str, choices: Any) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``choices``, or "" when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def is_num(v: Any) -> bool:
    """A TOML number (bool is an int to Python, not to a pack author)."""
    return isinstance(v, int | float) and not isinstance(v, bool)


class FieldChecker:
    """Collects problems (``problems``), image sizes and the paths the manifest names."""

    def __init__(self, source: PackSource, root: Path) -> None:
        self.src = source
        self.root = root
        self.problems: list[str] = list(source.problems)
        self.sizes: dict[str, tuple[int, int]] = {}
        #: Every path the manifest names (layer images, sprites, variant textures, previews):
        #: whatever else the pack holds is refused (:meth:`unreferenced`).
        self.referenced: set[str] = {MANIFEST}

    def bad(self, msg: str) -> None:
        self.problems.append(msg)

    # -- primitives ----------------------------------------------------------------------------
    def image(self, where: str, rel: Any, expect: tuple[int, int] | None = None) -> Path | None:
        """Check a PNG path inside the pack; returns its absolute path when usable."""
        if not isinstance(rel, str):
            self.bad(f"{where}: image path must be a string, got {rel!r}")
            return None
        reason = unsafe_path_reason(rel)
        if reason:
            self.bad(f"{where}: path {rel!r} {reason}; paths must stay inside the pack")
            return None
        self.referenced.add(rel)
        data = self.src.files.get(rel)
        if data is None:
            self.bad(f"{where}: image {rel!r} does not exist in the pack")
            return None
        size = png_size(data)
        if size is None:
            self.bad(f"{where}: {rel!r} is not a PNG file (bad signature)")
            return None
        w, h = size
        if w > MAX_IMAGE_SIDE or h > MAX_IMAGE_SIDE or w < 1 or h < 1:
            self.bad(
                f"{where}: image {rel!r} is {w}x{h}, larger than the "
                f"{MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} limit"
                if w >= 1 and h >= 1
                else f"{where}: image {rel!r} has an empty size"
            )
            return None
        if expect is not None and size != expect:
            self.bad(
                f"{where}: image {rel!r} is {w}x{h} but the layer image is "
                f"{expect[0]}x{expect[1]}; replacements must have the same size"
            )
            return None
        if rel not in self.sizes:
            broken = png_decode_error(data)
            if broken:
                self.bad(f"{where}: {rel!r} is not a readable PNG ({broken})")
                return None
        self.sizes[rel] = size
        return self.root / rel

    def pair(self, where: str, v: Any, *, integer: bool = False) -> tuple[float, float] | None:
        ok = (
            isinstance(v, list)
            and len(v) == 2
            and all(
                (isinstance(x, int) and not isinstance(x, bool)) if integer else is_num(x)
                for x in v
            )
        )
        if not ok:
            kind = "integers" if integer else "numbers"
            self.bad(f"{where}: must be a list of two {kind}, got {v!r}")
            return None
        return (v[0], v[1])

    def unknown_keys(self, where: str, table: dict[str, Any], known: set[str]) -> None:
        for key in table:
            if key not in known:
                self.bad(f"{where}: unknown key {key!r}{suggest(key, known)}")

    def entry(
        self, name: str, table: dict[str, Any], known: set[str], id_re: re.Pattern[str]
    ) -> tuple[str, str | None]:
        """One ``[[layers]]``/``[[variants]]`` entry: where it is (named by its id when it has
        one), its unknown keys reported, and its id -- None, reported, when it does not match
        ``id_re``."""
        tid = table.get("id")
        where = f"{MANIFEST} {name}" + (f" {tid!r}" if isinstance(tid, str) else "")
        self.unknown_keys(where, table, known)
        if not isinstance(tid, str) or not id_re.match(tid):
            self.bad(f"{where}: id {tid!r} must match {id_re.pattern}")
            return where, None
        return where, tid
