"""Avatar packs: the format (FORMAT.md), loader, validator, transfer and the built-in art."""

from avatars.errors import (
    PackError,
    PackIntegrityError,
    PackNotFoundError,
    PackValidationError,
    UnknownVariantError,
)
from avatars.pack import (
    AvatarPack,
    Binding,
    Layer,
    Variant,
    binding_value,
    builtin_dir,
    builtin_ids,
    find_pack,
    install_pack_bytes,
    load_pack,
    pack_bytes,
    select_sprite,
    validate_pack,
)

__all__ = [
    "AvatarPack",
    "Binding",
    "Layer",
    "PackError",
    "PackIntegrityError",
    "PackNotFoundError",
    "PackValidationError",
    "UnknownVariantError",
    "Variant",
    "binding_value",
    "builtin_dir",
    "builtin_ids",
    "find_pack",
    "install_pack_bytes",
    "load_pack",
    "pack_bytes",
    "select_sprite",
    "validate_pack",
]
