"""3D avatars by reference: built-in ids (``avatars/builtin3d/<id>.vrm``) and ``.vrm``/``.glb``
paths, beside the 2D packs of :mod:`avatars.pack`.

:func:`load_avatar` is what the render window calls for any ``--avatar``: a 3D reference gives
a :class:`~avatars.model3d.Model` (the 3D renderer draws it), anything else a 2D pack.
"""

from __future__ import annotations

from pathlib import Path

from avatars.gltf import is_model_ref, load_model
from avatars.model3d import Model
from avatars.pack import AvatarPack, load_pack


def builtin3d_dir() -> Path:
    return Path(__file__).resolve().parent / "builtin3d"


def builtin3d_ids() -> list[str]:
    root = builtin3d_dir()
    return sorted(p.stem for p in root.glob("*.vrm")) if root.is_dir() else []


def is_3d_ref(ref: str | Path) -> bool:
    """Whether ``ref`` names a 3D avatar (built-in 3D id or a .vrm/.glb path)."""
    return is_model_ref(ref) or (isinstance(ref, str) and ref in builtin3d_ids())


def load_avatar(ref: str | Path, variant: str | None = None) -> AvatarPack | Model:
    """A 3D model or a 2D pack for ``ref``; raises :class:`~avatars.errors.PackError`."""
    if isinstance(ref, str) and ref in builtin3d_ids():
        return load_model(builtin3d_dir() / f"{ref}.vrm", ref)
    if is_model_ref(ref):
        return load_model(Path(ref).expanduser())
    return load_pack(ref, variant=variant)
