"""The avatar pack loader: the one entry point renderers, the TUI and the peer code use.

``load_pack("fox")`` loads a built-in; ``load_pack(path)`` a pack directory or ``.zip`` (unpacked
into the user cache, keyed by content hash, so renderers always get real image files).
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import platformdirs

from avatars.cache import touch
from avatars.errors import PackError, PackNotFoundError, PackValidationError
from avatars.model import AvatarPack, Binding, Layer, Variant, binding_value, select_sprite
from avatars.source import read_source
from avatars.transfer import install_pack_bytes, materialize, pack_bytes
from avatars.validate import PACK_ID_RE, check_source

log = logging.getLogger(__name__)

__all__ = [
    "AvatarPack",
    "Binding",
    "Layer",
    "PackError",
    "Variant",
    "binding_value",
    "builtin_dir",
    "builtin_hash",
    "builtin_ids",
    "cache_dir",
    "find_pack",
    "find_pack_ref",
    "install_pack_bytes",
    "load_pack",
    "pack_bytes",
    "select_sprite",
    "validate_pack",
]

#: Overrides where zips and received packs are unpacked (tests, sandboxes).
CACHE_ENV = "AVATARCHAT_PACK_CACHE"


def builtin_dir() -> Path:
    """The folder of built-in packs shipped with the package (``avatars/builtin``)."""
    return Path(__file__).resolve().parent / "builtin"


def builtin_ids() -> list[str]:
    root = builtin_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "avatar.toml").is_file())


def cache_dir() -> Path:
    """Where pack zips are unpacked, one folder per hash; bounded, LRU (:mod:`avatars.cache`).

    Packs received from a peer go to a per-call folder instead (:mod:`avatars.received`), unless
    the user asked to keep them.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    return Path(platformdirs.user_cache_dir("avatarchat")) / "packs"


def resolve_ref(ref: str | Path) -> Path:
    """A built-in id (strings only) or a path; raises PackNotFoundError with both tried."""
    if isinstance(ref, str) and PACK_ID_RE.match(ref) and ref in builtin_ids():
        return builtin_dir() / ref
    path = Path(ref).expanduser()
    if path.exists():
        return path
    raise PackNotFoundError(
        f"no avatar {str(ref)!r}: not a built-in ({', '.join(builtin_ids()) or 'none'}) "
        "and no such pack directory or zip"
    )


def validate_pack(path: str | Path) -> list[str]:
    """Every problem of the pack at ``path`` (dir or zip), one line each; empty = valid."""
    try:
        p = resolve_ref(path)
        if not p.is_dir() and not p.is_file():
            return [f"{p}: not a directory or file"]
        problems, _ = check_source(read_source(p), p)
    except PackError as exc:
        return [str(exc)]
    except OSError as exc:
        return [f"{path}: cannot read ({exc.strerror or exc})"]
    return problems


def load_pack(ref: str | Path, *, variant: str | None = None) -> AvatarPack:
    """Load and validate a pack; ``variant`` selects the active variant (default: the pack's)."""
    path = resolve_ref(ref)
    try:
        source = read_source(path)
    except OSError as exc:
        raise PackNotFoundError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if path.is_dir():
        root = path
    else:
        problems, _ = check_source(source, path)
        if problems:
            raise PackValidationError(str(path), problems)
        root = materialize(source, cache_dir())
        source = read_source(root)
    problems, pack = check_source(source, root)
    if pack is None:
        raise PackValidationError(str(path), problems)
    log.debug("loaded avatar %s %s (%s) from %s", pack.id, pack.version, pack.short_hash, root)
    return pack.with_variant(variant or pack.default_variant)


@functools.lru_cache(maxsize=64)
def builtin_hash(avatar_id: str) -> str | None:
    """Content hash of the built-in ``avatar_id`` (None if there is none or it fails to load).

    Loading a pack takes tens of milliseconds, so this is cached (and the peer warms it in a
    thread at start-up, :func:`warm_builtin_hashes`) instead of stalling an event loop.
    """
    try:
        if avatar_id not in builtin_ids():
            return None
        return str(load_pack(avatar_id).content_hash)
    except Exception as e:  # PackError, OSError: treat as absent, never raise
        log.debug("built-in lookup for %s failed: %s", avatar_id, e)
        return None


def warm_builtin_hashes() -> None:
    """Fill :func:`builtin_hash`'s cache for every built-in (call it in a thread)."""
    try:
        for avatar_id in builtin_ids():
            builtin_hash(avatar_id)
    except Exception as e:
        log.debug("could not list built-in avatars: %s", e)


def find_pack_ref(content_hash: str, cache: Path | None = None) -> str | None:
    """A local ref (built-in id or cache folder) for the pack with this content hash, else None.

    Cheap (cached built-in hashes, one ``is_dir``), so the peer calls it on the event loop with
    the hash from the other side's hello to decide whether the pack must be transferred at all.
    A cache folder is not re-validated here; :func:`find_pack` does that.
    """
    digest = content_hash.lower()
    for avatar_id in builtin_ids():
        if builtin_hash(avatar_id) == digest:
            return avatar_id
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        return None  # never build a path from anything but a hex digest
    candidate = (cache or cache_dir()) / digest
    if not candidate.is_dir():
        return None
    touch(candidate)  # a use: the last pack the LRU cache evicts
    return str(candidate)


def find_pack(content_hash: str, cache: Path | None = None) -> AvatarPack | None:
    """A pack with this content hash that is already here (built-in or received), else None."""
    ref = find_pack_ref(content_hash, cache)
    if ref is None:
        return None
    try:
        pack = load_pack(ref)
    except PackError:
        log.warning("cached pack %s is damaged; ignoring it", ref)
        return None
    return pack if pack.content_hash == content_hash.lower() else None
