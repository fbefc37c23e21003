"""nova's arms and hands: humanoid bones and one skinned mesh (scripts/make_avatar3d.py).

nova is framed head and shoulders, so arms matter when they come up into the picture: a wave, a
thumbs-up, a hand at the chin. The rig is VRM 1.0's (shoulder, upper arm, lower arm, hand, and
three joints per finger, the thumb's Metacarpal/Proximal/Distal), standing in the T-pose VRM 1.0
asks for: arms straight out along +-X, palms down, thumbs forward. The renderer hangs them at
rest (render_window.arms3d) and moves them from the body parameters.

The mesh is rounded segments (sweater sleeves, skin hands), each vertex bound to one bone, all in
two primitives (sleeves, skin) of one skinned mesh: two draw calls for both arms, and small
(the finger segments are coarse; at the size a hand shows in the frame they read as fingers).
Positions are model space (metres, +Y up, facing +Z, the avatar's left at +X).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .nova_parts import Prim, smooth_normals, sphere_grid

F = np.float32
V = np.ndarray

#: The chest node's height in model space (make_avatar3d's Hips + Spine + Chest).
CHEST_Y = 1.25
#: Left-side joints relative to their parent (the right side mirrors x).
SHOULDER = (0.035, 0.06, -0.01)  # from the chest
UPPER_ARM = (0.118, -0.03, 0.0)  # from the shoulder: the shoulder joint, under the sweater
LOWER_ARM = (0.21, 0.0, 0.0)
HAND = (0.195, 0.0, 0.0)
#: Finger bases on the palm (from the hand) and segment lengths, palm outward.
FINGERS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "Index": ((0.085, 0.0, 0.025), (0.038, 0.024, 0.02)),
    "Middle": ((0.088, 0.0, 0.008), (0.042, 0.027, 0.021)),
    "Ring": ((0.084, 0.0, -0.009), (0.039, 0.025, 0.02)),
    "Little": ((0.077, -0.002, -0.025), (0.03, 0.019, 0.017)),
}
JOINTS = ("Proximal", "Intermediate", "Distal")
#: The thumb leaves the palm forward and out (metacarpal at the wrist's thumb side).
THUMB_BASE = (0.02, -0.008, 0.024)
THUMB_DIR = np.array([0.55, -0.15, 0.82], F) / np.linalg.norm([0.55, -0.15, 0.82])
THUMB = ("Metacarpal", "Proximal", "Distal")
THUMB_LEN = (0.04, 0.032, 0.026)


def _add(a: tuple[float, ...] | V, b: tuple[float, ...] | V) -> V:
    return np.asarray(a, F) + np.asarray(b, F)


def arm_bones() -> list[tuple[str, str, V]]:
    """(VRM bone, parent bone, world position) for both arms, parents first."""
    out: list[tuple[str, str, V]] = []
    for side, sx in (("left", 1.0), ("right", -1.0)):
        m = np.array([sx, 1.0, 1.0], F)
        chest = np.array([0.0, CHEST_Y, 0.0], F)
        sh = chest + m * SHOULDER
        up = sh + m * UPPER_ARM
        lo = up + m * LOWER_ARM
        hand = lo + m * HAND
        out += [
            (f"{side}Shoulder", "chest", sh),
            (f"{side}UpperArm", f"{side}Shoulder", up),
            (f"{side}LowerArm", f"{side}UpperArm", lo),
            (f"{side}Hand", f"{side}LowerArm", hand),
        ]
        for finger, (base, lengths) in FINGERS.items():
            p, parent = hand + m * base, f"{side}Hand"
            for joint, length in zip(JOINTS, lengths, strict=True):
                name = f"{side}{finger}{joint}"
                out.append((name, parent, p.copy()))
                p, parent = p + m * np.array([length, 0.0, 0.0], F), name
        p, parent = hand + m * THUMB_BASE, f"{side}Hand"
        for joint, length in zip(THUMB, THUMB_LEN, strict=True):
            name = f"{side}Thumb{joint}"
            out.append((name, parent, p.copy()))
            p, parent = p + m * THUMB_DIR * length, name
    return out


def _segment(a: V, b: V, r: tuple[float, float], over: float, n: tuple[int, int]) -> tuple[V, V]:
    """A rounded segment from ``a`` to ``b``: an ellipsoid reaching ``over`` past both ends,
    ``r`` = (radius across, radius up-down) in the arm's T-pose frame."""
    unit, tris = sphere_grid(*n)
    axis = (b - a) / np.linalg.norm(b - a)
    side = np.cross(axis, (0.0, 1.0, 0.0))
    if np.linalg.norm(side) < 1e-6:
        side = np.array([0.0, 0.0, 1.0], F)
    side = side / np.linalg.norm(side)
    up = np.cross(side, axis)
    half = np.linalg.norm(b - a) / 2 + over
    # sphere_grid's poles are on y: the segment's length runs along them.
    pos = (
        (a + b) / 2
        + np.outer(unit[:, 1] * half, axis)
        + np.outer(unit[:, 0] * r[0], side)
        + np.outer(unit[:, 2] * r[1], up)
    )
    return pos.astype(F), tris


