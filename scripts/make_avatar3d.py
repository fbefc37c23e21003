"""Generate the built-in 3D avatar (avatars/builtin3d/nova.vrm): a stylised head and shoulders.

Run ``python scripts/make_avatar3d.py`` after changing it; the output is committed like the 2D
art. Everything is made from numpy shapes (ellipsoids, tapered locks, ribbons, discs: see
scripts/nova_parts.py), so the avatar is ours to ship; this file turns them into a VRM 1.0 GLB.

The face mesh carries the 52 ARKit-named morph targets ("perfect sync": the renderer drives them
straight from our blendshapes), stored as sparse accessors since each moves only a few
vertices; VRM 1.0 expressions (happy, aa, blink, lookUp, ...) bind onto the same targets for
players that drive presets. The humanoid is a bust with arms: hips, spine, chest, neck, head and
eyes, plus shoulders, arms, hands and fingers (scripts/avatar_art/nova_arms.py) in VRM 1.0's
T-pose, one skinned mesh that the renderer hangs at rest and raises from the body parameters.
Model space follows VRM 1.0: metres, +Y up, the avatar faces +Z, its left is +X.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
from avatar_art.nova_arms import arm_bones, arm_nodes, build_arms
from avatar_art.nova_parts import (
    EYE_X,
    EYE_Y,
    Prim,
    build_body,
    build_face,
    build_hair,
    build_neck,
)

from avatars.vrm import ARKIT_NAMES

REPO = Path(__file__).resolve().parents[1]

OUT = REPO / "avatars" / "builtin3d" / "nova.vrm"

V = np.ndarray

# name: (base colour, shade colour, outline width in metres). Nothing is outlined: the hair's
# inverted hull (open shells, many locks) doubled llvmpipe's frame at 1280x720 (~12 -> ~25 ms,
# over the 60 FPS budget); the locks read by their toon shade instead. Parts of one material
# are merged into one primitive (one draw call each), which also keeps the frame cheap.
MATERIALS: dict[str, tuple[tuple[float, ...], tuple[float, ...], float]] = {
    "skin": ((1.0, 0.87, 0.79, 1.0), (0.95, 0.68, 0.64), 0.0),
    "neck": ((0.93, 0.74, 0.68, 1.0), (0.84, 0.58, 0.56), 0.0),
    "hair": ((0.44, 0.31, 0.64, 1.0), (0.22, 0.13, 0.38), 0.0),
    "eyewhite": ((0.99, 0.99, 0.98, 1.0), (0.86, 0.86, 0.93), 0.0),
    "iris": ((0.16, 0.42, 0.66, 1.0), (0.08, 0.24, 0.46), 0.0),
    "lash": ((0.16, 0.1, 0.22, 1.0), (0.1, 0.06, 0.16), 0.0),
    "mouth": ((0.5, 0.12, 0.16, 1.0), (0.35, 0.06, 0.1), 0.0),
    "lip": ((0.93, 0.58, 0.58, 1.0), (0.82, 0.45, 0.48), 0.0),
    "teeth": ((1.0, 1.0, 0.98, 1.0), (0.88, 0.88, 0.92), 0.0),
    "tongue": ((0.9, 0.45, 0.5, 1.0), (0.7, 0.3, 0.35), 0.0),
    "blush": ((1.0, 0.72, 0.72, 1.0), (0.96, 0.6, 0.62), 0.0),
    "clothes": ((0.22, 0.6, 0.62, 1.0), (0.12, 0.38, 0.45), 0.0),
    "collar": ((0.96, 0.96, 0.93, 1.0), (0.74, 0.78, 0.84), 0.0),
}
MAT_INDEX = {n: i for i, n in enumerate(MATERIALS)}


class Writer:
    """Accumulates a GLB's binary chunk and JSON arrays."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def view(self, data: bytes, target: int | None = None) -> int:
        while len(self.blob) % 4:
            self.blob.append(0)
        v: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)}
        if target:
            v["target"] = target
        self.blob += data
        self.views.append(v)
        return len(self.views) - 1

    def accessor(self, arr: V, kind: str, minmax: bool = False, target: int | None = None) -> int:
        comp = {np.dtype(np.uint32): 5125, np.dtype(np.uint16): 5123}.get(arr.dtype, 5126)
        a: dict[str, Any] = {
            "bufferView": self.view(arr.tobytes(), target),
            "componentType": comp,
            "count": int(arr.shape[0]),
            "type": kind,
        }
        if minmax:
            a["min"] = [float(v) for v in arr.min(axis=0)]
            a["max"] = [float(v) for v in arr.max(axis=0)]
        self.accessors.append(a)
        return len(self.accessors) - 1

    def sparse(self, delta: V) -> int:
        """A morph target delta as a sparse accessor (only the vertices it moves)."""
        nz = np.flatnonzero(np.abs(delta).max(axis=1) > 1e-7).astype(np.uint32)
        a: dict[str, Any] = {
            "componentType": 5126,
            "count": int(delta.shape[0]),
            "type": "VEC3",
            "min": [float(v) for v in delta.min(axis=0)],
            "max": [float(v) for v in delta.max(axis=0)],
        }
        if nz.size:
            a["sparse"] = {
                "count": int(nz.size),
                "indices": {"bufferView": self.view(nz.tobytes()), "componentType": 5125},
                "values": {"bufferView": self.view(delta[nz].astype(np.float32).tobytes())},
            }
        self.accessors.append(a)
        return len(self.accessors) - 1


