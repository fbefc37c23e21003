"""glTF 2.0 binary (.glb) and VRM 0.x / 1.0 (.vrm) loading into plain numpy data.

Pure data, no GL: the render window's 3D renderer draws a :class:`Model`, and the pack validator
and the P2P transfer check untrusted files with :func:`load_model` before anything uses them.
This module gives the document its meaning (textures, materials, meshes, skins, nodes, the VRM
extensions); :mod:`avatars.glb` reads and bounds-checks the bytes under it (container, buffers,
accessors). pygltflib's dataclasses give the JSON its types. Any fault, anticipated or not,
leaves :func:`load_model` as one error class, :class:`ModelError`, naming the part.
"""

from __future__ import annotations

import base64
import io
import logging
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from avatars.glb import (
    GLB_MAGIC,
    MAX_ACCESSOR_COUNT,
    MAX_DATA_URI_BYTES,
    MAX_MODEL_BYTES,
    MAX_TEXTURE_SIDE,
    Buffers,
    split_glb,
    typed_document,
)
from avatars.model3d import F32, Material, Mesh, Model, ModelError, Node, Primitive, Skin
from avatars.vrm import parse_expressions
from avatars.vrm0 import mtoon_v1

log = logging.getLogger(__name__)

__all__ = [
    "GLB_MAGIC",
    "MAX_ACCESSOR_COUNT",
    "MAX_MODEL_BYTES",
    "is_model_ref",
    "load_model",
    "split_glb",
]


def is_model_ref(ref: str | Path) -> bool:
    """Whether ``ref`` names a glTF/VRM file (by extension)."""
    return str(ref).lower().endswith((".vrm", ".glb"))


def load_model(source: str | Path | bytes, model_id: str | None = None) -> Model:
    """Load and check a .vrm/.glb from a path or bytes. Raises :class:`ModelError` only."""
    if isinstance(source, bytes):
        data, mid = source, model_id or "model"
        where = mid
    else:
        path = Path(source)
        mid, where = model_id or path.stem, path.name
        try:
            size = path.stat().st_size
            if size > MAX_MODEL_BYTES:
                raise ModelError(f"{path.name}: {size} bytes is over the {MAX_MODEL_BYTES} cap")
            data = path.read_bytes()
        except OSError as e:
            raise ModelError(f"cannot read model {path}: {e.strerror or e}") from e
    try:
        return _Loader(data, mid).load()
    except ModelError as e:
        raise ModelError(f"{where}: {e}") from e.__cause__
    except (
        ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error, OverflowError,
        RecursionError, EOFError, SyntaxError,
    ) as e:  # fmt: skip
        # pygltflib or a malformed field we did not anticipate: still one precise error class.
        raise ModelError(f"{where}: malformed glTF: {type(e).__name__}: {e}") from e


def _quat_ok(q: F32) -> F32:
    n = float(np.linalg.norm(q))
    return q / n if n > 1e-8 and math.isfinite(n) else np.array([0, 0, 0, 1], np.float32)


