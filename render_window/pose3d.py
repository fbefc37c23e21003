"""Posing a 3D model from the parameter frame: node matrices, head/neck/eye bones, morph
weights, material binds and the camera. Pure numpy (no GL), so it is tested on its own.

Bone rotations are applied in *world* orientation (yaw about the world up axis, pitch about the
world right axis) and converted into each bone's local frame through its parent's rest
orientation, so a rig whose bones carry arbitrary rest rotations (VRM 0.x, Blender exports)
turns the same way as a normalised VRM 1.0 rig.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from avatars.model3d import Model
from avatars.vrm import ARKIT_NAMES, BindState, apply_binds, effective_weights, presets_from_params

from .arms3d import ArmRig

F32 = NDArray[np.float32]

#: Share of the head rotation the neck takes (the rest goes to the head bone): a real neck
#: bends along its length, and a single pivot at the skull base looks robotic.
NECK_SHARE = 0.4
#: Eye bones turn at most this far (radians) for a full gazeX/gazeY of 1.
EYE_RANGE = 0.3
#: Breathing lifts the chest by this rotation (radians) at a full breath.
BREATH_ANGLE = 0.025
#: Vertical field of view of the camera (degrees): narrow, like a portrait lens.
FOV_DEG = 20.0
#: Emotion parameters -> VRM presets (for perfect-sync models, whose faces are otherwise
#: driven blendshape by blendshape).
EMOTIONS = {
    "emotionHappy": "happy",
    "emotionSad": "sad",
    "emotionAngry": "angry",
    "emotionSurprised": "surprised",
}


def quat_matrix(q: NDArray[np.floating]) -> F32:
    x, y, z, w = (float(v) for v in q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ],
        np.float32,
    )


def euler_matrix(pitch: float, yaw: float, roll: float) -> F32:
    """World rotation: roll about +Z (toward the camera), then pitch about +X, then yaw about
    +Y. Positive yaw turns a +Z-facing head toward its own left (the viewer's right)."""
    cp, sp, cy, sy, cr, sr = (
        math.cos(pitch), math.sin(pitch), math.cos(yaw), math.sin(yaw),
        math.cos(roll), math.sin(roll),
    )  # fmt: skip
    # Ry @ Rx @ Rz multiplied out: one small array instead of three and two products.
    return np.array(
        [
            [cy * cr + sy * sp * sr, sy * sp * cr - cy * sr, sy * cp],
            [cp * sr, cp * cr, -sp],
            [cy * sp * sr - sy * cr, sy * sr + cy * sp * cr, cy * cp],
        ],
        np.float32,
    )


def _local(t: F32, r: F32, s: F32) -> F32:
    m = np.empty((4, 4), np.float32)
    m[:3, :3] = r * s[None, :]
    m[:3, 3] = t
    m[3] = (0.0, 0.0, 0.0, 1.0)
    return m


def _levels(parent: list[int], order: list[int]) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    """The nodes reachable from the roots grouped by depth, each group with its parents'
    indices (-1 for the roots): one batched product a level poses the whole tree."""
    depth: dict[int, int] = {}
    for k in order:  # parents come first
        depth[k] = depth[parent[k]] + 1 if parent[k] >= 0 else 0
    groups: dict[int, list[int]] = {}
    for k, d in depth.items():
        groups.setdefault(d, []).append(k)
    return [
        (np.array(ks, np.intp), np.array([parent[k] for k in ks], np.intp))
        for _, ks in sorted(groups.items())
    ]


@dataclass
class Posed:
    """One frame's result: world matrix per node, morph weights per mesh, material state."""

    world: F32  # (nodes, 4, 4)
    morph: dict[int, F32]  # node index -> weights of its mesh's targets
    binds: BindState


class Poser:
    """Rest pose, parents and bone lookups of one model, computed once."""

    def __init__(self, model: Model) -> None:
        self.m = model
        n = len(model.nodes)
        self.parent = [-1] * n
        for i, node in enumerate(model.nodes):
            for c in node.children:
                self.parent[c] = i
        self.order: list[int] = []  # parents before children
        stack = list(reversed(model.roots))
        while stack:
            k = stack.pop()
            self.order.append(k)
            stack.extend(reversed(model.nodes[k].children))
        self.rest_rot = [quat_matrix(nd.rotation) for nd in model.nodes]
        #: Each node's local matrix at rest: most nodes (the fingers of a resting hand, hair
        #: and skirt bones) are not turned in a frame, and rebuilding theirs cost more than
        #: the turns (a rig with arms has ~50 nodes, a VRoid model hundreds).
        self.rest_local = np.array(
            [
                nd.matrix if nd.matrix is not None else _local(nd.translation, r, nd.scale)
                for nd, r in zip(model.nodes, self.rest_rot, strict=True)
            ],
            np.float32,
        ).reshape(n, 4, 4)
        self._trans = np.array([nd.translation for nd in model.nodes], np.float32).reshape(n, 3)
        self._scale = np.array([nd.scale for nd in model.nodes], np.float32).reshape(n, 3)
        self._levels = _levels(self.parent, self.order)
        self.root = np.eye(4, dtype=np.float32)
        if model.vrm_version == "0.x":  # VRM 0.x faces -Z: turn it to face the camera at +Z
            self.root[0, 0] = self.root[2, 2] = -1.0
        rest = self.world_matrices({})
        self.rest_world = rest
        self.rest_world_rot = [_orthonormal(w[:3, :3]) for w in rest]
        self.base_colors: dict[tuple[int, str], tuple[float, float, float, float]] = {}
        self.base_tex: dict[int, tuple[tuple[float, float], tuple[float, float]]] = {}
        for i, mat in enumerate(model.materials):
            self.base_colors[(i, "color")] = tuple(float(v) for v in mat.base_color)  # type: ignore[assignment]
            self.base_colors[(i, "shadeColor")] = (*(float(v) for v in mat.shade_color), 1.0)  # type: ignore[assignment]
            self.base_colors[(i, "emissionColor")] = (*(float(v) for v in mat.emission), 1.0)  # type: ignore[assignment]
            self.base_colors[(i, "rimColor")] = (*(float(v) for v in mat.rim_color), 1.0)  # type: ignore[assignment]
            self.base_colors[(i, "outlineColor")] = (*(float(v) for v in mat.outline_color), 1.0)  # type: ignore[assignment]
            self.base_tex[i] = (
                (float(mat.tex_scale[0]), float(mat.tex_scale[1])),
                (float(mat.tex_offset[0]), float(mat.tex_offset[1])),
            )
        self.perfect_sync = model.perfect_sync
        self.arkit = set(ARKIT_NAMES)
        self.arms = ArmRig(
            model.humanoid, self.parent, self.rest_world_rot, lambda k: rest[k][:3, 3].copy()
        )

    def world_matrices(
        self, rot: Mapping[int, F32], arms: Sequence[tuple[NDArray[np.intp], F32]] = ()
    ) -> F32:
        """World matrix of every node (nodes, 4, 4), with ``rot`` and ``arms`` ((nodes,
        rotations) pairs) replacing some nodes' local rotations.

        Batched: the local matrices in one go, then one product per level of the tree (a rig
        with arms has ~50 nodes a dozen levels deep; a matrix product per node cost ~1 ms a
        view per frame in Python)."""
        local = self.rest_local.copy()
        pairs = list(arms)
        if rot:
            pairs.append((np.fromiter(rot.keys(), np.intp, len(rot)), np.stack(list(rot.values()))))
        for ks, turns in pairs:
            local[ks, :3, :3] = turns * self._scale[ks][:, None, :]
            local[ks, :3, 3] = self._trans[ks]
            local[ks, 3] = (0.0, 0.0, 0.0, 1.0)
        world = np.empty_like(local)
        world[:] = np.eye(4, dtype=np.float32)
        for ks, ps in self._levels:
            if ps[0] < 0:  # the roots
                world[ks] = self.root @ local[ks]
            else:
                world[ks] = world[ps] @ local[ks]
        return world

    def _turn(self, rot: dict[int, F32], bone: str, delta: F32) -> None:
        """Turn ``bone`` by the world rotation ``delta`` (about its own pivot), on top of the
        turns of its ancestors (call parents first)."""
        k = self.m.humanoid.get(bone)
        if k is None:
            return
        p = self.parent[k]
        pr = self.rest_world_rot[p] if p >= 0 else np.eye(3, dtype=np.float32)
        rot[k] = (pr.T @ delta @ pr @ rot.get(k, self.rest_rot[k])).astype(np.float32)

    def pose(self, params: Mapping[str, float]) -> Posed:
        g = params.get
        pitch, yaw, roll = g("headPitch", 0.0), g("headYaw", 0.0), g("headRoll", 0.0)
        rot: dict[int, F32] = {}
        self._turn(rot, "spine", euler_matrix(0.0, 0.0, g("torsoRoll", 0.0) * 0.5))
        breath = g("breath", 0.0)
        chest = "upperChest" if "upperChest" in self.m.humanoid else "chest"
        self._turn(rot, chest, euler_matrix(-BREATH_ANGLE * breath, 0.0, 0.0))
        has_neck = "neck" in self.m.humanoid
        share = NECK_SHARE if has_neck else 0.0
        self._turn(rot, "neck", euler_matrix(pitch * share, yaw * share, roll * share))
        rest = 1.0 - share
        self._turn(rot, "head", euler_matrix(pitch * rest, yaw * rest, roll * rest))
        # Arms and fingers (render_window.arms3d): local rotations, so the chest's turn
        # carries them along through the hierarchy.
        arms = self.arms.rotations(params) if self.arms else []
        if self.m.lookat_type == "bone":
            eye = euler_matrix(-g("gazeY", 0.0) * EYE_RANGE, g("gazeX", 0.0) * EYE_RANGE, 0.0)
            self._turn(rot, "leftEye", eye)
            self._turn(rot, "rightEye", eye)
        world = self.world_matrices(rot, arms)
        return Posed(world, *self.expressions(params))

    def expressions(self, params: Mapping[str, float]) -> tuple[dict[int, F32], BindState]:
        """Morph weights per mesh node and material binds for ``params``."""
        if self.perfect_sync:
            wanted = {EMOTIONS[k]: float(v) for k, v in params.items() if k in EMOTIONS}
        else:
            wanted = presets_from_params(params)
            if self.m.lookat_type == "bone":
                for k in ("lookUp", "lookDown", "lookLeft", "lookRight"):
                    wanted.pop(k, None)
        out = effective_weights(self.m.expressions, wanted)
        st = apply_binds(self.m.expressions, out, self.base_colors, self.base_tex)
        morph: dict[int, F32] = {}
        for node_i, nd in enumerate(self.m.nodes):
            if nd.mesh is None:
                continue
            mesh = self.m.meshes[nd.mesh]
            if not mesh.target_names:
                continue
            w = np.array(mesh.default_weights, np.float32)
            if self.perfect_sync:
                for i, name in enumerate(mesh.target_names):
                    if name in self.arkit:
                        w[i] = float(params.get(name, 0.0))
            morph[node_i] = w
        for (node, index), v in st.morph.items():
            if node in morph and index < morph[node].size:
                morph[node][index] += v
        for w in morph.values():
            np.clip(w, 0.0, 1.0, out=w)
        return morph, st


def _orthonormal(m: F32) -> F32:
    u, _, vt = np.linalg.svd(m.astype(np.float64))
    r: F32 = (u @ vt).astype(np.float32)
    return r


def _arm_nodes(poser: Poser) -> set[int]:
    """Every node at or below a shoulder or upper arm: drawn where the arms are, which is not
    where they rest (a T-pose), so the camera does not frame them."""
    hum = poser.m.humanoid
    stack = [hum[b] for b in ("leftShoulder", "rightShoulder", "leftUpperArm", "rightUpperArm")
             if b in hum]  # fmt: skip
    out: set[int] = set()
    while stack:
        k = stack.pop()
        if k not in out:
            out.add(k)
            stack.extend(poser.m.nodes[k].children)
    return out


def frame_camera(poser: Poser, aspect: float) -> tuple[F32, F32]:
    """(view, projection) matrices that fit the model: head and shoulders for a skinned
    humanoid taller than a bust (a full-body VRM), else the whole model's bounding box."""
    pts: list[F32] = []
    arms = _arm_nodes(poser)
    for k, nd in enumerate(poser.m.nodes):
        if nd.mesh is None or k in arms:
            continue
        w = poser.rest_world[k]
        skin = poser.m.skins[nd.skin] if nd.skin is not None else None
        for prim in poser.m.meshes[nd.mesh].primitives:
            if skin is not None and prim.joints is not None and arms:
                used = {skin.joints[j] for j in np.unique(prim.joints) if j < len(skin.joints)}
                if used <= arms:
                    continue  # an arm in its T-pose rest would widen the frame for nothing
            lo, hi = prim.positions.min(axis=0), prim.positions.max(axis=0)
            corners = np.array(
                [
                    [x, y, z, 1.0]
                    for x in (lo[0], hi[0])
                    for y in (lo[1], hi[1])
                    for z in (lo[2], hi[2])
                ],
                np.float32,
            )
            skinned = nd.skin is not None
            pts.append(corners[:, :3] if skinned else (corners @ w.T)[:, :3])
    if not pts:
        lo = np.array([-0.5, -0.5, -0.5], np.float32)
        hi = -lo
    else:
        allp = np.concatenate(pts)
        lo, hi = allp.min(axis=0), allp.max(axis=0)
    center = (lo + hi) / 2
    half_h = max(float(hi[1] - lo[1]) / 2, float(hi[0] - lo[0]) / 2 / max(aspect, 1e-3)) * 1.08
    head = poser.m.humanoid.get("head")
    if head is not None and poser.m.skins and float(hi[1] - lo[1]) > 0.8:
        hp = poser.rest_world[head][:3, 3]
        center = np.array([hp[0], hp[1] - 0.02, hp[2]], np.float32)
        half_h = 0.3
    half_h = max(half_h, 1e-3)
    dist = half_h / math.tan(math.radians(FOV_DEG) / 2) + float(hi[2] - lo[2]) / 2
    eye = center + np.array([0.0, 0.0, dist], np.float32)
    view = np.eye(4, dtype=np.float32)
    view[:3, 3] = -eye
    near, far = max(dist * 0.05, 1e-3), dist * 4 + float(hi[2] - lo[2])
    f = 1.0 / math.tan(math.radians(FOV_DEG) / 2)
    proj = np.zeros((4, 4), np.float32)
    proj[0, 0] = f / max(aspect, 1e-3)
    proj[1, 1] = f
    proj[2, 2] = (far + near) / (near - far)
    proj[2, 3] = 2 * far * near / (near - far)
    proj[3, 2] = -1.0
    return view, proj
