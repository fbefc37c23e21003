"""Test and bench models for the 3D avatar transfer: valid VRMs of any size, made on the fly.

VRoid exports are 10-40 MB, mostly textures; the project ships no such file (nor should a test
commit one), so a test or bench grows the built-in ``nova`` instead: a new display name gives a
hash no built-in has, and random bytes at the end of its binary buffer (declared in the buffer's
``byteLength``, referenced by no view) give the size, in bytes that do not compress.
"""

from __future__ import annotations

import json
import random
import struct

from avatars.avatar3d import builtin3d_dir

GLB_MAGIC = 0x46546C67


def _glb(doc: dict[str, object], binary: bytes, json_type: int, bin_type: int) -> bytes:
    body = json.dumps(doc, separators=(",", ":")).encode()
    body += b" " * (-len(body) % 4)
    out = struct.pack("<II", len(body), json_type) + body
    if binary:
        out += struct.pack("<II", len(binary), bin_type) + binary
    return struct.pack("<III", GLB_MAGIC, 2, 12 + len(out)) + out


def variant_vrm(name: str, pad: int = 0) -> bytes:
    """nova renamed ``name`` (its generator string), grown by ``pad`` random bytes."""
    data = (builtin3d_dir() / "nova.vrm").read_bytes()
    jlen, jtype = struct.unpack_from("<II", data, 12)
    doc = json.loads(data[20 : 20 + jlen])
    doc.setdefault("asset", {})["generator"] = f"test {name}"
    blen, btype = struct.unpack_from("<II", data, 20 + jlen)
    binary = data[28 + jlen : 28 + jlen + blen]
    if pad:
        binary += random.Random(name).randbytes(pad)
        binary += b"\0" * (-len(binary) % 4)
        doc["buffers"][0]["byteLength"] = len(binary)
    return _glb(doc, binary, jtype, btype)
