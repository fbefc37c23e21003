"""Checking a pack against FORMAT.md and building the :class:`AvatarPack` in the same pass.

Every problem is collected (not just the first) with where it is, so ``avatarchat avatar
validate`` can list all of them for a pack author at once.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from typing import Any

from avatars.bones import check_bone, check_bone_chains
from avatars.model import (
    DEFAULT_VARIANT_ID,
    RGBA,
    TARGET_SET,
    TARGETS,
    AvatarPack,
    Binding,
    Bone,
    Layer,
    Variant,
)
from avatars.params import PARAM_NAMES, PARAM_SET
from avatars.png import png_decode_error, png_size
from avatars.source import MAX_PACK_BYTES, PackSource, content_hash, unsafe_path_reason

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


def _suggest(name: str, choices: Any) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


class _Checker:
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
                (isinstance(x, int) and not isinstance(x, bool)) if integer else _is_num(x)
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
                self.bad(f"{where}: unknown key {key!r}{_suggest(key, known)}")

    # -- manifest ------------------------------------------------------------------------------
    def run(self) -> AvatarPack | None:
        if self.src.total_bytes() > MAX_PACK_BYTES:
            self.bad(
                f"pack is {self.src.total_bytes() / (1024 * 1024):.1f} MiB, larger than the "
                f"{MAX_PACK_BYTES // (1024 * 1024)} MiB limit"
            )
        raw = self.src.files.get(MANIFEST)
        if raw is None:
            self.bad(f"{MANIFEST} is missing (every pack needs a manifest at its top level)")
            return None
        try:
            doc = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            self.bad(f"{MANIFEST}: not UTF-8 text ({exc})")
            return None
        except tomllib.TOMLDecodeError as exc:
            self.bad(f"{MANIFEST}: invalid TOML: {exc}")
            return None
        for key in doc:
            if key not in TOP_LEVEL:
                self.bad(
                    f"{MANIFEST}: unknown top-level table {key!r}{_suggest(key, TOP_LEVEL)} "
                    f"(expected {', '.join(TOP_LEVEL)})"
                )
        head = self.pack_table(doc.get("pack"))
        layers = self.layers(doc.get("layers"))
        variants, default = self.variants(doc.get("variants"), head, layers)
        preview = None
        if "preview.png" in self.src.files:
            preview = self.image("preview.png", "preview.png")
        for vid in variants:
            name = f"preview-{vid}.png"
            if name in self.src.files:
                self.image(name, name)
        if layers is not None:  # a manifest too broken to list its files is reported already
            self.unreferenced()
        if self.problems or head is None or layers is None:
            return None
        return AvatarPack(
            id=head["id"],
            name=head["name"],
            version=head["version"],
            content_hash=content_hash(self.src.files.items()),
            root=self.root,
            canvas=head["canvas"],
            layers=layers,
            variants=variants,
            default_variant=default,
            preview=preview,
            author=head.get("author", ""),
            license=head.get("license", ""),
        )

    def unreferenced(self) -> None:
        """Refuse files the manifest never names: they would be stored and sent for nothing
        (a received pack padded with 7.6 MB of junk used to be installed as is)."""
        extra = sorted(rel for rel in self.src.files if rel not in self.referenced)
        if not extra:
            return
        named = ", ".join(repr(rel[:80]) for rel in extra[:MAX_NAMED_UNREFERENCED])
        more = len(extra) - MAX_NAMED_UNREFERENCED
        self.bad(
            f"{len(extra)} file(s) not referenced by {MANIFEST} (a pack holds only the images "
            f"it draws and its previews): {named}" + (f" and {more} more" if more > 0 else "")
        )

    def pack_table(self, t: Any) -> dict[str, Any] | None:
        where = f"{MANIFEST} [pack]"
        if t is None:
            self.bad(f"{MANIFEST}: missing [pack] table")
            return None
        if not isinstance(t, dict):
            self.bad(f"{MANIFEST}: 'pack' must be a table")
            return None
        self.unknown_keys(where, t, PACK_KEYS)
        out: dict[str, Any] = {}
        fmt = t.get("format")
        if fmt != FORMAT_VERSION:
            self.bad(
                f"{where}: format must be {FORMAT_VERSION} (this loader's version), got {fmt!r}"
            )
        pid = t.get("id")
        if not isinstance(pid, str) or not PACK_ID_RE.match(pid):
            self.bad(f"{where}: id {pid!r} must match {PACK_ID_RE.pattern}")
        out["id"] = pid
        for key in ("name", "version"):
            val = t.get(key)
            if not isinstance(val, str) or not val.strip():
                self.bad(f"{where}: {key} must be a non-empty string, got {val!r}")
            out[key] = val
        for key in ("author", "license", "description", "default_variant"):
            if key in t and not isinstance(t[key], str):
                self.bad(f"{where}: {key} must be a string, got {t[key]!r}")
            elif key in t:
                out[key] = t[key]
        canvas = self.pair(f"{where} canvas", t.get("canvas"), integer=True)
        if canvas is not None and not all(1 <= c <= MAX_CANVAS_SIDE for c in canvas):
            self.bad(f"{where} canvas: each side must be 1..{MAX_CANVAS_SIDE}, got {list(canvas)}")
        out["canvas"] = (int(canvas[0]), int(canvas[1])) if canvas else (0, 0)
        return out

    def layers(self, arr: Any) -> list[Layer] | None:
        if arr is None:
            self.bad(f"{MANIFEST}: missing [[layers]] (a pack needs at least one layer)")
            return None
        if not isinstance(arr, list) or not all(isinstance(x, dict) for x in arr):
            self.bad(f"{MANIFEST}: 'layers' must be an array of tables ([[layers]])")
            return None
        if not arr:
            self.bad(f"{MANIFEST}: [[layers]] is empty (a pack needs at least one layer)")
            return None
        if len(arr) > MAX_LAYERS:
            self.bad(f"{MANIFEST}: {len(arr)} layers, more than the limit of {MAX_LAYERS}")
        seen: dict[str, int] = {}
        built: list[Layer] = []
        for i, t in enumerate(arr):
            lid = t.get("id")
            where = f"{MANIFEST} layers[{i}]" + (f" {lid!r}" if isinstance(lid, str) else "")
            self.unknown_keys(where, t, LAYER_KEYS)
            if not isinstance(lid, str) or not LAYER_ID_RE.match(lid):
                self.bad(f"{where}: id {lid!r} must match {LAYER_ID_RE.pattern}")
                lid = f"#{i}"
            elif lid in seen:
                self.bad(f"{where}: duplicate layer id {lid!r} (first used by layers[{seen[lid]}])")
            else:
                seen[lid] = i
            img = self.image(where, t.get("image"))
            size = self.sizes.get(t.get("image")) if img else None
            parent = t.get("parent", "")
            if not isinstance(parent, str):
                self.bad(f"{where}: parent must be a string ('' for none), got {parent!r}")
                parent = ""
            pos = self.pair(f"{where} position", t.get("position", [0, 0]))
            pivot = self.pair(f"{where} pivot", t.get("pivot", [0, 0]))
            z = t.get("z", 0)
            if not isinstance(z, int) or isinstance(z, bool):
                self.bad(f"{where}: z must be an integer, got {z!r}")
                z = 0
            mesh = self.pair(f"{where} mesh", t.get("mesh", [1, 1]), integer=True)
            if mesh is not None and not all(1 <= m <= MAX_MESH for m in mesh):
                self.bad(
                    f"{where} mesh: each of [cols, rows] must be 1..{MAX_MESH}, got {list(mesh)}"
                )
            bindings = self.bindings(where, t.get("bindings", []), size)
            bone = self.bone(where, t.get("bone"), pos, pivot, size)
            built.append(
                Layer(
                    id=lid,
                    image=img or self.root / str(t.get("image")),
                    parent=parent or None,
                    position=pos or (0.0, 0.0),
                    pivot=pivot or (0.0, 0.0),
                    z=z,
                    mesh=(int(mesh[0]), int(mesh[1])) if mesh else (1, 1),
                    bindings=bindings,
                    size=size or (0, 0),
                    bone=bone,
                )
            )
        return self.order(built)

    def bone(
        self,
        where: str,
        t: Any,
        pos: tuple[float, float] | None,
        pivot: tuple[float, float] | None,
        size: tuple[int, int] | None,
    ) -> Bone | None:
        bone, problems = check_bone(where, t, pos, pivot, size)
        self.problems.extend(problems)
        return bone

    def order(self, layers: list[Layer]) -> list[Layer]:
        """Parents before children (stable); reports unknown parents and cycles."""
        by_id = {layer.id: layer for layer in layers}
        for layer in layers:
            if layer.parent is not None and layer.parent not in by_id:
                self.bad(
                    f"{MANIFEST} layer {layer.id!r}: unknown parent {layer.parent!r}"
                    f"{_suggest(layer.parent, by_id)}"
                )
        self.problems.extend(check_bone_chains(MANIFEST, layers, by_id))
        reported: set[str] = set()
        for layer in layers:
            chain = [layer.id]
            cur = layer.parent
            while cur is not None and cur in by_id:
                if cur in chain:
                    cycle = [*chain[chain.index(cur) :], cur]
                    if not reported & set(cycle):
                        self.bad(f"{MANIFEST}: parent cycle: {' -> '.join(cycle)}")
                        reported.update(cycle)
                    break
                chain.append(cur)
                cur = by_id[cur].parent
        out: list[Layer] = []
        placed: set[str] = set()
        pending = list(layers)
        while pending:
            rest = []
            for layer in pending:
                if layer.parent is None or layer.parent in placed or layer.parent not in by_id:
                    out.append(layer)
                    placed.add(layer.id)
                else:
                    rest.append(layer)
            if len(rest) == len(pending):  # cycle (already reported): keep manifest order
                out.extend(rest)
                break
            pending = rest
        return out

    def bindings(self, lwhere: str, arr: Any, size: tuple[int, int] | None) -> list[Binding]:
        if not isinstance(arr, list) or not all(isinstance(x, dict) for x in arr):
            self.bad(f"{lwhere}: 'bindings' must be an array of tables ([[layers.bindings]])")
            return []
        if len(arr) > MAX_BINDINGS_PER_LAYER:
            self.bad(f"{lwhere}: {len(arr)} bindings, more than {MAX_BINDINGS_PER_LAYER}")
        out: list[Binding] = []
        for j, t in enumerate(arr):
            where = f"{lwhere} bindings[{j}]"
            self.unknown_keys(where, t, BINDING_KEYS)
            param, target = t.get("param"), t.get("target")
            ok = True
            if not isinstance(param, str) or param not in PARAM_SET:
                self.bad(f"{where}: unknown parameter {param!r}{_suggest(str(param), PARAM_NAMES)}")
                ok = False
            if not isinstance(target, str) or target not in TARGET_SET:
                self.bad(
                    f"{where}: unknown target {target!r}{_suggest(str(target), TARGETS)} "
                    f"(targets: {', '.join(TARGETS)})"
                )
                ok = False
            nums: dict[str, float | None] = {}
            for key, default in (("gain", 1.0), ("offset", 0.0), ("min", None), ("max", None)):
                v = t.get(key, default)
                if v is not None and not _is_num(v):
                    self.bad(f"{where}: {key} must be a number, got {v!r}")
                    ok = False
                    v = default
                nums[key] = None if v is None else float(v)
            lo, hi = nums["min"], nums["max"]
            if lo is not None and hi is not None and lo > hi:
                self.bad(f"{where}: min {lo} is greater than max {hi}")
                ok = False
            sprites = self.sprites(where, t.get("sprites"), target, size)
            if sprites is None:
                ok = False
            if ok:
                out.append(
                    Binding(
                        param=param,
                        target=target,
                        gain=nums["gain"] or 0.0,
                        offset=nums["offset"] or 0.0,
                        min=lo,
                        max=hi,
                        sprites=sprites or [],
                    )
                )
        return out

    def sprites(
        self, where: str, arr: Any, target: Any, size: tuple[int, int] | None
    ) -> list[tuple[float, Path]] | None:
        if target != "sprite":
            if arr is not None:
                self.bad(f"{where}: 'sprites' is only allowed with target = \"sprite\"")
                return None
            return []
        if not isinstance(arr, list) or not arr:
            self.bad(f"{where}: a sprite binding needs a non-empty 'sprites' list")
            return None
        if len(arr) > MAX_SPRITES:
            self.bad(f"{where}: {len(arr)} sprites, more than {MAX_SPRITES}")
            return None
        out: list[tuple[float, Path]] = []
        ok = True
        last: float | None = None
        for k, item in enumerate(arr):
            swhere = f"{where} sprites[{k}]"
            if not (isinstance(item, list) and len(item) == 2 and _is_num(item[0])):
                self.bad(f'{swhere}: must be [threshold, "path.png"], got {item!r}')
                ok = False
                continue
            threshold = float(item[0])
            if last is not None and threshold <= last:
                self.bad(
                    f"{where}: sprite thresholds must be ascending, but {threshold} follows {last}"
                )
                ok = False
            last = threshold
            path = self.image(swhere, item[1], expect=size)
            if path is None:
                ok = False
            else:
                out.append((threshold, path))
        return out if ok else None

    def variants(
        self, arr: Any, head: dict[str, Any] | None, layers: list[Layer] | None
    ) -> tuple[dict[str, Variant], str]:
        default = (head or {}).get("default_variant")
        layer_sizes = {layer.id: layer.size for layer in layers or []}
        if arr is None:
            if default not in (None, DEFAULT_VARIANT_ID):
                self.bad(f"{MANIFEST} [pack]: default_variant {default!r} but no [[variants]]")
            return {DEFAULT_VARIANT_ID: Variant(DEFAULT_VARIANT_ID, "Default")}, DEFAULT_VARIANT_ID
        if not isinstance(arr, list) or not arr or not all(isinstance(x, dict) for x in arr):
            self.bad(f"{MANIFEST}: 'variants' must be a non-empty array of tables ([[variants]])")
            return {}, ""
        if len(arr) > MAX_VARIANTS:
            self.bad(f"{MANIFEST}: {len(arr)} variants, more than {MAX_VARIANTS}")
        out: dict[str, Variant] = {}
        for i, t in enumerate(arr):
            vid = t.get("id")
            where = f"{MANIFEST} variants[{i}]" + (f" {vid!r}" if isinstance(vid, str) else "")
            self.unknown_keys(where, t, VARIANT_KEYS)
            if not isinstance(vid, str) or not VARIANT_ID_RE.match(vid):
                self.bad(f"{where}: id {vid!r} must match {VARIANT_ID_RE.pattern}")
                continue
            if vid in out:
                self.bad(f"{where}: duplicate variant id {vid!r}")
                continue
            name = t.get("name", vid)
            if not isinstance(name, str):
                self.bad(f"{where}: name must be a string")
                name = vid
            textures: dict[str, Path] = {}
            tex = t.get("textures", {})
            if not isinstance(tex, dict):
                self.bad(f"{where}: textures must be a table of layer id -> image path")
                tex = {}
            for lid, rel in tex.items():
                if lid not in layer_sizes:
                    self.bad(f"{where} textures: unknown layer {lid!r}{_suggest(lid, layer_sizes)}")
                    continue
                p = self.image(f"{where} textures.{lid}", rel, expect=layer_sizes[lid] or None)
                if p is not None:
                    textures[lid] = p
            tints: dict[str, RGBA] = {}
            tint = t.get("tint", {})
            if not isinstance(tint, dict):
                self.bad(f"{where}: tint must be a table of layer id -> [r, g, b, a]")
                tint = {}
            for lid, rgba in tint.items():
                if lid not in layer_sizes:
                    self.bad(f"{where} tint: unknown layer {lid!r}{_suggest(lid, layer_sizes)}")
                    continue
                if not (
                    isinstance(rgba, list)
                    and len(rgba) == 4
                    and all(_is_num(c) and 0.0 <= c <= 1.0 for c in rgba)
                ):
                    self.bad(f"{where} tint.{lid}: must be four numbers 0..1, got {rgba!r}")
                    continue
                tints[lid] = (float(rgba[0]), float(rgba[1]), float(rgba[2]), float(rgba[3]))
            out[vid] = Variant(vid, name, textures, tints)
        if default is None:
            default = next(iter(out), "")
        elif default not in out:
            self.bad(
                f"{MANIFEST} [pack]: default_variant {default!r} is not a variant id"
                f"{_suggest(str(default), out)} (variants: {', '.join(out)})"
            )
        return out, default


def check_source(source: PackSource, root: Path) -> tuple[list[str], AvatarPack | None]:
    """All problems of ``source`` and, when there are none, the loaded pack rooted at ``root``."""
    checker = _Checker(source, root)
    pack = checker.run()
    return checker.problems, (pack if not checker.problems else None)
