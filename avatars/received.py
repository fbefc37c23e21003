"""Where packs received from a peer live: a folder that dies with the call.

A received pack is the other person's avatar: their data, not ours. The README promises that
all state dies with the call, so by default the networking process unpacks received packs into
a folder of its own (``<cache>/calls/call-<random>``), created on the first pack and deleted
when the process ends (:meth:`CallPackDir.close`). A process killed before it could clean up
(SIGKILL, power loss) leaves its folder behind; the next networking process deletes it
(:func:`sweep_abandoned`). A folder's owner holds an exclusive ``flock`` on its ``.lock`` file
for its whole life, so a folder whose lock can be taken belongs to a dead process (pids can be
reused; locks die with their process).

A user who wants a friend's avatar to appear at once in the next call can keep received packs
in the bounded, least-recently-used pack cache instead (:data:`KEEP_ENV` = 1).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

from avatars.cache import is_digest

log = logging.getLogger(__name__)

#: ``AVATARCHAT_KEEP_RECEIVED_AVATARS=1``: keep the peer's packs in the pack cache after the call.
KEEP_ENV = "AVATARCHAT_KEEP_RECEIVED_AVATARS"
#: Per-call folders live here, under the pack cache (so ``$AVATARCHAT_PACK_CACHE`` moves them too).
CALLS_DIR = "calls"
LOCK_NAME = ".lock"
#: A folder still being set up (``.new-*``, before its lock is taken) is this old at most.
STALE_NEW_S = 60.0


def keep_received() -> bool:
    """Whether the user asked to keep received packs after the call (:data:`KEEP_ENV`)."""
    return os.environ.get(KEEP_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def calls_root(cache: Path) -> Path:
    return cache / CALLS_DIR


def _remove(path: Path) -> None:
    """Rename out of the way (one step, so no reader sees half a folder), then delete."""
    hidden = path.with_name(f".gone-{uuid.uuid4().hex[:12]}")
    try:
        os.rename(path, hidden)
    except OSError:
        return
    shutil.rmtree(hidden, ignore_errors=True)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class CallPackDir:
    """This call's folder of received packs: made on first use, deleted by :meth:`close`.

    Thread-safe: the first install (in a worker thread) creates it while the event loop may look
    packs up in it.
    """

    def __init__(self, cache: Path) -> None:
        self.root = calls_root(cache)
        self._path: Path | None = None
        self._lock_fd: int | None = None
        self._mutex = threading.Lock()

    @property
    def path(self) -> Path | None:
        """The folder, or None while no pack has been received."""
        return self._path

    def ensure(self) -> Path:
        """The folder, created (and locked) now if it does not exist yet."""
        with self._mutex:
            if self._path is not None:
                return self._path
            self.root.mkdir(parents=True, exist_ok=True)
            new = Path(tempfile.mkdtemp(prefix=".new-", dir=self.root))
            fd = os.open(new / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            if not _try_lock(fd):  # a fresh file nobody else knows: cannot happen
                os.close(fd)
                raise OSError(f"cannot lock {new / LOCK_NAME}")
            final = self.root / f"call-{new.name.removeprefix('.new-')}"
            os.rename(new, final)  # visible to sweepers only once locked
            self._path, self._lock_fd = final, fd
            log.debug("received packs go to %s for this call", final)
            return final

    def lookup(self, digest: str) -> Path | None:
        """The installed pack with this content hash, if this call received it."""
        base = self._path
        if base is None or not is_digest(digest):
            return None
        candidate = base / digest
        return candidate if candidate.is_dir() else None

    def close(self) -> None:
        """Delete the folder and every pack in it (the call is over)."""
        with self._mutex:
            path, fd = self._path, self._lock_fd
            self._path = self._lock_fd = None
        if path is not None:
            _remove(path)
            log.debug("removed this call's received packs (%s)", path)
        if fd is not None:
            os.close(fd)  # after the delete: no sweeper can take the folder before


def sweep_abandoned(cache: Path, *, now: float | None = None) -> int:
    """Delete per-call folders whose process is gone; returns how many were deleted."""
    root = calls_root(cache)
    now = time.time() if now is None else now
    try:
        children = list(root.iterdir())
    except OSError:
        return 0
    removed = 0
    for child in children:
        if child.name.startswith(".gone-"):
            shutil.rmtree(child, ignore_errors=True)
        elif child.name.startswith(".new-"):
            try:
                stale = now - child.lstat().st_mtime > STALE_NEW_S
            except OSError:
                continue
            if stale:
                _remove(child)
        elif child.name.startswith("call-") and _abandoned(child):
            _remove(child)
            removed += 1
    if removed:
        log.info("removed %d received-pack folder(s) left by ended calls", removed)
    return removed


def _abandoned(folder: Path) -> bool:
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return True  # no lock: not a live call's (a live one locks before it is named call-*)
    except OSError:
        return False
    try:
        return _try_lock(fd)  # taken: its owner is dead (released when we close it)
    finally:
        os.close(fd)
