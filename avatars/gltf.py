"""glTF 2.0 binary (.glb) and VRM 0.x / 1.0 (.vrm) loading into plain numpy data.

Pure data, no GL: the render window's 3D renderer draws a :class:`Model`, and the pack validator
and the P2P transfer check untrusted files with :func:`load_model` before anything uses them.
pygltflib's dataclasses give the JSON its types; the binary container, the buffers and every
accessor are checked here by hand, because a received file is hostile until proven otherwise:
truncated chunks, accessors reaching past their buffer views, absurd counts and external or
``file:``/``http:`` URIs all raise one error class, :class:`ModelError`, never anything else.
Only embedded buffers (the GLB binary chunk) and ``data:`` URIs up to a cap are read, so loading
a model never touches the file system or the network.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import logging
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from avatars.model3d import F32, Material, Mesh, Model, ModelError, Node, Primitive, Skin
from avatars.vrm import parse_expressions

log = logging.getLogger(__name__)

#: Largest model file accepted (a VRoid avatar is 10-40 MB).
MAX_MODEL_BYTES = 64 * 1024 * 1024
#: Largest ``data:`` URI payload (after base64 decoding).
MAX_DATA_URI_BYTES = 16 * 1024 * 1024
#: Most elements one accessor may have (a detailed avatar has ~100k vertices).
MAX_ACCESSOR_COUNT = 4_000_000
#: Largest decoded texture side, in pixels.
MAX_TEXTURE_SIDE = 4096

GLB_MAGIC = 0x46546C67  # b"glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942

_COMPONENTS: dict[int, np.dtype[Any]] = {
    5120: np.dtype(np.int8),
    5121: np.dtype(np.uint8),
    5122: np.dtype("<i2"),
    5123: np.dtype("<u2"),
    5125: np.dtype("<u4"),
    5126: np.dtype("<f4"),
}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}


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


def split_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The JSON document and binary chunk of a GLB container, checked."""
    if len(data) > MAX_MODEL_BYTES:
        raise ModelError(f"model is {len(data)} bytes, over the {MAX_MODEL_BYTES} cap")
    if len(data) < 20:
        raise ModelError("truncated GLB: shorter than its header")
    magic, version, length = struct.unpack_from("<III", data, 0)
    if magic != GLB_MAGIC:
        raise ModelError("not a GLB/VRM file (bad magic)")
    if version != 2:
        raise ModelError(f"GLB version {version} unsupported (need 2)")
    if length > len(data):
        raise ModelError(f"truncated GLB: header says {length} bytes, file has {len(data)}")
    pos, doc, binary = 12, None, b""
    while pos + 8 <= length:
        clen, ctype = struct.unpack_from("<II", data, pos)
        pos += 8
        if pos + clen > length:
            raise ModelError(f"truncated GLB: chunk of {clen} bytes at {pos} runs past the end")
        chunk = data[pos : pos + clen]
        pos += clen + (-clen % 4)
        if ctype == CHUNK_JSON and doc is None:
            try:
                doc = json.loads(chunk.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
                raise ModelError(f"GLB JSON chunk is not valid JSON: {e}") from e
        elif ctype == CHUNK_BIN and not binary:
            binary = chunk
    if not isinstance(doc, dict):
        raise ModelError("GLB has no JSON chunk")
    return doc, binary


def _make(cls: Any, d: Any) -> Any:
    """``cls`` (a pygltflib dataclass) from the JSON object ``d``, unknown keys dropped."""
    if not isinstance(d, dict):
        raise ModelError(f"{cls.__name__}: expected a JSON object, got {type(d).__name__}")
    names = _FIELDS.setdefault(cls, {f.name for f in dataclasses.fields(cls)})
    return cls(**{k: v for k, v in d.items() if k in names})


_FIELDS: dict[Any, set[str]] = {}


def typed_document(doc: dict[str, Any]) -> Any:
    """pygltflib's typed objects for the parts the loader reads.

    Built field by field instead of ``GLTF2.from_dict``: dataclasses_json took 2.4 s for the
    ~1000 accessors of a model with 52 morph targets, far past the 1 s a load may take.
    """
    import pygltflib as g

    def many(key: str, cls: Any) -> list[Any]:
        items = doc.get(key) or []
        if not isinstance(items, list):
            raise ModelError(f"{key} must be a JSON array")
        return [_make(cls, d) for d in items]

    accessors = many("accessors", g.Accessor)
    for a in accessors:
        if a.sparse is not None:
            sp = _make(g.Sparse, a.sparse)
            sp.indices = _make(g.AccessorSparseIndices, sp.indices)
            sp.values = _make(g.AccessorSparseValues, sp.values)
            a.sparse = sp
    meshes = many("meshes", g.Mesh)
    for m in meshes:
        m.primitives = [_make(g.Primitive, p) for p in m.primitives or []]
    return g.GLTF2(
        accessors=accessors,
        buffers=many("buffers", g.Buffer),
        bufferViews=many("bufferViews", g.BufferView),
        images=many("images", g.Image),
        textures=many("textures", g.Texture),
        meshes=meshes,
        nodes=many("nodes", g.Node),
        skins=many("skins", g.Skin),
    )


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
        self.buffers = [self._buffer(i, b) for i, b in enumerate(self.g.buffers or [])]
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

    # -- buffers and accessors -----------------------------------------------------------
    def _buffer(self, i: int, b: Any) -> bytes:
        uri = b.uri
        if uri is None:
            if i != 0:
                raise ModelError(f"buffer {i} has no URI and is not the GLB binary chunk")
            data = self.binary
        elif isinstance(uri, str) and uri.startswith("data:"):
            head, _, payload = uri.partition(",")
            if not head.endswith(";base64"):
                raise ModelError(f"buffer {i}: only base64 data: URIs are accepted")
            if len(payload) * 3 // 4 > MAX_DATA_URI_BYTES:
                raise ModelError(f"buffer {i}: data: URI over {MAX_DATA_URI_BYTES} bytes")
            try:
                data = base64.b64decode(payload, validate=True)
            except ValueError as e:
                raise ModelError(f"buffer {i}: bad base64 in data: URI") from e
        else:
            shown = str(uri)[:60]
            raise ModelError(
                f"buffer {i} refers to an external URI {shown!r}: only embedded buffers are read"
            )
        if b.byteLength is None or b.byteLength > len(data):
            raise ModelError(f"buffer {i}: byteLength {b.byteLength} but only {len(data)} bytes")
        return data

    def _view(self, index: int | None, what: str) -> tuple[bytes, int, int, int | None]:
        views = self.g.bufferViews or []
        if index is None or not 0 <= index < len(views):
            raise ModelError(f"{what}: bufferView {index} does not exist")
        v = views[index]
        if v.buffer is None or not 0 <= v.buffer < len(self.buffers):
            raise ModelError(f"{what}: bufferView {index} names a missing buffer {v.buffer}")
        buf = self.buffers[v.buffer]
        off, length = int(v.byteOffset or 0), int(v.byteLength or 0)
        if off < 0 or length < 0 or off + length > len(buf):
            raise ModelError(f"{what}: bufferView {index} runs past its buffer")
        return buf, off, length, v.byteStride

    def accessor(self, index: Any, what: str) -> NDArray[Any]:
        """Accessor ``index`` as an (count, width) array (float32 for normalized ints)."""
        accs = self.g.accessors or []
        if not isinstance(index, int) or not 0 <= index < len(accs):
            raise ModelError(f"{what}: accessor {index} does not exist")
        a = accs[index]
        what = f"{what} (accessor {index})"
        dtype = _COMPONENTS.get(a.componentType)
        width = _WIDTH.get(str(a.type))
        count = a.count
        if dtype is None or width is None:
            raise ModelError(f"{what}: bad componentType {a.componentType} or type {a.type}")
        if not isinstance(count, int) or not 0 < count <= MAX_ACCESSOR_COUNT:
            raise ModelError(f"{what}: count {count} outside 1..{MAX_ACCESSOR_COUNT}")
        elem = dtype.itemsize * width
        if a.bufferView is None:
            out = np.zeros((count, width), dtype)
        else:
            buf, off, length, stride = self._view(a.bufferView, what)
            stride = int(stride or elem)
            start = off + int(a.byteOffset or 0)
            if stride < elem or stride > 252 or start % dtype.itemsize or stride % dtype.itemsize:
                raise ModelError(f"{what}: bad stride {stride} / offset for {elem}-byte elements")
            if int(a.byteOffset or 0) + stride * (count - 1) + elem > length:
                raise ModelError(f"{what}: {count} elements run past bufferView {a.bufferView}")
            raw = np.frombuffer(buf, np.uint8, stride * (count - 1) + elem, start)
            rows = np.lib.stride_tricks.as_strided(raw, (count, elem), (stride, 1)).copy()
            out = rows.view(dtype).reshape(count, width)
        if a.sparse is not None:
            self._sparse(a.sparse, out, what)
        if a.normalized and dtype.kind in "iu":
            info = np.iinfo(dtype)
            return np.maximum(out.astype(np.float32) / info.max, -1.0)
        return out

    def _sparse(self, sparse: Any, out: NDArray[Any], what: str) -> None:
        n = int(sparse.count or 0)
        if not 0 < n <= out.shape[0]:
            raise ModelError(f"{what}: sparse count {n} out of range")
        ib, ioff, ilen, _ = self._view(sparse.indices.bufferView, what + " sparse indices")
        idt = _COMPONENTS.get(sparse.indices.componentType)
        if idt is None or idt.kind != "u":
            raise ModelError(f"{what}: sparse index type {sparse.indices.componentType}")
        istart = ioff + int(sparse.indices.byteOffset or 0)
        if int(sparse.indices.byteOffset or 0) + n * idt.itemsize > ilen:
            raise ModelError(f"{what}: sparse indices run past their bufferView")
        idx = np.frombuffer(ib, idt, n, istart).astype(np.int64)
        if idx.size and (idx.max() >= out.shape[0]):
            raise ModelError(f"{what}: sparse index past the accessor")
        vb, voff, vlen, _ = self._view(sparse.values.bufferView, what + " sparse values")
        vstart = voff + int(sparse.values.byteOffset or 0)
        if int(sparse.values.byteOffset or 0) + n * out.itemsize * out.shape[1] > vlen:
            raise ModelError(f"{what}: sparse values run past their bufferView")
        out[idx] = np.frombuffer(vb, out.dtype, n * out.shape[1], vstart).reshape(n, -1)

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
            buf, off, length, _ = self._view(im.bufferView, f"image {i}")
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
        pos = self.accessor(attrs["POSITION"], what + " POSITION").astype(np.float32)
        n = pos.shape[0]
        if pos.shape[1] != 3 or not np.isfinite(pos).all():
            raise ModelError(f"{what}: POSITION must be finite VEC3")

        def attr(name: str, width: int) -> NDArray[Any] | None:
            if name not in attrs:
                return None
            a = self.accessor(attrs[name], f"{what} {name}")
            if a.shape != (n, width):
                raise ModelError(f"{what}: {name} has {a.shape}, expected ({n}, {width})")
            return a

        normals = attr("NORMAL", 3)
        uv = attr("TEXCOORD_0", 2)
        joints = attr("JOINTS_0", 4)
        weights = attr("WEIGHTS_0", 4)
        if "indices" in raw and raw["indices"] is not None:
            idx = self.accessor(raw["indices"], what + " indices")
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
            dp = self.accessor(t["POSITION"], f"{what} target {k}") if "POSITION" in t else None
            dn = self.accessor(t["NORMAL"], f"{what} target {k}") if "NORMAL" in t else None
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
            a = self.accessor(s.inverseBindMatrices, f"skin {i} inverseBindMatrices")
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
