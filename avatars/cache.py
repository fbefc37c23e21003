"""The pack cache on disk: one folder per content hash, bounded in bytes and packs, LRU.

Zips the user loads (``load_pack("x.zip")``) and, only when the user asks for it, packs received
from a peer are unpacked here (:func:`avatars.transfer.materialize`). Nothing used to remove them:
a peer sending a new pack every few seconds grew the cache by gigabytes an hour. Now the cache
holds at most :data:`MAX_CACHE_PACKS` packs and :data:`MAX_CACHE_BYTES`; installing one more
first evicts the least recently used (a folder's mtime is its last use: :func:`touch` on every
lookup and reuse). The pack being installed and the packs named in ``keep`` are never evicted.

Eviction is safe against a concurrent reader (another process of the call, another call): the
folder is renamed out of the way in one step (:func:`evict`), so a lookup either finds the whole
pack or nothing, then deleted; files a reader already opened stay readable until it closes them.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: Room for eight packs at the 8 MiB format limit, or dozens of typical ones (a few hundred
#: KiB each): a user's own zips plus the peers' packs they chose to keep, while the worst case
#: stays a small, fixed slice of the disk whatever a peer sends.
MAX_CACHE_BYTES = 64 * 1024 * 1024
#: Past a handful of avatars a user switches between, an old pack is cheaper to receive or
#: unzip again than to keep; this also bounds the folders a lookup or an eviction lists.
MAX_CACHE_PACKS = 16
#: A half-written install (``.incoming-*``) older than this was left by a crash: removed.
STALE_INCOMING_S = 600.0

_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
#: Evicted folders are renamed to this prefix first; a hidden name is never a pack.
_EVICTED_PREFIX = ".evicted-"


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cached pack: its content hash, folder, bytes on disk and last use (ns since epoch)."""

    digest: str
    path: Path
    size: int
    used_ns: int


def is_digest(name: str) -> bool:
    """A cache folder name: a lowercase hex SHA-256 (anything else is never built or evicted)."""
    return bool(_DIGEST_RE.match(name))


def touch(path: Path) -> None:
    """Mark a cached pack as used now (it moves to the back of the eviction order)."""
    try:
        os.utime(path)
    except OSError as exc:  # gone (evicted) or read-only cache: only the LRU order suffers
        log.debug("cannot touch %s: %s", path, exc)


def _tree_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


def entries(cache: Path) -> list[CacheEntry]:
    """Every cached pack, least recently used first."""
    out: list[CacheEntry] = []
    try:
        children = list(cache.iterdir())
    except OSError:
        return out
    for child in children:
        if not is_digest(child.name):
            continue
        try:
            st = child.lstat()
        except OSError:
            continue  # evicted meanwhile
        if not child.is_dir() or child.is_symlink():
            continue
        out.append(CacheEntry(child.name, child, _tree_size(child), st.st_mtime_ns))
    out.sort(key=lambda e: (e.used_ns, e.digest))
    return out


def evict(path: Path) -> bool:
    """Remove one cached pack: rename it out of the way (atomic), then delete it."""
    hidden = path.with_name(f"{_EVICTED_PREFIX}{path.name[:16]}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, hidden)
    except OSError as exc:  # already gone: another process evicted or replaced it
        log.debug("not evicting %s: %s", path, exc)
        return False
    shutil.rmtree(hidden, ignore_errors=True)
    return True


def sweep_leftovers(cache: Path, *, now: float | None = None) -> None:
    """Delete what a crash left behind: renamed-out evictions and stale half-installs."""
    now = time.time() if now is None else now
    try:
        children = list(cache.iterdir())
    except OSError:
        return
    for child in children:
        if child.name.startswith(_EVICTED_PREFIX):
            shutil.rmtree(child, ignore_errors=True)
        elif child.name.startswith(".incoming-"):
            try:
                age = now - child.lstat().st_mtime
            except OSError:
                continue
            if age > STALE_INCOMING_S:
                shutil.rmtree(child, ignore_errors=True)


def make_room(
    cache: Path,
    incoming_bytes: int,
    *,
    keep: Collection[str] = (),
    max_bytes: int | None = None,
    max_packs: int | None = None,
) -> list[str]:
    """Evict least recently used packs until one more of ``incoming_bytes`` fits the caps.

    ``keep`` holds the hashes never to evict (the pack being installed, the one this call is
    drawing); the caps default to the module's constants, read at each call. Returns the evicted
    hashes, oldest first. If the kept packs alone break a cap the install still goes ahead: the
    caps bound what others add, not what is in use.
    """
    max_bytes = MAX_CACHE_BYTES if max_bytes is None else max_bytes
    max_packs = MAX_CACHE_PACKS if max_packs is None else max_packs
    sweep_leftovers(cache)
    current = entries(cache)
    total = sum(e.size for e in current)
    count = len(current)
    evicted: list[str] = []
    for entry in current:
        if total + incoming_bytes <= max_bytes and count + 1 <= max_packs:
            break
        if entry.digest in keep:
            continue
        if evict(entry.path):
            evicted.append(entry.digest)
        total -= entry.size
        count -= 1
    if evicted:
        log.info(
            "pack cache: evicted %d least recently used pack(s) (%s)",
            len(evicted),
            ", ".join(d[:12] for d in evicted),
        )
    return evicted
