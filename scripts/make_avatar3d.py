"""Generate the built-in 3D avatar (avatars/builtin3d/nova.vrm): a stylised head and shoulders.

Run ``python scripts/make_avatar3d.py`` after changing it; the output is committed like the 2D
art. Everything is made from numpy shapes (ellipsoids, discs), so the avatar is ours to ship.

The face mesh carries the 52 ARKit-named morph targets ("perfect sync": the renderer drives them
straight from our blendshapes), stored as sparse accessors since each moves only a few
vertices; VRM 1.0 expressions (happy, aa, blink, lookUp, ...) bind onto the same targets for
players that drive presets. The humanoid is a bust: hips, spine, chest, neck, head and eyes.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from avatars.vrm import ARKIT_NAMES  # noqa: E402

OUT = REPO / "avatars" / "builtin3d" / "nova.vrm"

F = np.float32
V = np.ndarray

# name: (base colour, shade colour, outline width in metres). Only the hair is outlined: each
# inverted-hull pass cost llvmpipe ~1.5 ms a frame at 1280x720, and the target is 1.2x the 2D
# renderer's CPU.
MATERIALS: dict[str, tuple[tuple[float, ...], tuple[float, ...], float]] = {
    "skin": ((1.0, 0.86, 0.77, 1.0), (0.93, 0.66, 0.6), 0.0),
    "hair": ((0.36, 0.27, 0.55, 1.0), (0.2, 0.14, 0.34), 0.0025),
    "eyewhite": ((0.98, 0.98, 0.97, 1.0), (0.85, 0.85, 0.9), 0.0),
    "iris": ((0.16, 0.42, 0.62, 1.0), (0.08, 0.22, 0.4), 0.0),
    "mouth": ((0.5, 0.12, 0.16, 1.0), (0.35, 0.06, 0.1), 0.0),
    "brow": ((0.27, 0.2, 0.36, 1.0), (0.18, 0.12, 0.26), 0.0),
    "lid": ((0.96, 0.8, 0.72, 1.0), (0.88, 0.62, 0.56), 0.0),
    "tongue": ((0.9, 0.45, 0.5, 1.0), (0.7, 0.3, 0.35), 0.0),
    "clothes": ((0.22, 0.6, 0.62, 1.0), (0.12, 0.38, 0.45), 0.0),
    "collar": ((0.95, 0.95, 0.92, 1.0), (0.75, 0.78, 0.82), 0.0),
}
MAT_INDEX = {n: i for i, n in enumerate(MATERIALS)}

# Head-local landmarks (the head node sits at the top of the neck).
HEAD_C = np.array([0.0, 0.1, 0.0], F)
HEAD_R = np.array([0.112, 0.132, 0.115], F)
EYE_Y, EYE_X, EYE_RX, EYE_RY = 0.095, 0.042, 0.02, 0.024
MOUTH_C = np.array([0.0, 0.035, 0.0], F)
MOUTH_W, MOUTH_H = 0.022, 0.004


def face_z(x: float, y: float, lift: float = 0.0) -> float:
    """z of the head's front surface at (x, y), plus ``lift`` toward the camera."""
    u = ((x - HEAD_C[0]) / HEAD_R[0]) ** 2 + ((y - HEAD_C[1]) / HEAD_R[1]) ** 2
    return float(HEAD_C[2] + HEAD_R[2] * np.sqrt(max(0.0, 1.0 - u))) + lift


class Prim:
    def __init__(self, pos: V, nrm: V, idx: V, mat: str) -> None:
        self.pos, self.nrm, self.idx, self.mat = pos.astype(F), nrm.astype(F), idx, mat
        self.deltas: dict[str, V] = {}

    def add(self, name: str, delta: V) -> None:
        assert name in ARKIT_NAMES, name
        self.deltas[name] = self.deltas.get(name, np.zeros_like(self.pos)) + delta.astype(F)


