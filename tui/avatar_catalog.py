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

from PIL import Image

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
    return choices or [AvatarChoice(FALLBACK_AVATAR, FALLBACK_AVATAR, error="no built-in packs")]


def preview_image(ref: str, variant: str | None = None) -> Image.Image | None:
    """The pack's preview (a composite of its layers at rest when it ships none)."""
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
