"""The GLB container and its binary data: chunks, buffers, buffer views and accessors.

The half of loading a glTF that is about *bytes* (:mod:`avatars.gltf` is the half about
*meaning*: materials, meshes, nodes, VRM). A received file is hostile until proven otherwise, so
every offset, length, stride and count here is checked against what it points into before numpy
touches it: truncated chunks, accessors reaching past their buffer views, absurd counts and
external or ``file:``/``http:`` URIs all raise :class:`ModelError`. Only embedded buffers (the GLB
binary chunk) and ``data:`` URIs up to a cap are read, so loading never touches the file system
or the network.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import struct
from typing import Any

import numpy as np
from numpy.typing import NDArray

from avatars.model3d import ModelError

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


class Buffers:
    """The buffers of one document, read and checked, and its accessors as numpy arrays."""

    def __init__(self, g: Any, binary: bytes) -> None:
        self.g = g
        self.binary = binary
        self.buffers = [self._buffer(i, b) for i, b in enumerate(g.buffers or [])]

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

    def view(self, index: int | None, what: str) -> tuple[bytes, int, int, int | None]:
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
            buf, off, length, stride = self.view(a.bufferView, what)
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
        ib, ioff, ilen, _ = self.view(sparse.indices.bufferView, what + " sparse indices")
        idt = _COMPONENTS.get(sparse.indices.componentType)
        if idt is None or idt.kind != "u":
            raise ModelError(f"{what}: sparse index type {sparse.indices.componentType}")
        istart = ioff + int(sparse.indices.byteOffset or 0)
        if int(sparse.indices.byteOffset or 0) + n * idt.itemsize > ilen:
            raise ModelError(f"{what}: sparse indices run past their bufferView")
        idx = np.frombuffer(ib, idt, n, istart).astype(np.int64)
        if idx.size and (idx.max() >= out.shape[0]):
            raise ModelError(f"{what}: sparse index past the accessor")
        vb, voff, vlen, _ = self.view(sparse.values.bufferView, what + " sparse values")
        vstart = voff + int(sparse.values.byteOffset or 0)
        if int(sparse.values.byteOffset or 0) + n * out.itemsize * out.shape[1] > vlen:
            raise ModelError(f"{what}: sparse values run past their bufferView")
        out[idx] = np.frombuffer(vb, out.dtype, n * out.shape[1], vstart).reshape(n, -1)
