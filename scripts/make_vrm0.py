"""Convert the built-in nova (VRM 1.0) into a VRM 0.x file: a 0.x model with arms for the tests.

No VRM 0.x model with a humanoid arm rig is available to test with (the conformance models are
1.0), and 0.x differs in exactly the places a loader can get wrong, so this writes nova the way
a VRM 0.x exporter (UniVRM 0.x) would:

- **Facing -Z.** Every position, normal, morph delta, node transform and inverse bind matrix is
  turned 180 degrees about +Y (x and z negated): the avatar's left arm now lies along -X. The
  renderer turns 0.x models back round to face the camera.
- **``extensions.VRM``** instead of ``VRMC_vrm``: ``humanoid.humanBones`` as a list of
  ``{bone, node, useDefaultValues}`` with the 0.x thumb names (1.0 Metacarpal/Proximal/Distal
  are 0.x Proximal/Intermediate/Distal); ``blendShapeMaster.blendShapeGroups`` with 0.x preset
  names (joy, a, blink_l, ...), binds per *mesh* and weights 0..100 (0.x has no override
  flags); ``firstPerson`` with ``lookAtTypeName: BlendShape``; ``materialProperties`` with
  ``VRM/MToon`` values (colours in sRGB, 0.x shade shift/toony, the inverse of UniVRM's
  0.x -> 1.0 migration); 0.x ``meta`` (title, author, usage names).
- **No perfect sync.** Only the morph targets the expressions bind are kept (fewer than the 40
  ARKit names that make a model "perfect sync"), so blink and aa can only work through
  ``blendShapeMaster``; that also keeps the committed file small.

Run ``python scripts/make_vrm0.py`` after nova changes; the output is committed as test data
(tests/avatars/data/nova-vrm0.vrm).
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np

from avatars.glb import split_glb

REPO = Path(__file__).resolve().parents[1]

SOURCE = REPO / "avatars" / "builtin3d" / "nova.vrm"
OUT = REPO / "tests" / "avatars" / "data" / "nova-vrm0.vrm"

#: VRM 1.0 preset -> 0.x presetName (the inverse of avatars.vrm.V0_PRESETS).
PRESET_V0 = {
    "happy": "joy", "angry": "angry", "sad": "sorrow", "relaxed": "fun",
    "surprised": "surprised", "aa": "a", "ih": "i", "ou": "u", "ee": "e", "oh": "o",
    "blink": "blink", "blinkLeft": "blink_l", "blinkRight": "blink_r", "lookUp": "lookup",
    "lookDown": "lookdown", "lookLeft": "lookleft", "lookRight": "lookright",
    "neutral": "neutral",
}  # fmt: skip
#: 1.0 thumb bone suffix -> 0.x.
THUMB_V0 = {"Metacarpal": "Proximal", "Proximal": "Intermediate", "Distal": "Distal"}
#: Numpy dtype of each glTF componentType and the number of components of each type.
DTYPES = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}
WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
#: The 180-degree turn about +Y: x and z change sign.
TURN = np.array([-1.0, 1.0, -1.0], np.float32)


def linear_to_srgb(c: float) -> float:
    """A linear colour channel (glTF factors, VRM 1.0) as sRGB (VRM 0.x MToon colours)."""
    c = min(1.0, max(0.0, c))
    return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


class Glb:
    """A GLB's JSON and binary chunk with typed access to accessors' bytes."""

    def __init__(self, data: bytes) -> None:
        doc, binary = split_glb(data)
        self.doc: dict[str, Any] = doc
        self.blob = bytearray(binary)

    def view_array(self, view: int, dtype: Any, width: int, count: int) -> np.ndarray[Any, Any]:
        """A writable numpy view of ``count`` elements of ``width`` components in a bufferView
        (nova's views are tightly packed: no byteStride)."""
        v = self.doc["bufferViews"][view]
        assert "byteStride" not in v, "strided views are not converted"
        off = v.get("byteOffset", 0)
        n = count * width
        arr = np.frombuffer(self.blob, dtype=dtype, count=n, offset=off)
        return arr.reshape(count, width)

    def turn_vec3(self, acc_i: int) -> None:
        """Negate x and z of a VEC3 float accessor (dense or sparse), min/max included."""
        a = self.doc["accessors"][acc_i]
        assert a["type"] == "VEC3" and a["componentType"] == 5126
        if "bufferView" in a:
            arr = self.view_array(a["bufferView"], np.float32, 3, a["count"])
            arr *= TURN
        if "sparse" in a:
            sp = a["sparse"]
            arr = self.view_array(sp["values"]["bufferView"], np.float32, 3, sp["count"])
            arr *= TURN
        if "min" in a and "max" in a:
            lo, hi = np.array(a["min"]) * TURN, np.array(a["max"]) * TURN
            a["min"] = [float(v) for v in np.minimum(lo, hi)]
            a["max"] = [float(v) for v in np.maximum(lo, hi)]

    def turn_mat4(self, acc_i: int) -> None:
        """Conjugate every MAT4 of an accessor by the turn: T M T (T is its own inverse)."""
        a = self.doc["accessors"][acc_i]
        arr = self.view_array(a["bufferView"], np.float32, 16, a["count"])
        t = np.diag([-1.0, 1.0, -1.0, 1.0]).astype(np.float32)
        for k in range(arr.shape[0]):
            m = arr[k].reshape(4, 4).T  # glTF stores column-major
            arr[k] = (t @ m @ t).T.reshape(16)

    def pack(self) -> bytes:
        """The GLB with only the bufferViews some accessor still uses, in their old order."""
        doc, accessors = self.doc, self.doc["accessors"]
        used = sorted(
            {a["bufferView"] for a in accessors if "bufferView" in a}
            | {a["sparse"][k]["bufferView"] for a in accessors if "sparse" in a
               for k in ("indices", "values")}
        )  # fmt: skip
        blob, views, remap = bytearray(), list[dict[str, Any]](), dict[int, int]()
        for old in used:
            v = dict(doc["bufferViews"][old])
            off = v.get("byteOffset", 0)
            data = self.blob[off : off + v["byteLength"]]
            blob += b"\0" * (-len(blob) % 4)
            v["byteOffset"] = len(blob)
            blob += data
            remap[old] = len(views)
            views.append(v)
        for a in accessors:
            if "bufferView" in a:
                a["bufferView"] = remap[a["bufferView"]]
            if "sparse" in a:
                for k in ("indices", "values"):
                    a["sparse"][k]["bufferView"] = remap[a["sparse"][k]["bufferView"]]
        doc["bufferViews"] = views
        blob += b"\0" * (-len(blob) % 4)
        doc["buffers"] = [{"byteLength": len(blob)}]
        js = json.dumps(doc, separators=(",", ":")).encode()
        js += b" " * (-len(js) % 4)
        body = struct.pack("<II", len(js), 0x4E4F534A) + js
        body += struct.pack("<II", len(blob), 0x004E4942) + bytes(blob)
        return struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body


def drop_accessors(doc: dict[str, Any], keep: set[int]) -> dict[int, int]:
    """Remove the accessors not in ``keep``; returns old index -> new index."""
    remap = {old: new for new, old in enumerate(sorted(keep))}
    doc["accessors"] = [a for i, a in enumerate(doc["accessors"]) if i in keep]
    return remap


def turn_geometry(g: Glb) -> None:
    """Turn the model to face -Z: vertices, morph deltas, node transforms, inverse binds."""
    doc = g.doc
    seen: set[int] = set()
    for mesh in doc["meshes"]:
        for p in mesh["primitives"]:
            accs = [p["attributes"][k] for k in ("POSITION", "NORMAL") if k in p["attributes"]]
            for t in p.get("targets") or []:
                accs += [t[k] for k in ("POSITION", "NORMAL") if k in t]
            for acc in accs:
                if acc not in seen:  # an accessor shared by two primitives turns once
                    seen.add(acc)
                    g.turn_vec3(acc)
    for skin in doc.get("skins") or []:
        g.turn_mat4(skin["inverseBindMatrices"])
    for node in doc["nodes"]:
        if "translation" in node:
            x, y, z = node["translation"]
            node["translation"] = [-x, y, -z]
        if (
            "rotation" in node
        ):  # R q R^-1 for R = 180 degrees about y: (x, y, z, w) -> (-x, y, -z, w)
            x, y, z, w = node["rotation"]
            node["rotation"] = [-x, y, -z, w]
        assert "matrix" not in node, "matrix nodes are not converted"


def keep_bound_targets(doc: dict[str, Any], vrm1: dict[str, Any]) -> dict[int, dict[int, int]]:
    """Keep only the morph targets some expression binds; returns mesh -> (old -> new index)."""
    node_mesh = {i: n["mesh"] for i, n in enumerate(doc["nodes"]) if "mesh" in n}
    bound: dict[int, set[int]] = {}
    for e in vrm1["expressions"]["preset"].values():
        for b in e.get("morphTargetBinds") or []:
            bound.setdefault(node_mesh[b["node"]], set()).add(b["index"])
    out: dict[int, dict[int, int]] = {}
    used: set[int] = set()
    for mi, mesh in enumerate(doc["meshes"]):
        keep = sorted(bound.get(mi, set()))
        out[mi] = {old: new for new, old in enumerate(keep)}
        for p in mesh["primitives"]:
            if "targets" in p:
                p["targets"] = [p["targets"][k] for k in keep]
                if not p["targets"]:
                    del p["targets"]
        if "weights" in mesh:
            mesh["weights"] = [mesh["weights"][k] for k in keep]
            if not mesh["weights"]:
                del mesh["weights"]
        names = (mesh.get("extras") or {}).get("targetNames")
        if names:
            mesh["extras"]["targetNames"] = [names[k] for k in keep]
    for mesh in doc["meshes"]:
        for p in mesh["primitives"]:
            used |= set(p["attributes"].values())
            if "indices" in p:
                used.add(p["indices"])
            for t in p.get("targets") or []:
                used |= set(t.values())
    for skin in doc.get("skins") or []:
        used.add(skin["inverseBindMatrices"])
    remap = drop_accessors(doc, used)
    for mesh in doc["meshes"]:
        for p in mesh["primitives"]:
            p["attributes"] = {k: remap[v] for k, v in p["attributes"].items()}
            if "indices" in p:
                p["indices"] = remap[p["indices"]]
            if "targets" in p:
                p["targets"] = [{k: remap[v] for k, v in t.items()} for t in p["targets"]]
    for skin in doc.get("skins") or []:
        skin["inverseBindMatrices"] = remap[skin["inverseBindMatrices"]]
    return out


def shading_v0(toony1: float, shift1: float) -> tuple[float, float]:
    """MToon 1.0 (shadingToonyFactor, shadingShiftFactor) -> 0.x (_ShadeToony, _ShadeShift):
    the inverse of UniVRM's migration, where the 0.x lit range is [shift, lerp(1, shift,
    toony)], 1.0 toony = (2 - range width) / 2 and 1.0 shift = -(range sum) / 2."""
    width, total = 2.0 - 2.0 * toony1, -2.0 * shift1
    lo, hi = (total - width) / 2.0, (total + width) / 2.0
    return (1.0 - hi) / (1.0 - lo), lo


def material_v0(m: dict[str, Any]) -> dict[str, Any]:
    """A 1.0 material's MToon as a 0.x ``materialProperties`` entry."""
    mt = (m.get("extensions") or {}).get("VRMC_materials_mtoon") or {}
    base = (m.get("pbrMetallicRoughness") or {}).get("baseColorFactor", [1, 1, 1, 1])
    toony, shift = shading_v0(mt.get("shadingToonyFactor", 0.9), mt.get("shadingShiftFactor", 0))

    def srgb(c: list[float], alpha: float = 1.0) -> list[float]:
        return [round(linear_to_srgb(float(v)), 6) for v in c[:3]] + [alpha]

    outline = float(mt.get("outlineWidthFactor", 0.0))
    world = mt.get("outlineWidthMode", "none") == "worldCoordinates"
    return {
        "name": m["name"],
        "shader": "VRM/MToon",
        "renderQueue": 2000,
        "floatProperties": {
            "_Cutoff": float(m.get("alphaCutoff", 0.5)),
            "_BlendMode": 0.0,
            "_CullMode": 0.0 if m.get("doubleSided") else 2.0,
            "_ShadeToony": round(toony, 6),
            "_ShadeShift": round(shift, 6),
            "_OutlineWidthMode": 1.0 if world else 0.0,
            "_OutlineWidth": outline * 100.0 if world else 0.0,  # 0.x: centimetres
            "_OutlineColorMode": 0.0,
            "_UvAnimScrollX": float(mt.get("uvAnimationScrollXSpeedFactor", 0.0)),
            "_UvAnimScrollY": -float(mt.get("uvAnimationScrollYSpeedFactor", 0.0)),
            "_UvAnimRotation": float(mt.get("uvAnimationRotationSpeedFactor", 0.0)),
            "_ZWrite": 1.0,
        },
        "vectorProperties": {
            "_Color": srgb(base, float(base[3])),
            "_ShadeColor": srgb(mt.get("shadeColorFactor", [0.6, 0.6, 0.6])),
            "_RimColor": srgb(mt.get("parametricRimColorFactor", [0, 0, 0])),
            "_EmissionColor": [*(float(v) for v in m.get("emissiveFactor", [0, 0, 0])), 1.0],
            "_OutlineColor": srgb(mt.get("outlineColorFactor", [0, 0, 0])),
            "_MainTex": [0.0, 0.0, 1.0, 1.0],  # offset x, y, scale x, y
        },
        "textureProperties": {},
        "keywordMap": {},
        "tagMap": {"RenderType": "Opaque"},
    }


def bone_v0(name: str) -> str:
    for v1, v0 in THUMB_V0.items():
        if "Thumb" in name and name.endswith(v1):
            return name[: -len(v1)] + v0
    return name


def vrm_v0(doc: dict[str, Any], vrm1: dict[str, Any], targets: dict[int, dict[int, int]]) -> Any:
    """The ``extensions.VRM`` object for nova's 1.0 ``VRMC_vrm``."""
    node_mesh = {i: n["mesh"] for i, n in enumerate(doc["nodes"]) if "mesh" in n}
    bones = vrm1["humanoid"]["humanBones"]
    groups = []
    for name, e in vrm1["expressions"]["preset"].items():
        binds = []
        for b in e.get("morphTargetBinds") or []:
            mesh = node_mesh[b["node"]]
            binds.append(
                {"mesh": mesh, "index": targets[mesh][b["index"]], "weight": 100.0 * b["weight"]}
            )
        groups.append(
            {"name": PRESET_V0[name], "presetName": PRESET_V0[name], "binds": binds,
             "materialValues": [], "isBinary": bool(e.get("isBinary", False))}
        )  # fmt: skip
    curve = {"curve": [0, 0, 0, 1, 1, 1, 1, 0], "xRange": 90, "yRange": 1}
    meta1 = vrm1["meta"]
    off = vrm1["lookAt"]["offsetFromHeadBone"]
    return {
        "exporterVersion": "avatarchat scripts/make_vrm0.py",
        "specVersion": "0.0",
        "meta": {
            "title": f"{meta1['name']} (VRM 0.x copy)",
            "version": meta1.get("version", "1"),
            "author": ", ".join(meta1.get("authors", [])),
            "contactInformation": "",
            "reference": "avatars/builtin3d/nova.vrm",
            "allowedUserName": "Everyone",
            "violentUssageName": "Disallow",
            "sexualUssageName": "Disallow",
            "commercialUssageName": "Allow",
            "otherPermissionUrl": "",
            "licenseName": "Other",
            "otherLicenseUrl": meta1.get("licenseUrl", ""),
        },
        "humanoid": {
            "humanBones": [
                {"bone": bone_v0(k), "node": v["node"], "useDefaultValues": True}
                for k, v in bones.items()
            ],
            "armStretch": 0.05,
            "legStretch": 0.05,
            "upperArmTwist": 0.5,
            "lowerArmTwist": 0.5,
            "upperLegTwist": 0.5,
            "lowerLegTwist": 0.5,
            "feetSpacing": 0.0,
            "hasTranslationDoF": False,
        },
        "firstPerson": {
            "firstPersonBone": bones["head"]["node"],
            # 0.x keeps this offset in Unity's axes (z toward the face), as UniVRM wrote it.
            "firstPersonBoneOffset": {"x": off[0], "y": off[1], "z": off[2]},
            "meshAnnotations": [
                {"mesh": i, "firstPersonFlag": "Auto"} for i in range(len(doc["meshes"]))
            ],
            "lookAtTypeName": "BlendShape",
            "lookAtHorizontalInner": curve,
            "lookAtHorizontalOuter": curve,
            "lookAtVerticalDown": curve,
            "lookAtVerticalUp": curve,
        },
        "blendShapeMaster": {"blendShapeGroups": groups},
        "secondaryAnimation": {"boneGroups": [], "colliderGroups": []},
        "materialProperties": [material_v0(m) for m in doc["materials"]],
    }


def convert(data: bytes) -> bytes:
    g = Glb(data)
    doc = g.doc
    vrm1 = doc["extensions"]["VRMC_vrm"]
    turn_geometry(g)
    targets = keep_bound_targets(doc, vrm1)
    doc["extensions"] = {"VRM": vrm_v0(doc, vrm1, targets)}
    for m in doc["materials"]:
        m["extensions"] = {"KHR_materials_unlit": {}}  # what 0.x exporters write for MToon
    doc["extensionsUsed"] = ["VRM", "KHR_materials_unlit"]
    doc["asset"] = {"version": "2.0", "generator": "avatarchat scripts/make_vrm0.py"}
    return g.pack()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", type=Path, default=SOURCE)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    data = convert(args.source.read_bytes())
    from avatars.gltf import load_model

    model = load_model(data, "nova-vrm0")  # the file must pass our own loader's checks
    assert model.vrm_version == "0.x" and not model.perfect_sync
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"{args.out}: {len(data)} bytes, {len(model.expressions)} expressions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