def ellipsoid(c: V, r: V, nlat: int = 28, nlon: int = 40, keep: Any = None) -> tuple[V, V, V]:
    lat = np.linspace(0, np.pi, nlat + 1)
    lon = np.linspace(0, 2 * np.pi, nlon + 1)
    th, ph = np.meshgrid(lat, lon, indexing="ij")
    unit = np.stack([np.sin(th) * np.sin(ph), np.cos(th), np.sin(th) * np.cos(ph)], -1)
    pos = (c + unit * r).reshape(-1, 3)
    nrm = unit / (r / r.mean())
    nrm = (nrm / np.linalg.norm(nrm, axis=-1, keepdims=True)).reshape(-1, 3)
    tris = []
    w = nlon + 1
    for i in range(nlat):
        for j in range(nlon):
            a, b, cc, d = i * w + j, i * w + j + 1, (i + 1) * w + j, (i + 1) * w + j + 1
            for t in ((a, cc, b), (b, cc, d)):
                if keep is None or keep(pos[list(t)].mean(axis=0)):
                    tris.append(t)
    return pos, nrm, np.array(tris, np.uint32).reshape(-1)


def disc(
    cx: float, cy: float, rx: float, ry: float, lift: float, n: int = 24, flat: bool = False
) -> tuple[V, V, V]:
    """An ellipse on the face (normal +Z), centre vertex first: following the surface, or
    ``flat`` at the depth of its highest point (eyes: an iris sliding sideways stays in front
    of the white, and the face bulging toward the nose does not cover it)."""
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    xs = np.concatenate([[cx], cx + rx * np.cos(ang)])
    ys = np.concatenate([[cy], cy + ry * np.sin(ang)])
    zs = np.array([face_z(x, y, lift) for x, y in zip(xs, ys, strict=True)])
    if flat:  # in front of the face over the whole eye, up to where the face meets the nose
        zs[:] = face_z(cx - np.sign(cx) * 0.032, cy, lift)
    pos = np.stack([xs, ys, zs], -1)
    nrm = np.tile([0.0, 0.0, 1.0], (n + 1, 1))
    idx = np.array([[0, 1 + k, 1 + (k + 1) % n] for k in range(n)], np.uint32).reshape(-1)
    return pos, nrm, idx


def ring_xy(p: Prim, cx: float, cy: float) -> tuple[V, V]:
    """Unit offsets of a disc's vertices from its centre (x, y in -1..1)."""
    d = p.pos[:, :2] - np.array([cx, cy])
    m = np.abs(d).max(axis=0)
    return d[:, 0] / max(m[0], 1e-9), d[:, 1] / max(m[1], 1e-9)