class _Loader:
    def __init__(self, data: bytes, model_id: str) -> None:
        self.data = data
        self.id = model_id

    def load(self) -> Model:
        doc, self.binary = split_glb(self.data)
        ext = doc.get("extensions") or {}
        self.doc = doc
        self.g = typed_document(doc)
        self.bufs = Buffers(self.g, self.binary)
        self.images = [self._image(i) for i in range(len(self.g.images or []))]
        tex_src = [t.source for t in (self.g.textures or [])]
        self.tex_src = tex_src
        materials = [self._material(i, m) for i, m in enumerate(doc.get("materials") or [])]
        meshes = [self._mesh(i) for i in range(len(self.g.meshes or []))]
        nodes = [self._node(i) for i in range(len(self.g.nodes or []))]
        for n in nodes:
            for c in n.children:
                if not 0 <= c < len(nodes):
                    raise ModelError(f"node {n.name!r} has a child {c} that does not exist")
            if n.mesh is not None and not 0 <= n.mesh < len(meshes):
                raise ModelError(f"node {n.name!r} uses mesh {n.mesh} that does not exist")
        skins = [self._skin(i) for i in range(len(self.g.skins or []))]
        roots = self._roots(nodes)
        version, humanoid, exprs, lookat = "", {}, {}, "bone"
        meta = (ext.get("VRMC_vrm") or {}).get("meta") or (ext.get("VRM") or {}).get("meta") or {}
        title = meta.get("name") or meta.get("title") if isinstance(meta, dict) else None
        if "VRMC_vrm" in ext:
            vrm = ext["VRMC_vrm"]
            version = "1.0"
            bones = (vrm.get("humanoid") or {}).get("humanBones") or {}
            humanoid = {k: int(v["node"]) for k, v in bones.items() if isinstance(v, dict)}
            lookat = str((vrm.get("lookAt") or {}).get("type", "bone"))
        elif "VRM" in ext:
            version = "0.x"
            for b in (ext["VRM"].get("humanoid") or {}).get("humanBones") or []:
                if isinstance(b, dict) and "bone" in b and "node" in b:
                    humanoid[str(b["bone"])] = int(b["node"])
            lookat = (
                "expression"
                if (ext["VRM"].get("firstPerson") or {}).get("lookAtTypeName") == "BlendShape"
                else "bone"
            )
        if version:
            mesh_nodes: dict[int, list[int]] = {}
            for i, n in enumerate(nodes):
                if n.mesh is not None:
                    mesh_nodes.setdefault(n.mesh, []).append(i)
            exprs = parse_expressions(ext, [m.name for m in materials], mesh_nodes)
            for name, e in exprs.items():
                for b in e.morph_binds:
                    node = nodes[b.node] if 0 <= b.node < len(nodes) else None
                    if node is None or node.mesh is None:
                        raise ModelError(f"expression {name!r} binds node {b.node} without mesh")
                    if not 0 <= b.index < len(meshes[node.mesh].target_names):
                        raise ModelError(f"expression {name!r} binds missing target {b.index}")
                mats = [c.material for c in e.color_binds] + [t.material for t in e.texture_binds]
                for mat_i in mats:
                    if not 0 <= mat_i < len(materials):
                        raise ModelError(f"expression {name!r} binds missing material")
        for name, node_i in humanoid.items():
            if not 0 <= node_i < len(nodes):
                raise ModelError(f"humanoid bone {name!r} names missing node {node_i}")
        return Model(
            id=self.id,
            nodes=nodes,
            roots=roots,
            meshes=meshes,
            skins=skins,
            materials=materials,
            images=self.images,
            vrm_version=version,
            humanoid=humanoid,
            expressions=exprs,
            lookat_type=lookat,
            size_bytes=len(self.data),
            name=str(title)[:64] if title else self.id,
        )

    # -- images, materials ---------------------------------------------------------------
    def _image(self, i: int) -> NDArray[np.uint8]:
        from PIL import Image

        im = (self.g.images or [])[i]
        if im.uri is not None and not str(im.uri).startswith("data:"):
            raise ModelError(f"image {i} refers to an external URI: only embedded images are read")
        if im.uri is not None:
            head, _, payload = str(im.uri).partition(",")
            if len(payload) * 3 // 4 > MAX_DATA_URI_BYTES or not head.endswith(";base64"):
                raise ModelError(f"image {i}: data: URI too large or not base64")
            raw = base64.b64decode(payload)
        else:
            buf, off, length, _ = self.bufs.view(im.bufferView, f"image {i}")
            raw = buf[off : off + length]
        try:
            with Image.open(io.BytesIO(raw)) as img:
                if img.format not in ("PNG", "JPEG"):
                    raise ModelError(f"image {i}: {img.format} unsupported (PNG or JPEG only)")
                if max(img.size) > MAX_TEXTURE_SIDE:
                    raise ModelError(f"image {i}: {img.size} over {MAX_TEXTURE_SIDE} px")
                return np.asarray(img.convert("RGBA"), np.uint8).copy()
        except ModelError:
            raise
        except Exception as e:
            # zlib.error, ... on broken data: every one of them means "not a usable image"
            raise ModelError(f"image {i}: cannot decode: {type(e).__name__}: {e}") from e

    def _tex(self, info: Any) -> int | None:
        if not isinstance(info, dict) or "index" not in info:
            return None
        t = info["index"]
        if not isinstance(t, int) or not 0 <= t < len(self.tex_src):
            raise ModelError(f"texture {t} does not exist")
        src = self.tex_src[t]
        if src is None or not 0 <= src < len(self.images):
            raise ModelError(f"texture {t} has no valid image")
        return int(src)

    def _material(self, i: int, m: dict[str, Any]) -> Material:
        pbr = m.get("pbrMetallicRoughness") or {}
        base = np.array(pbr.get("baseColorFactor", [1, 1, 1, 1]), np.float32).reshape(4)
        bct = pbr.get("baseColorTexture")
        tt = ((bct or {}).get("extensions") or {}).get("KHR_texture_transform") or {}
        ext = m.get("extensions") or {}
        mt = ext.get("VRMC_materials_mtoon") or {}
        if not mt:  # VRM 0.x keeps MToon beside the material (avatars/vrm0.py)
            mt, v0_base = mtoon_v1(self._v0_material(i, m))
            if v0_base is not None:
                base = np.array(v0_base, np.float32).reshape(4)
        plain_shade = (base[:3] * 0.6).tolist()  # no MToon: a darker base colour
        shade = np.array(mt.get("shadeColorFactor", plain_shade), np.float32).reshape(3)
        mat = Material(
            name=str(m.get("name", f"material{i}")),
            base_color=base,
            texture=self._tex(bct),
            tex_offset=np.array(tt.get("offset", [0, 0]), np.float32).reshape(2),
            tex_scale=np.array(tt.get("scale", [1, 1]), np.float32).reshape(2),
            tex_rotation=float(tt.get("rotation", 0.0)),
            alpha_mode=str(m.get("alphaMode", "OPAQUE")),
            alpha_cutoff=float(m.get("alphaCutoff", 0.5)),
            double_sided=bool(m.get("doubleSided", False)),
            shade_color=shade,
            shade_textured=not mt or "shadeMultiplyTexture" in mt,
            emission=np.array(m.get("emissiveFactor", [0, 0, 0]), np.float32).reshape(3),
        )
        if mt:
            mat.shading_shift = float(mt.get("shadingShiftFactor", 0.0))
            mat.shading_toony = float(mt.get("shadingToonyFactor", 0.9))
            mat.rim_color = np.array(mt.get("parametricRimColorFactor", [0, 0, 0]), np.float32)
            if mt.get("outlineWidthMode", "none") == "worldCoordinates":
                mat.outline_width = float(mt.get("outlineWidthFactor", 0.0))
            mat.outline_color = np.array(mt.get("outlineColorFactor", [0, 0, 0]), np.float32)
            mat.uv_scroll = (
                float(mt.get("uvAnimationScrollXSpeedFactor", 0.0)),
                float(mt.get("uvAnimationScrollYSpeedFactor", 0.0)),
            )
            mat.uv_rotation_speed = float(mt.get("uvAnimationRotationSpeedFactor", 0.0))
        return mat

    def _v0_material(self, i: int, m: dict[str, Any]) -> Any:
        """The VRM 0.x ``materialProperties`` entry of material ``i``: the one at its index
        (UniVRM writes them in material order), else the one with its name."""
        vrm0 = (self.doc.get("extensions") or {}).get("VRM")
        props = vrm0.get("materialProperties") if isinstance(vrm0, dict) else None
        if not isinstance(props, list):
            return None
        name = m.get("name")
        if i < len(props) and isinstance(props[i], dict) and props[i].get("name") in (None, name):
            return props[i]
        return next((p for p in props if isinstance(p, dict) and p.get("name") == name), None)

    # -- meshes, nodes, skins ------------------------------------------------------------
    def _mesh(self, i: int) -> Mesh:
        m = (self.g.meshes or [])[i]
        raw = (self.doc.get("meshes") or [])[i]
        names = list((raw.get("extras") or {}).get("targetNames") or [])
        prims: list[Primitive] = []
        for j, p in enumerate(m.primitives or []):
            if p.mode not in (None, 4):
                log.info("mesh %d primitive %d: mode %s skipped (triangles only)", i, j, p.mode)
                continue
            prims.append(self._primitive(i, j, p, raw["primitives"][j]))
        ntargets = max((len(p.targets) for p in prims), default=0)
        names = [str(n) for n in names[:ntargets]]
        names += [f"target{k}" for k in range(len(names), ntargets)]
        weights = [float(w) for w in (m.weights or [])][:ntargets]
        weights += [0.0] * (ntargets - len(weights))
        return Mesh(str(m.name or f"mesh{i}"), prims, names, weights)

    def _primitive(self, i: int, j: int, p: Any, raw: dict[str, Any]) -> Primitive:
        what = f"mesh {i} primitive {j}"
        attrs = raw.get("attributes") or {}
        if "POSITION" not in attrs:
            raise ModelError(f"{what}: no POSITION")
        pos = self.bufs.accessor(attrs["POSITION"], what + " POSITION").astype(np.float32)
        n = pos.shape[0]
        if pos.shape[1] != 3 or not np.isfinite(pos).all():
            raise ModelError(f"{what}: POSITION must be finite VEC3")

        def attr(name: str, width: int) -> NDArray[Any] | None:
            if name not in attrs:
                return None
            a = self.bufs.accessor(attrs[name], f"{what} {name}")
            if a.shape != (n, width):
                raise ModelError(f"{what}: {name} has {a.shape}, expected ({n}, {width})")
            return a

        normals = attr("NORMAL", 3)
        uv = attr("TEXCOORD_0", 2)
        joints = attr("JOINTS_0", 4)
        weights = attr("WEIGHTS_0", 4)
        if "indices" in raw and raw["indices"] is not None:
            idx = self.bufs.accessor(raw["indices"], what + " indices")
            if idx.shape[1] != 1 or idx.dtype.kind != "u":
                raise ModelError(f"{what}: indices must be unsigned SCALAR")
            idx = idx.reshape(-1).astype(np.uint32)
            if idx.size and int(idx.max()) >= n:
                raise ModelError(f"{what}: index {int(idx.max())} past {n} vertices")
        else:
            idx = np.arange(n, dtype=np.uint32)
        idx = idx[: idx.size - idx.size % 3]
        targets: list[tuple[F32, F32]] = []
        for k, t in enumerate(raw.get("targets") or []):
            dp = (
                self.bufs.accessor(t["POSITION"], f"{what} target {k}") if "POSITION" in t else None
            )
            dn = self.bufs.accessor(t["NORMAL"], f"{what} target {k}") if "NORMAL" in t else None
            z = np.zeros((n, 3), np.float32)
            for a in (dp, dn):
                if a is not None and a.shape != (n, 3):
                    raise ModelError(f"{what}: morph target {k} has {a.shape} for {n} vertices")
            targets.append(
                (
                    z if dp is None else dp.astype(np.float32),
                    z if dn is None else dn.astype(np.float32),
                )
            )
        if normals is None:
            normals = _vertex_normals(pos, idx)
        w = None if weights is None else weights.astype(np.float32)
        if joints is not None and joints.dtype.kind not in "u":
            raise ModelError(f"{what}: JOINTS_0 must be unsigned")
        return Primitive(
            positions=pos,
            normals=normals.astype(np.float32),
            uv=np.zeros((n, 2), np.float32) if uv is None else uv.astype(np.float32),
            indices=idx,
            material=raw.get("material"),
            joints=None if joints is None else joints.astype(np.uint16),
            weights=w,
            targets=targets,
        )

    def _node(self, i: int) -> Node:
        n = (self.doc.get("nodes") or [])[i]
        mat = n.get("matrix")
        return Node(
            name=str(n.get("name", f"node{i}")),
            children=[int(c) for c in n.get("children") or []],
            translation=np.array(n.get("translation", [0, 0, 0]), np.float32).reshape(3),
            rotation=_quat_ok(np.array(n.get("rotation", [0, 0, 0, 1]), np.float32).reshape(4)),
            scale=np.array(n.get("scale", [1, 1, 1]), np.float32).reshape(3),
            matrix=None if mat is None else np.array(mat, np.float32).reshape(4, 4).T.copy(),
            mesh=n.get("mesh"),
            skin=n.get("skin"),
        )

    def _skin(self, i: int) -> Skin:
        s = (self.g.skins or [])[i]
        joints = [int(j) for j in s.joints or []]
        if not joints or any(not 0 <= j < len(self.g.nodes or []) for j in joints):
            raise ModelError(f"skin {i}: joints missing or out of range")
        if s.inverseBindMatrices is None:
            ibm = np.tile(np.eye(4, dtype=np.float32), (len(joints), 1, 1))
        else:
            a = self.bufs.accessor(s.inverseBindMatrices, f"skin {i} inverseBindMatrices")
            if a.shape != (len(joints), 16):
                raise ModelError(f"skin {i}: {a.shape[0]} inverse bind matrices for {len(joints)}")
            ibm = a.astype(np.float32).reshape(-1, 4, 4).transpose(0, 2, 1).copy()
        return Skin(joints, ibm)

    def _roots(self, nodes: list[Node]) -> list[int]:
        scenes = self.doc.get("scenes") or []
        si = self.doc.get("scene", 0)
        if scenes and isinstance(si, int) and 0 <= si < len(scenes):
            roots = [int(r) for r in scenes[si].get("nodes") or []]
        else:
            kids = {c for n in nodes for c in n.children}
            roots = [i for i in range(len(nodes)) if i not in kids]
        # A cycle or a node reached twice would make traversal loop: refuse it.
        seen: set[int] = set()
        stack = list(roots)
        while stack:
            k = stack.pop()
            if not 0 <= k < len(nodes) or k in seen:
                raise ModelError(f"node hierarchy is not a tree (node {k})")
            seen.add(k)
            stack.extend(nodes[k].children)
        return roots


def _vertex_normals(pos: F32, idx: NDArray[np.uint32]) -> F32:
    """Smooth normals for a mesh that has none (glTF says: flat, but smooth looks better)."""
    tri = idx.reshape(-1, 3)
    fn = np.cross(pos[tri[:, 1]] - pos[tri[:, 0]], pos[tri[:, 2]] - pos[tri[:, 0]])
    out = np.zeros_like(pos)
    for k in range(3):
        np.add.at(out, tri[:, k], fn)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    result: F32 = (out / np.maximum(norm, 1e-12)).astype(np.float32)
    return result