def mesh_json(w: Writer, name: str, prims: list[Prim], morphs: bool) -> dict[str, Any]:
    out = []
    for p in prims:
        d: dict[str, Any] = {
            "attributes": {
                "POSITION": w.accessor(p.pos, "VEC3", minmax=True, target=34962),
                "NORMAL": w.accessor(p.nrm, "VEC3", target=34962),
            },
            "indices": w.accessor(p.idx.astype(np.uint32), "SCALAR", target=34963),
            "material": MAT_INDEX[p.mat],
            "mode": 4,
        }
        if morphs:
            zero = np.zeros_like(p.pos)
            d["targets"] = [{"POSITION": w.sparse(p.deltas.get(n, zero))} for n in ARKIT_NAMES]
        out.append(d)
    m: dict[str, Any] = {"name": name, "primitives": out}
    if morphs:
        m["extras"] = {"targetNames": list(ARKIT_NAMES)}
        m["weights"] = [0.0] * len(ARKIT_NAMES)
    return m


def expressions() -> dict[str, Any]:
    t = {n: i for i, n in enumerate(ARKIT_NAMES)}

    def binds(**w: float) -> dict[str, Any]:
        return {"morphTargetBinds": [{"node": 6, "index": t[k], "weight": v} for k, v in w.items()]}

    def both(a: str, v: float = 1.0) -> dict[str, float]:
        return {f"{a}Left": v, f"{a}Right": v}

    preset = {
        "happy": binds(**both("mouthSmile"), **both("cheekSquint", 0.6), **both("eyeSquint", 0.3)),
        "angry": binds(**both("browDown"), **both("mouthFrown", 0.5), **both("noseSneer", 0.5)),
        "sad": binds(browInnerUp=1.0, **both("mouthFrown")),
        "relaxed": binds(**both("mouthSmile", 0.4), **both("eyeSquint", 0.5)),
        "surprised": binds(**both("eyeWide"), browInnerUp=1.0, **both("browOuterUp"), jawOpen=0.35),
        "aa": binds(jawOpen=1.0),
        "ih": binds(jawOpen=0.25, **both("mouthStretch", 0.7)),
        "ou": binds(mouthPucker=1.0, jawOpen=0.2),
        "ee": binds(jawOpen=0.2, **both("mouthStretch", 0.5), **both("mouthSmile", 0.3)),
        "oh": binds(mouthFunnel=1.0, jawOpen=0.4),
        "blink": binds(**both("eyeBlink")),
        "blinkLeft": binds(eyeBlinkLeft=1.0),
        "blinkRight": binds(eyeBlinkRight=1.0),
        "lookUp": binds(**both("eyeLookUp")),
        "lookDown": binds(**both("eyeLookDown")),
        "lookLeft": binds(eyeLookOutLeft=1.0, eyeLookInRight=1.0),
        "lookRight": binds(eyeLookInLeft=1.0, eyeLookOutRight=1.0),
    }
    for name in ("happy", "angry", "sad", "surprised", "relaxed"):
        preset[name]["overrideBlink"] = "blend"
    return {"preset": preset}