def build_face() -> list[Prim]:
    prims: list[Prim] = []
    # -- head skin, with jaw and cheeks ------------------------------------------------
    head = Prim(*ellipsoid(HEAD_C, HEAD_R), "skin")
    x, y, z = head.pos[:, 0], head.pos[:, 1], head.pos[:, 2]
    front = np.clip(z / HEAD_R[2], 0, 1)
    chin = np.clip((MOUTH_C[1] - y) / 0.06, 0, 1) * front
    for side, sgn in (("Left", 1), ("Right", -1)):
        cheek = np.exp(-(((x - sgn * 0.06) / 0.03) ** 2 + ((y - 0.05) / 0.03) ** 2)) * front
        head.add("cheekPuff", np.stack([sgn * cheek * 0.008, 0 * x, cheek * 0.004], -1))
        head.add(f"cheekSquint{side}", np.stack([0 * x, cheek * 0.004, 0 * x], -1))
        sneer = np.exp(-(((x - sgn * 0.012) / 0.012) ** 2 + ((y - 0.07) / 0.012) ** 2)) * front
        head.add(f"noseSneer{side}", np.stack([0 * x, sneer * 0.004, 0 * x], -1))
    head.add("jawOpen", np.stack([0 * x, -chin * 0.02, 0 * x], -1))
    head.add("jawForward", np.stack([0 * x, 0 * x, chin * 0.01], -1))
    head.add("jawLeft", np.stack([chin * 0.01, 0 * x, 0 * x], -1))
    head.add("jawRight", np.stack([-chin * 0.01, 0 * x, 0 * x], -1))
    prims.append(head)
    # -- hair: a cap over the top and back ---------------------------------------------
    hair_r = HEAD_R * np.array([1.07, 1.06, 1.08], F)

    def hair_keep(c: V) -> bool:
        rel = (c - HEAD_C) / hair_r
        return bool(rel[1] > 0.38 or (rel[2] < 0.05 and rel[1] > -0.6) or (rel[2] < -0.2))

    prims.append(
        Prim(*ellipsoid(HEAD_C + np.array([0, 0.006, -0.004], F), hair_r, keep=hair_keep), "hair")
    )
    # -- eyes: white, iris, lid ----------------------------------------------------------
    for side, sgn in (("Left", 1), ("Right", -1)):
        ex = sgn * EYE_X
        white = Prim(*disc(ex, EYE_Y, EYE_RX, EYE_RY, 0.001, flat=True), "eyewhite")
        ux, uy = ring_xy(white, ex, EYE_Y)
        white.add(f"eyeWide{side}", np.stack([0 * ux, uy * 0.006, 0 * ux], -1))
        white.add(f"eyeSquint{side}", np.stack([0 * ux, -uy * 0.006, 0 * ux], -1))
        white.add(f"cheekSquint{side}", np.stack([0 * ux, np.clip(-uy, 0, 1) * 0.006, 0 * ux], -1))
        prims.append(white)
        iris = Prim(*disc(ex, EYE_Y - 0.002, 0.011, 0.015, 0.0025, flat=True), "iris")
        one = np.ones(len(iris.pos))
        look = 0.009
        # Looking toward the avatar's own left (+X) is "out" for the left eye, "in" for the right.
        iris.add(f"eyeLookOut{side}", np.stack([sgn * look * one, 0 * one, 0 * one], -1))
        iris.add(f"eyeLookIn{side}", np.stack([-sgn * look * one, 0 * one, 0 * one], -1))
        iris.add(f"eyeLookUp{side}", np.stack([0 * one, look * one, 0 * one], -1))
        iris.add(f"eyeLookDown{side}", np.stack([0 * one, -look * one, 0 * one], -1))
        prims.append(iris)
        # The lid: a skin disc over the eye, folded up to the eye's top edge at rest.
        pos, nrm, idx = disc(ex, EYE_Y, EYE_RX * 1.15, EYE_RY * 1.15, 0.004, flat=True)
        top = EYE_Y + EYE_RY * 1.15
        folded = pos.copy()
        folded[:, 1] = top
        lid = Prim(folded, nrm, idx, "lid")
        lid.add(f"eyeBlink{side}", np.stack([0 * pos[:, 0], pos[:, 1] - top, 0 * pos[:, 0]], -1))
        lux, _luy = ring_xy(Prim(pos, nrm, idx, "lid"), ex, EYE_Y)
        lid.add(f"eyeSquint{side}", np.stack([0 * lux, (pos[:, 1] - top) * 0.25, 0 * lux], -1))
        prims.append(lid)
        # Brow: a thin disc above the eye; inner end toward the centre.
        brow = Prim(*disc(sgn * 0.045, 0.135, 0.024, 0.005, 0.002, n=16), "brow")
        bx, _by = ring_xy(brow, sgn * 0.045, 0.135)
        inner = np.clip(-sgn * bx, 0, 1)
        outer = np.clip(sgn * bx, 0, 1)
        one = np.ones(len(brow.pos))
        brow.add(f"browDown{side}", np.stack([0 * one, -0.008 * one, 0 * one], -1))
        brow.add(f"browOuterUp{side}", np.stack([0 * one, 0.01 * outer, 0 * one], -1))
        brow.add("browInnerUp", np.stack([0 * one, 0.01 * inner, 0 * one], -1))
        prims.append(brow)
    # -- mouth --------------------------------------------------------------------------
    mouth = Prim(*disc(0.0, float(MOUTH_C[1]), MOUTH_W, MOUTH_H, 0.0015, n=32), "mouth")
    mx, my = ring_xy(mouth, 0.0, float(MOUTH_C[1]))
    one, zero = np.ones(len(mx)), np.zeros(len(mx))
    lower, upper = np.clip(-my, 0, 1), np.clip(my, 0, 1)
    left, right = np.clip(mx, 0, 1), np.clip(-mx, 0, 1)

    def mv(dx: V, dy: V) -> V:
        return np.stack([dx, dy, zero], -1)

    mouth.add("jawOpen", mv(zero, -0.028 * lower - 0.004 * upper * 0))
    mouth.add("mouthClose", mv(zero, 0.012 * lower))
    mouth.add("mouthFunnel", mv(-0.008 * mx, 0.01 * my))
    mouth.add("mouthPucker", mv(-0.012 * mx, 0.003 * my))
    mouth.add("mouthLeft", mv(0.01 * one, zero))
    mouth.add("mouthRight", mv(-0.01 * one, zero))
    mouth.add("mouthRollLower", mv(zero, 0.003 * lower))
    mouth.add("mouthRollUpper", mv(zero, -0.003 * upper))
    mouth.add("mouthShrugLower", mv(zero, 0.004 * one * lower + 0.002))
    mouth.add("mouthShrugUpper", mv(zero, 0.004 * upper))
    for side, sel in (("Left", left), ("Right", right)):
        sgn = 1 if side == "Left" else -1
        corner = sel**3
        # A smile: corners up and out, the lower lip's middle dips into a curve.
        middle = lower * (1 - np.abs(mx))
        mouth.add(f"mouthSmile{side}", mv(sgn * 0.008 * corner, 0.02 * corner - 0.005 * middle))
        mouth.add(f"mouthFrown{side}", mv(zero, -0.01 * corner))
        mouth.add(f"mouthDimple{side}", mv(sgn * 0.005 * corner, 0.002 * corner))
        mouth.add(f"mouthStretch{side}", mv(sgn * 0.01 * corner, -0.002 * corner))
        mouth.add(f"mouthPress{side}", mv(zero, -0.004 * sel * upper + 0.004 * sel * lower))
        mouth.add(f"mouthLowerDown{side}", mv(zero, -0.008 * sel * lower))
        mouth.add(f"mouthUpperUp{side}", mv(zero, 0.006 * sel * upper))
    prims.append(mouth)
    # -- tongue: hidden inside the head until tongueOut ---------------------------------
    tpos, tnrm, tidx = disc(0.0, float(MOUTH_C[1]) - 0.01, 0.012, 0.01, -0.02, n=16)
    tongue = Prim(tpos, tnrm, tidx, "tongue")
    one = np.ones(len(tpos))
    tongue.add("tongueOut", np.stack([0 * one, -0.004 * one, 0.026 * one], -1))
    prims.append(tongue)
    return prims


