"""The 3D model data a glTF/VRM file loads into (avatars.gltf fills it, the renderer draws it).

Plain numpy arrays and dataclasses, no GL and no parsing, so the pack validator, the P2P
transfer and the render window share one picture of a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from avatars.errors import PackError
from avatars.vrm import ARKIT_NAMES, Expression

F32 = NDArray[np.float32]


class ModelError(PackError):
    """A glTF/VRM file cannot be used: malformed, hostile or unsupported (the message says
    which part and why)."""


@dataclass
class Primitive:
    """One triangle list: per-vertex arrays and morph target deltas."""

    positions: F32
    normals: F32
    uv: F32
    indices: NDArray[np.uint32]
    material: int | None
    joints: NDArray[np.uint16] | None = None
    weights: F32 | None = None
    #: Per morph target: (position deltas, normal deltas), each (N, 3).
    targets: list[tuple[F32, F32]] = field(default_factory=list)


@dataclass
class Mesh:
    name: str
    primitives: list[Primitive]
    target_names: list[str]
    default_weights: list[float]


@dataclass
class Node:
    name: str
    children: list[int]
    translation: F32
    rotation: F32  # quaternion x, y, z, w
    scale: F32
    matrix: F32 | None  # a fixed local matrix (then TRS is not animated)
    mesh: int | None = None
    skin: int | None = None


@dataclass
class Skin:
    joints: list[int]
    inverse_bind: F32  # (J, 4, 4)


@dataclass
class Material:
    """The parts of glTF PBR and MToon the toon shader uses."""

    name: str
    base_color: F32
    texture: int | None  # index into Model.images
    tex_offset: F32
    tex_scale: F32
    tex_rotation: float
    alpha_mode: str
    alpha_cutoff: float
    double_sided: bool
    shade_color: F32
    #: MToon shade = shade colour x this material's texture (shadeMultiplyTexture, assumed to
    #: be the base colour texture, as VRoid and UniVRM export it); plain glTF: 0.6 x base.
    shade_textured: bool = False
    shading_shift: float = -0.05
    shading_toony: float = 0.9
    rim_color: F32 = field(default_factory=lambda: np.zeros(3, np.float32))
    emission: F32 = field(default_factory=lambda: np.zeros(3, np.float32))
    outline_width: float = 0.0  # model units (world)
    outline_color: F32 = field(default_factory=lambda: np.zeros(3, np.float32))
    #: MToon UV animation: scroll (uv/s) and rotation (turns... radians/s) speeds.
    uv_scroll: tuple[float, float] = (0.0, 0.0)
    uv_rotation_speed: float = 0.0


@dataclass
class Model:
    """A loaded glTF/VRM: everything the renderer and the expression rules need."""

    id: str
    nodes: list[Node]
    roots: list[int]
    meshes: list[Mesh]
    skins: list[Skin]
    materials: list[Material]
    images: list[NDArray[np.uint8]]  # RGBA (H, W, 4), row 0 = top
    #: "1.0", "0.x" or "" for plain glTF.
    vrm_version: str
    humanoid: dict[str, int]  # VRM bone name -> node index
    expressions: dict[str, Expression]
    lookat_type: str = "bone"
    size_bytes: int = 0
    #: For :class:`Renderer` plug-ins: a 3D model has no 2D variants.
    default_variant: str | None = None
    #: Display name (VRM meta name/title, else the id).
    name: str = ""

    @property
    def perfect_sync(self) -> bool:
        """Whether some mesh carries the ARKit-named morph targets (driven directly)."""
        return any(len(set(m.target_names) & set(ARKIT_NAMES)) >= 40 for m in self.meshes)
