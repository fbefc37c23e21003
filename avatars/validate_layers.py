"""Checking a pack's ``[[layers]]``: each layer, its bindings, sprites and bone, and the order
that puts parents before children.

The layers are most of a pack and most of its rules (FORMAT.md, Layers and Bindings); the pack
table and the variants around them are checked in :mod:`avatars.validate`, which builds on this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from avatars.bones import check_bone, check_bone_chains
from avatars.model import TARGET_SET, TARGETS, Binding, Bone, Layer
from avatars.params import PARAM_NAMES, PARAM_SET
from avatars.validate_fields import (
    BINDING_KEYS,
    LAYER_ID_RE,
    LAYER_KEYS,
    MANIFEST,
    MAX_BINDINGS_PER_LAYER,
    MAX_LAYERS,
    MAX_MESH,
    MAX_SPRITES,
    FieldChecker,
    is_num,
    suggest,
)


class LayerChecker(FieldChecker):
    """The layer tables, checked and built into :class:`Layer` objects in one pass."""

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
            where, lid = self.entry(f"layers[{i}]", t, LAYER_KEYS, LAYER_ID_RE)
            if lid is None:
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
                    f"{suggest(layer.parent, by_id)}"
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
                self.bad(f"{where}: unknown parameter {param!r}{suggest(str(param), PARAM_NAMES)}")
                ok = False
            if not isinstance(target, str) or target not in TARGET_SET:
                self.bad(
                    f"{where}: unknown target {target!r}{suggest(str(target), TARGETS)} "
                    f"(targets: {', '.join(TARGETS)})"
                )
                ok = False
            nums: dict[str, float | None] = {}
            for key, default in (("gain", 1.0), ("offset", 0.0), ("min", None), ("max", None)):
                v = t.get(key, default)
                if v is not None and not is_num(v):
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
            if not (isinstance(item, list) and len(item) == 2 and is_num(item[0])):
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