def build_body() -> list[Prim]:
    """Shoulders and chest (on the chest node) and the collar."""
    torso = Prim(
        *ellipsoid(
            np.array([0, -0.07, 0], F),
            np.array([0.17, 0.16, 0.095], F),
            keep=lambda c: c[1] > -0.14,
        ),
        "clothes",
    )
    collar = Prim(
        *ellipsoid(np.array([0, 0.075, 0.0], F), np.array([0.06, 0.022, 0.05], F)), "collar"
    )
    return [torso, collar]


def build_neck() -> list[Prim]:
    return [
        Prim(
            *ellipsoid(np.array([0, 0.04, 0], F), np.array([0.042, 0.08, 0.042], F), 12, 20), "skin"
        )
    ]


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
        comp = 5125 if arr.dtype == np.uint32 else 5126
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
                "values": {"bufferView": self.view(delta[nz].astype(F).tobytes())},
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
    face, torso, neck = build_face(), build_body(), build_neck()
    meshes = [
        mesh_json(w, "Body", torso, False),
        mesh_json(w, "Neck", neck, False),
        mesh_json(w, "Face", face, True),
    ]
    nodes = [
        {"name": "Hips", "translation": [0, 0.95, 0], "children": [1]},
        {"name": "Spine", "translation": [0, 0.12, 0], "children": [2]},
        {"name": "Chest", "translation": [0, 0.18, 0], "children": [3, 7]},
        {"name": "Neck", "translation": [0, 0.12, 0], "children": [4, 8]},
        {"name": "Head", "translation": [0, 0.1, 0], "children": [5, 6, 9]},
        {"name": "LeftEye", "translation": [EYE_X, EYE_Y, 0.09]},
        {"name": "Face", "mesh": 2},
        {"name": "BodyMesh", "mesh": 0},
        {"name": "NeckMesh", "mesh": 1},
        {"name": "RightEye", "translation": [-EYE_X, EYE_Y, 0.09]},
    ]
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
                "doubleSided": name in ("hair", "lid", "tongue"),
                "extensions": {"VRMC_materials_mtoon": mt},
            }
        )
    bones = {"hips": 0, "spine": 1, "chest": 2, "neck": 3, "head": 4, "leftEye": 5, "rightEye": 9}
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
        "scenes": [{"nodes": [0]}],
        "nodes": nodes,
        "meshes": meshes,
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