def build() -> bytes:
    w = Writer()
    face, torso, neck, hair = build_face(), build_body(), build_neck(), build_hair()
    meshes = [
        mesh_json(w, "Body", torso, False),
        mesh_json(w, "Neck", neck, False),
        mesh_json(w, "Face", face, True),
        mesh_json(w, "Hair", hair, False),
    ]
    nodes = [
        {"name": "Hips", "translation": [0, 0.95, 0], "children": [1]},
        {"name": "Spine", "translation": [0, 0.12, 0], "children": [2]},
        {"name": "Chest", "translation": [0, 0.18, 0], "children": [3, 7]},
        {"name": "Neck", "translation": [0, 0.095, 0], "children": [4, 8]},
        {"name": "Head", "translation": [0, 0.1, 0], "children": [5, 6, 9, 10]},
        {"name": "LeftEye", "translation": [EYE_X, EYE_Y, 0.09]},
        {"name": "Face", "mesh": 2},
        {"name": "BodyMesh", "mesh": 0},
        {"name": "NeckMesh", "mesh": 1},
        {"name": "RightEye", "translation": [-EYE_X, EYE_Y, 0.09]},
        {"name": "HairMesh", "mesh": 3},
    ]
    arms, arm_joints = build_arms()
    arm_json, arm_index, extra = arm_nodes(len(nodes))
    nodes += arm_json
    nodes[2]["children"] += extra["chest"]
    prims = []
    for p, joint in arms:
        d = mesh_json(w, "Arms", [p], False)["primitives"][0]
        j4 = np.zeros((len(joint), 4), np.uint16)
        j4[:, 0] = joint
        wt = np.zeros((len(joint), 4), np.float32)
        wt[:, 0] = 1.0
        d["attributes"]["JOINTS_0"] = w.accessor(j4, "VEC4", target=34962)
        d["attributes"]["WEIGHTS_0"] = w.accessor(wt, "VEC4", target=34962)
        prims.append(d)
    meshes.append({"name": "Arms", "primitives": prims})
    where = {name: pos for name, _, pos in arm_bones()}
    ibm = np.zeros((len(arm_joints), 4, 4), np.float32)
    for i, name in enumerate(arm_joints):  # column-major translate(-rest position)
        ibm[i] = np.eye(4, dtype=np.float32)
        ibm[i][3, :3] = -where[name]
    skins = [
        {
            "joints": [arm_index[n] for n in arm_joints],
            "inverseBindMatrices": w.accessor(ibm.reshape(len(arm_joints), 16), "MAT4"),
        }
    ]
    nodes.append({"name": "ArmsMesh", "mesh": len(meshes) - 1, "skin": 0})
    mats = []
    for name, (base, shade, outline) in MATERIALS.items():
        mt: dict[str, Any] = {
            "specVersion": "1.0",
            "shadeColorFactor": list(shade),
            "shadingShiftFactor": -0.1,
            "shadingToonyFactor": 0.85,
            "parametricRimColorFactor": [0.12, 0.1, 0.14],
        }
        if outline > 0:
            mt.update(outlineWidthMode="worldCoordinates", outlineWidthFactor=outline,
                      outlineColorFactor=[c * 0.35 for c in shade])  # fmt: skip
        mats.append(
            {
                "name": name,
                "pbrMetallicRoughness": {"baseColorFactor": list(base), "metallicFactor": 0.0},
                "doubleSided": name in ("lash", "teeth", "tongue"),
                "extensions": {"VRMC_materials_mtoon": mt},
            }
        )
    bones = {"hips": 0, "spine": 1, "chest": 2, "neck": 3, "head": 4, "leftEye": 5, "rightEye": 9}
    bones.update(arm_index)
    doc: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "avatarchat scripts/make_avatar3d.py"},
        "extensionsUsed": ["VRMC_vrm", "VRMC_materials_mtoon"],
        "extensions": {
            "VRMC_vrm": {
                "specVersion": "1.0",
                "meta": {
                    "name": "Nova",
                    "version": "1",
                    "authors": ["avatarchat"],
                    "licenseUrl": "https://vrm.dev/licenses/1.0/",
                    "avatarPermission": "everyone",
                    "commercialUsage": "corporation",
                    "allowRedistribution": True,
                    "modification": "allowModificationRedistribution",
                },
                "humanoid": {"humanBones": {k: {"node": v} for k, v in bones.items()}},
                "lookAt": {"type": "expression", "offsetFromHeadBone": [0, EYE_Y, 0.09]},
                "expressions": expressions(),
            }
        },
        "scene": 0,
        "scenes": [{"nodes": [0, len(nodes) - 1]}],
        "nodes": nodes,
        "meshes": meshes,
        "skins": skins,
        "materials": mats,
    }
    doc["bufferViews"] = w.views
    doc["accessors"] = w.accessors
    blob = bytes(w.blob) + b"\0" * (-len(w.blob) % 4)
    doc["buffers"] = [{"byteLength": len(blob)}]
    js = json.dumps(doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    body = (
        struct.pack("<II", len(js), 0x4E4F534A)
        + js
        + struct.pack("<II", len(blob), 0x004E4942)
        + blob
    )
    return struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    data = build()
    from avatars.gltf import load_model

    model = load_model(data, "nova")  # the file must pass our own loader's checks
    missing = set(ARKIT_NAMES) - set(model.meshes[2].target_names)
    assert not missing and model.perfect_sync, missing
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"{args.out}: {len(data)} bytes, {len(model.meshes[2].target_names)} morph targets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
