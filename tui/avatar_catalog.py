"""What the avatar picker shows: built-in packs, their variants and a preview image.

Loading packs and decoding PNGs is disk and CPU work, so the screens call these functions from
thread workers, never on the event loop. A pack that fails to load is listed with its error
instead of breaking the picker: one bad pack must not hide the others.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from PIL import Image

from i18n import _

log = logging.getLogger(__name__)

#: The id the supervisor uses when none is given; also our fallback when no pack loads.
FALLBACK_AVATAR = "aria"


@dataclass(slots=True)
class AvatarChoice:
    """One entry of the picker."""

    id: str
    name: str
    variants: list[tuple[str, str]] = field(default_factory=list)  # (id, display name)
    default_variant: str = ""
    error: str = ""
    #: A glTF/VRM model, drawn by the window's 3D renderer (2D fallback if it cannot).
    three_d: bool = False

    @property
    def label(self) -> str:
        """What the list shows: the name, the id when it differs, and "3D" for models."""
        text = self.name if self.name == self.id else f"{self.name} ({self.id})"
        return _("{name} · 3D").format(name=text) if self.three_d else text


def builtin_choices() -> list[AvatarChoice]:
    """Every built-in pack (id, name, variants); errors are reported per pack. Loaded once
    per process (packs are validated on load: tens of ms each), copies handed out."""
    return [replace(c, variants=list(c.variants)) for c in _builtin_choices()]


@functools.cache
def _builtin_choices() -> tuple[AvatarChoice, ...]:
    return tuple(_load_builtin_choices())


def _load_builtin_choices() -> list[AvatarChoice]:
    try:
        from avatars.pack import builtin_ids, load_pack
    except ImportError as e:  # the avatars package is missing or broken
        log.warning("avatar packs unavailable: %s", e)
        return [AvatarChoice(FALLBACK_AVATAR, FALLBACK_AVATAR, error=str(e))]
    choices: list[AvatarChoice] = []
    for pack_id in builtin_ids():
        try:
            pack = load_pack(pack_id)
        except Exception as e:  # any pack error: show it, keep the rest
            log.warning("cannot load avatar %s: %s", pack_id, e)
            choices.append(AvatarChoice(pack_id, pack_id, error=str(e)))
            continue
        variants = [(v.id, v.name or v.id) for v in pack.variants.values()]
        choices.append(AvatarChoice(pack.id, pack.name, variants, pack.default_variant))
    choices += _builtin3d_choices()
    return choices or [AvatarChoice(FALLBACK_AVATAR, FALLBACK_AVATAR, error="no built-in packs")]


def _builtin3d_choices() -> list[AvatarChoice]:
    """The built-in 3D avatars (``avatars/builtin3d/*.vrm``), after the 2D ones. Not parsed
    here (the window checks and, if it must, falls back to 2D with the reason)."""
    try:
        from avatars.avatar3d import builtin3d_ids
    except ImportError as e:  # numpy/pygltflib missing: the 2D avatars still work
        log.warning("3D avatars unavailable: %s", e)
        return []
    return [AvatarChoice(i, i, three_d=True) for i in builtin3d_ids()]


def own_choice(ref: str) -> AvatarChoice:
    """A path the user gave before (command line, settings), listed unchecked by its name."""
    from avatars.gltf import is_model_ref

    path = Path(ref).expanduser()
    name = path.stem if is_model_ref(path) else path.name
    return AvatarChoice(ref, name or ref, three_d=is_model_ref(path))


def check_avatar_file(text: str) -> tuple[AvatarChoice | None, str]:
    """A user's own avatar: a .vrm/.glb model, a pack folder or a pack .zip, checked in full.

    Returns (the choice, "") or (None, why not). Parsing a model or validating a pack reads
    the whole file: call it from a thread worker.
    """
    from avatars.gltf import is_model_ref, load_model
    from avatars.pack import validate_pack

    raw = text.strip()
    if not raw:
        return None, _("Type the path of a .vrm/.glb file, a pack folder or a .zip.")
    path = Path(raw).expanduser().resolve()
    if not path.exists():
        return None, _("No such file or folder: {path}").format(path=path)
    if is_model_ref(path):
        try:
            model = load_model(path)
        except Exception as e:  # ModelError (or anything else): the reason, never a crash
            return None, _("Not a usable 3D avatar: {error}").format(error=e)
        return AvatarChoice(str(path), model.name or path.stem, three_d=True), ""
    if not (path.is_dir() or path.suffix.lower() == ".zip"):
        return None, _("Not an avatar: expected a .vrm/.glb file, a pack folder or a .zip.")
    problems = validate_pack(path)
    if problems:
        return None, _("Not a valid avatar pack: {error}").format(error=problems[0])
    try:
        from avatars.pack import load_pack

        pack = load_pack(path)
    except Exception as e:
        return None, _("Not a valid avatar pack: {error}").format(error=e)
    variants = [(v.id, v.name or v.id) for v in pack.variants.values()]
    return AvatarChoice(str(path), pack.name or pack.id, variants, pack.default_variant), ""


def preview_image(ref: str, variant: str | None = None) -> Image.Image | None:
    """The pack's preview (a composite of its layers at rest when it ships none); for a 3D
    built-in the PNG committed beside it (``python -m render_window --screenshot``), for a
    user's model none (drawing one needs the window's GL)."""
    three_d = _preview_3d(ref)
    if three_d is not None:
        return three_d or None
    try:
        from avatars.pack import load_pack

        pack = load_pack(ref, variant=variant or None)
    except Exception as e:
        log.warning("no preview for %s/%s: %s", ref, variant, e)
        return None
    if variant:
        pack = pack.with_variant(variant)
    preview: Path | None = pack.preview
    if preview is not None:
        try:
            with Image.open(preview) as img:
                return img.convert("RGBA")
        except OSError as e:
            log.warning("bad preview image %s: %s", preview, e)
    return _composite(pack, variant)


def _preview_3d(ref: str) -> Image.Image | Literal[False] | None:
    """None: not a 3D ref; False: a 3D ref without a preview; else the preview image."""
    try:
        from avatars.avatar3d import builtin3d_dir, builtin3d_ids, is_3d_ref
    except ImportError:
        return None
    if not is_3d_ref(ref):
        return None
    if ref not in builtin3d_ids():
        return False
    png = builtin3d_dir() / f"{ref}.png"
    if not png.is_file():
        return False
    try:
        with Image.open(png) as img:
            return img.convert("RGBA")
    except OSError as e:
        log.warning("bad preview image %s: %s", png, e)
        return False


def _composite(pack: object, variant: str | None) -> Image.Image | None:
    """Layers pasted at their rest positions in draw order: a good-enough thumbnail."""
    try:
        width, height = pack.canvas  # type: ignore[attr-defined]
        canvas = Image.new("RGBA", (int(width), int(height)), (0, 0, 0, 0))
        for layer in sorted(pack.layers, key=lambda item: item.z):  # type: ignore[attr-defined]
            path = pack.layer_image(layer.id, variant)  # type: ignore[attr-defined]
            with Image.open(path) as img:
                tile = img.convert("RGBA")
            tint = pack.layer_tint(layer.id, variant)  # type: ignore[attr-defined]
            if tuple(tint) != (1.0, 1.0, 1.0, 1.0):
                bands = [
                    b.point(lambda v, k=k: int(v * k))
                    for b, k in zip(tile.split(), tint, strict=True)
                ]
                tile = Image.merge("RGBA", bands)
            x, y = (int(v) for v in layer.position)
            canvas.alpha_composite(tile, (max(0, x), max(0, y)))
        return canvas
    except Exception as e:
        log.warning("cannot composite a preview for %s: %s", getattr(pack, "id", "?"), e)
        return None
