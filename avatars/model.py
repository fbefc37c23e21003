"""The loaded form of an avatar pack (FORMAT.md): what renderers and previews consume.

Paths are absolute (under ``AvatarPack.root``) so a renderer can open images directly; a pack
read from a zip is unpacked into the cache first (see :mod:`avatars.pack`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from avatars.errors import UnknownVariantError

#: Every binding target FORMAT.md defines. Values of several bindings on one target add up.
TARGETS: tuple[str, ...] = (
    "offset_x",
    "offset_y",
    "rotate",
    "scale",
    "scale_x",
    "scale_y",
    "opacity",
    "sprite",
    "warp_open",
    "warp_smile",
    "warp_squash",
)
TARGET_SET = frozenset(TARGETS)
WARP_TARGETS = frozenset({"warp_open", "warp_smile", "warp_squash"})

RGBA = tuple[float, float, float, float]


@dataclass(frozen=True)
class Binding:
    """One parameter driving one target of a layer; see :func:`binding_value`."""

    param: str
    target: str
    gain: float = 1.0
    offset: float = 0.0
    min: float | None = None
    max: float | None = None
    #: sprite target only: (threshold, image) ascending by threshold.
    sprites: list[tuple[float, Path]] = field(default_factory=list)


@dataclass(frozen=True)
class Bone:
    """A layer that follows one tracked arm segment (FORMAT.md, "Bones").

    Its image is drawn hanging straight down from its pivot (the joint); the renderer turns it
    to the segment's on-screen direction (relative to the nearest ancestor bone, so a forearm
    points where the forearm points whatever the upper arm does) and shortens it along its
    length by ``foreshorten`` times what pointing at the camera would hide.
    """

    driver: str
    foreshorten: float = 1.0


@dataclass(frozen=True)
class Layer:
    id: str
    image: Path
    parent: str | None
    position: tuple[float, float]
    pivot: tuple[float, float]
    z: int
    mesh: tuple[int, int]
    bindings: list[Binding]
    #: image size in pixels (width, height); sprites and variant textures have the same size.
    size: tuple[int, int]
    bone: Bone | None = None


@dataclass(frozen=True)
class Variant:
    id: str
    name: str
    textures: dict[str, Path] = field(default_factory=dict)
    tint: dict[str, RGBA] = field(default_factory=dict)


#: The variant a pack without [[variants]] gets, so every pack has at least one.
DEFAULT_VARIANT_ID = "default"


@dataclass(frozen=True)
class AvatarPack:
    id: str
    name: str
    version: str
    content_hash: str
    root: Path
    canvas: tuple[int, int]
    layers: list[Layer]  # parents before children (topological, else manifest order)
    variants: dict[str, Variant]
    default_variant: str  # the active variant; with_variant() returns a copy with another
    preview: Path | None
    author: str = ""
    license: str = ""

    def layer(self, layer_id: str) -> Layer:
        for layer in self.layers:
            if layer.id == layer_id:
                return layer
        raise KeyError(layer_id)

    def variant(self, variant_id: str | None = None) -> Variant:
        vid = variant_id or self.default_variant
        try:
            return self.variants[vid]
        except KeyError:
            known = ", ".join(sorted(self.variants))
            raise UnknownVariantError(
                f"avatar {self.id!r} has no variant {vid!r} (variants: {known})"
            ) from None

    def with_variant(self, variant_id: str) -> AvatarPack:
        """The same pack with ``variant_id`` active (and its preview, if the pack has one)."""
        self.variant(variant_id)
        preview = self.preview
        candidate = self.root / f"preview-{variant_id}.png"
        if candidate.is_file():
            preview = candidate
        elif (self.root / "preview.png").is_file():
            preview = self.root / "preview.png"
        return replace(self, default_variant=variant_id, preview=preview)

    def layer_image(self, layer_id: str, variant: str | None = None) -> Path:
        """The image to draw for ``layer_id`` at rest: the variant's texture or the layer's."""
        return self.variant(variant).textures.get(layer_id, self.layer(layer_id).image)

    def layer_tint(self, layer_id: str, variant: str | None = None) -> RGBA:
        return self.variant(variant).tint.get(layer_id, (1.0, 1.0, 1.0, 1.0))

    @property
    def short_hash(self) -> str:
        return self.content_hash[:12]


def binding_value(binding: Binding, params: dict[str, float]) -> float:
    """The amount a binding contributes to its target: clamp the param, then (v + offset) * gain.

    A missing parameter counts as 0 (rest). Renderer and software compositor both use this so
    the two cannot drift apart.
    """
    v = float(params.get(binding.param, 0.0))
    if binding.min is not None and v < binding.min:
        v = binding.min
    if binding.max is not None and v > binding.max:
        v = binding.max
    return (v + binding.offset) * binding.gain


def select_sprite(binding: Binding, params: dict[str, float]) -> Path | None:
    """For a sprite binding: the image whose threshold ``binding_value`` reaches (highest wins).

    None means "below every threshold: draw the layer's own image".
    """
    value = binding_value(binding, params)
    for threshold, image in reversed(binding.sprites):
        if value >= threshold:
            return image
    return None
