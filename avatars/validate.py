"""Checking a pack against FORMAT.md and building the :class:`AvatarPack` in the same pass.

Every problem is collected (not just the first) with where it is, so ``avatarchat avatar
validate`` can list all of them for a pack author at once.

The checker is built in layers, one module each: :mod:`avatars.validate_fields` (the problem
list, single values, the format's limits), :mod:`avatars.validate_layers` (the layers, their
bindings, sprites and bones) and this one (the manifest's top level, the pack table, variants).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from avatars.model import DEFAULT_VARIANT_ID, RGBA, AvatarPack, Layer, Variant
from avatars.source import MAX_PACK_BYTES, PackSource, content_hash
from avatars.validate_fields import (
    FORMAT_VERSION,
    MANIFEST,
    MAX_CANVAS_SIDE,
    MAX_NAMED_UNREFERENCED,
    MAX_VARIANTS,
    PACK_ID_RE,
    PACK_KEYS,
    TOP_LEVEL,
    VARIANT_ID_RE,
    VARIANT_KEYS,
    is_num,
    suggest,
)
from avatars.validate_layers import LayerChecker

__all__ = ["FORMAT_VERSION", "MANIFEST", "PACK_ID_RE", "check_source"]


class _Checker(LayerChecker):
    """The manifest's top level, its [pack] table and its variants, over the layer checks."""

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
                    f"{MANIFEST}: unknown top-level table {key!r}{suggest(key, TOP_LEVEL)} "
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
            where, vid = self.entry(f"variants[{i}]", t, VARIANT_KEYS, VARIANT_ID_RE)
            if vid is None:
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
                    self.bad(f"{where} textures: unknown layer {lid!r}{suggest(lid, layer_sizes)}")
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
                    self.bad(f"{where} tint: unknown layer {lid!r}{suggest(lid, layer_sizes)}")
                    continue
                if not (
                    isinstance(rgba, list)
                    and len(rgba) == 4
                    and all(is_num(c) and 0.0 <= c <= 1.0 for c in rgba)
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
                f"{suggest(str(default), out)} (variants: {', '.join(out)})"
            )
        return out, default


def check_source(source: PackSource, root: Path) -> tuple[list[str], AvatarPack | None]:
    """All problems of ``source`` and, when there are none, the loaded pack rooted at ``root``."""
    checker = _Checker(source, root)
    pack = checker.run()
    return checker.problems, (pack if not checker.problems else None)
