"""Packs as bytes: a deterministic zip to send to a peer, and a safe install of one received.

The peer sends ``pack_bytes(pack)`` over ``ctl`` with the content hash announced in its hello;
the receiver calls ``install_pack_bytes`` which unpacks only after every safety check and only
keeps the pack when its hash equals the announced one, so a relay or peer cannot slip in other
content under a known avatar id.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Collection
from pathlib import Path

from avatars.cache import evict, make_room, touch
from avatars.errors import PackIntegrityError, PackValidationError
from avatars.model import AvatarPack
from avatars.source import PackSource, content_hash, read_dir, read_zip_bytes
from avatars.validate import check_source

log = logging.getLogger(__name__)

#: Fixed zip timestamp (the zip epoch) so the same pack always zips to the same bytes.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def zip_source(files: dict[str, bytes]) -> bytes:
    """Deterministic zip: sorted names, fixed times and permissions, stored PNGs."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for rel in sorted(files):
            info = zipfile.ZipInfo(rel, date_time=ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            # PNGs are already deflated; compressing them again only costs time.
            info.compress_type = (
                zipfile.ZIP_STORED if rel.endswith(".png") else zipfile.ZIP_DEFLATED
            )
            zf.writestr(info, files[rel])
    return buf.getvalue()


def pack_bytes(pack: AvatarPack) -> bytes:
    """The pack's files as a deterministic zip (same pack -> same bytes, same content hash)."""
    src = read_dir(pack.root)
    if src.problems:
        raise PackIntegrityError(f"{pack.root}: " + "; ".join(src.problems))
    got = content_hash(src.files.items())
    if got != pack.content_hash:
        raise PackIntegrityError(
            f"{pack.root}: files changed since the pack was loaded (hash {got[:12]}, "
            f"expected {pack.content_hash[:12]})"
        )
    return zip_source(src.files)


def write_source(src: PackSource, dest: Path) -> None:
    """Write the files to ``dest`` atomically (temp dir + rename); ``dest`` must not exist."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=dest.parent))
    try:
        for rel, blob in src.files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob)
        os.replace(tmp, dest)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not dest.is_dir():
            raise


def _intact(dest: Path, digest: str) -> bool:
    try:
        existing = read_dir(dest)
    except OSError:  # evicted while we read it: install it again
        return False
    return not existing.problems and content_hash(existing.files.items()) == digest


def materialize(src: PackSource, cache_dir: Path, *, keep: Collection[str] = ()) -> Path:
    """Unpack a checked source into ``cache_dir/<content hash>``, reusing an intact copy.

    The cache is bounded (:mod:`avatars.cache`): a reused copy is marked used, and a new one
    first evicts the least recently used packs beyond the caps, never this one or ``keep``.
    """
    digest = content_hash(src.files.items())
    dest = cache_dir / digest
    if dest.is_dir():
        if _intact(dest, digest):
            touch(dest)
            return dest
        log.warning("cached pack %s is damaged; replacing it", dest)
        evict(dest)
    make_room(cache_dir, src.total_bytes(), keep={digest, *keep})
    write_source(src, dest)
    touch(dest)
    return dest


def install_pack_bytes(
    data: bytes, cache_dir: Path, expected_hash: str, *, keep: Collection[str] = ()
) -> Path:
    """Check and unpack a received pack zip; returns the installed pack directory.

    Raises :class:`PackIntegrityError` for an unsafe zip (size cap, path escapes, symlinks) or a
    content hash other than ``expected_hash``, and :class:`PackValidationError` when the
    (hash-correct) pack breaks FORMAT.md. Nothing is written unless every check passes. ``keep``:
    hashes the cache must not evict to make room (the pack the call is drawing).
    """
    src = read_zip_bytes(data, where="received pack")
    digest = content_hash(src.files.items())
    if digest != expected_hash.lower():
        raise PackIntegrityError(
            f"received pack hash {digest[:16]}... does not match the announced "
            f"{expected_hash[:16]}..."
        )
    problems, _ = check_source(src, Path(cache_dir) / digest)
    if problems:
        raise PackValidationError("received pack", problems)
    return materialize(src, Path(cache_dir), keep=keep)