def build_arms() -> tuple[list[tuple[Prim, V]], list[str]]:
    """The arm primitives, each with its vertices' joint index, and the joints' bone names."""
    bones = {name: pos for name, _, pos in arm_bones()}
    joints: list[str] = []
    parts: dict[str, list[tuple[V, V, int]]] = {"clothes": [], "skin": []}

    def add(mat: str, bone: str, a: V, b: V, r: tuple[float, float], over: float,
            n: tuple[int, int]) -> None:  # fmt: skip
        if bone not in joints:
            joints.append(bone)
        pos, tris = _segment(a, b, r, over, n)
        parts[mat].append((pos, tris, joints.index(bone)))

    for side, sx in (("left", 1.0), ("right", -1.0)):
        b = {k[len(side) :]: v for k, v in bones.items() if k.startswith(side)}
        add("clothes", f"{side}UpperArm", b["UpperArm"], b["LowerArm"], (0.041, 0.04), 0.02,
            (10, 14))  # fmt: skip
        add("clothes", f"{side}LowerArm", b["LowerArm"], b["Hand"] - np.array([sx * 0.02, 0, 0]),
            (0.035, 0.033), 0.02, (10, 14))  # fmt: skip
        palm_end = b["Hand"] + np.array([sx * 0.085, 0.0, 0.0], F)
        add("skin", f"{side}Hand", b["Hand"], palm_end, (0.043, 0.016), 0.012, (7, 10))
        for finger, (_, lengths) in FINGERS.items():
            for joint, length in zip(JOINTS, lengths, strict=True):
                start = b[f"{finger}{joint}"]
                end = start + np.array([sx * length, 0.0, 0.0], F)
                width = 0.0085 if finger != "Little" else 0.0072
                add("skin", f"{side}{finger}{joint}", start, end, (width, width * 0.9), 0.004,
                    (5, 6))  # fmt: skip
        for joint, length in zip(THUMB, THUMB_LEN, strict=True):
            start = b[f"Thumb{joint}"]
            end = start + np.array([sx, 1.0, 1.0], F) * THUMB_DIR * length
            add("skin", f"{side}Thumb{joint}", start, end, (0.011, 0.0095), 0.004, (5, 6))
    out: list[tuple[Prim, V]] = []
    for mat, items in parts.items():
        offs = np.cumsum([0] + [len(p) for p, _, _ in items])
        pos = np.concatenate([p for p, _, _ in items])
        idx = np.concatenate([t + o for (_, t, _), o in zip(items, offs, strict=False)])
        idx = idx.reshape(-1).astype(np.uint32)
        joint = np.concatenate([np.full(len(p), j, np.uint16) for p, _, j in items])
        out.append((Prim(pos, smooth_normals(pos, idx), idx, mat), joint))
    return out, joints


def arm_nodes(first: int) -> tuple[list[dict[str, Any]], dict[str, int], dict[str, list[int]]]:
    """glTF nodes for the arm bones (indices from ``first``), the VRM bone -> node map, and
    the children each existing bone (``chest``) gains."""
    bones = arm_bones()
    index = {name: first + i for i, (name, _, _) in enumerate(bones)}
    world = {name: pos for name, _, pos in bones}
    world["chest"] = np.array([0.0, CHEST_Y, 0.0], F)
    nodes: list[dict[str, Any]] = []
    extra: dict[str, list[int]] = {}
    for name, parent, pos in bones:
        t = pos - world[parent]
        node: dict[str, Any] = {"name": name[0].upper() + name[1:], "translation": [
            round(float(v), 6) for v in t]}  # fmt: skip
        nodes.append(node)
        if parent in index:
            nodes[index[parent] - first].setdefault("children", []).append(index[name])
        else:
            extra.setdefault(parent, []).append(index[name])
    return nodes, index, extra
