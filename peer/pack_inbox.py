"""Receiving the peer's avatar pack: ask for it, take its chunks, install it -- within limits.

When the peer's hello (or a later switch) names a pack whose content hash we have neither as a
built-in nor on disk, we ask for it; the peer sends the deterministic zip in
:data:`~protocol.ctl.AVATAR_CHUNK_BYTES` chunks; we refuse anything over
:data:`~protocol.ctl.MAX_AVATAR_PACK_BYTES`, and install only after the content hash matches and
the pack validates (:func:`avatars.pack.install_pack_bytes`). A 3D avatar is one .vrm/.glb file
(recognised by its first chunk's GLB magic) and may be up to
:data:`~protocol.ctl.MAX_AVATAR_MODEL_BYTES`: SHA-256 and a full parse before use
(:func:`avatars.model_transfer.install_model_bytes`). Until then the peer is drawn with a
built-in (``peer_avatar`` with ``pending: true``) and ``avatar_progress`` events say how much has
arrived, a few times a second.

What a peer can make us download is bounded per call (one networking process; reconnects do
not reset it): at most :data:`MAX_RECEIVED_PACKS_PER_CALL` distinct packs and
:data:`MAX_RECEIVED_BYTES_PER_CALL` bytes of chunks. A peer switching to a new pack every few
seconds used to put 47 MB on our disk in 50 s. Past a limit a request is not sent (or a transfer
is dropped), the peer is drawn with a built-in, the refusal is counted
(``avatar_transfers_refused`` in the ``stats`` event) and said once (log and ``error`` event);
the call goes on.

Received packs are the other person's data, so they live in a per-call folder deleted when this
process ends (:mod:`avatars.received`), unless the user asked to keep them (then the bounded
pack cache, :mod:`avatars.cache`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from avatars.cache import is_digest
from avatars.received import CallPackDir, keep_received, sweep_abandoned
from protocol import ctl
from protocol.events import AvatarProgress, Error, Event, PeerAvatar
from protocol.text import log_text

from .stats import CallStats

log = logging.getLogger(__name__)

#: A built-in every client has: what the peer is drawn with until its own pack arrives.
FALLBACK_AVATAR = "aria"
#: Distinct packs a peer may make us download in one call. A person switches avatars a few
#: times in a call at most (built-ins are never downloaded); six leaves room for that and for
#: a pack re-sent after a reconnect (same hash: not a new one), while a peer cycling through
#: made-up packs is stopped at the seventh.
MAX_RECEIVED_PACKS_PER_CALL = 6
#: Bytes of avatar chunks a peer may send us in one call: two VRMs at the 48 MiB cap (a switch
#: to a second own model, or one re-sent after a reconnect), or a dozen packs at the 8 MiB
#: format limit. Counted as chunks arrive, so transfers a peer starts and abandons (or that fail
#: to validate) use it up too; one transfer is held in memory at a time.
MAX_RECEIVED_BYTES_PER_CALL = 2 * ctl.MAX_AVATAR_MODEL_BYTES + 8 * 1024 * 1024
#: ``avatar_progress`` at most this often (seconds) while chunks arrive, plus once at the end.
PROGRESS_INTERVAL_S = 0.25


class _Incoming:
    def __init__(self, digest: str, avatar_id: str) -> None:
        self.digest = digest
        self.avatar_id = avatar_id
        self.chunks: list[bytes] = []
        self.size = 0
        self.total = 0
        #: Bytes this transfer may have: set by the first chunk (a model's or a pack's cap).
        self.cap = ctl.MAX_AVATAR_PACK_BYTES
        self.received = 0
        self.progress_at = -math.inf  # monotonic time of the last avatar_progress


class PackInbox:
    """The receiving half of pack transfer for one call (see the module docstring).

    ``send`` sends a ctl message on the current link, ``emit`` an event to the parent, ``start``
    runs an install as a task the networking process owns. ``cache_dir`` is the pack cache
    (built-ins and kept packs are found there; per-call folders live under it).
    """

    def __init__(
        self,
        *,
        send: Callable[[ctl.CtlMessage], bool],
        emit: Callable[[Event], None],
        stats: CallStats,
        start: Callable[[Coroutine[Any, Any, None]], None],
        cache_dir: Path,
        keep: bool | None = None,
    ) -> None:
        self._send = send
        self._emit = emit
        self.stats = stats
        self._start = start
        self.cache_dir = cache_dir
        #: Keep received packs in the pack cache after the call (the user's explicit choice).
        self.keep = keep_received() if keep is None else keep
        self.call_dir = CallPackDir(cache_dir)
        self._incoming: _Incoming | None = None
        #: Hashes asked for in this call, and chunk bytes received in it (the per-call budget).
        self.requested: set[str] = set()
        self.bytes_received = 0
        self._refusal_said = False
        #: A pack was refused for not fitting the byte budget: ask for none after it.
        self._bytes_spent = False
        #: The pack the peer announced last: the one we draw, never evicted from the cache.
        self._current = ""

    # -- lifecycle -------------------------------------------------------------------------
    def new_link(self) -> None:
        """A transfer on the old link is over; the peer's hello on the new one starts again."""
        self._incoming = None

    def sweep(self) -> None:
        """Delete received-pack folders of calls that ended without cleaning up (run in a
        thread at start-up: a killed networking process cannot remove its own)."""
        try:
            sweep_abandoned(self.cache_dir)
        except OSError as e:
            log.warning("could not sweep old received packs: %s", e)

    def close(self) -> None:
        """The call is over: this call's received packs are deleted."""
        self._incoming = None
        try:
            self.call_dir.close()
        except OSError as e:
            log.warning("could not remove this call's received packs: %s", e)

    # -- the peer's avatar -----------------------------------------------------------------
    def lookup(self, digest: str) -> str | None:
        """A local ref for this pack (built-in, the pack cache, this call's folder), else None."""
        from avatars.model_transfer import find_model_ref
        from avatars.pack import find_pack_ref

        known = find_pack_ref(digest, self.cache_dir)
        if known is None:  # a 3D avatar: built-in, kept, or received in this call
            known = find_model_ref(digest, self.cache_dir, self.call_dir.path)
        if known is None and (path := self.call_dir.lookup(digest)) is not None:
            known = str(path)
        return known

    def peer_avatar(self, avatar_id: str, digest: str) -> None:
        """The peer announced (hello or switch) ``avatar_id`` with content hash ``digest``."""
        digest = digest.lower()
        self._current = digest
        known = self.lookup(digest) if digest else None
        if known is not None:
            self._emit(PeerAvatar(ref=known, avatar_id=avatar_id, pending=False))
            return
        fallback = avatar_id if _is_builtin(avatar_id) else FALLBACK_AVATAR
        if not is_digest(digest):
            self._emit(PeerAvatar(ref=fallback, avatar_id=avatar_id, pending=bool(digest)))
            return
        why = self._over_budget(digest)
        if why:
            self._incoming = None
            self._refuse(why, avatar_id)
            self._emit(PeerAvatar(ref=fallback, avatar_id=avatar_id, pending=False))
            return
        self._emit(PeerAvatar(ref=fallback, avatar_id=avatar_id, pending=True))
        self.requested.add(digest)
        self._incoming = _Incoming(digest, avatar_id)
        self._send(ctl.AvatarRequest(hash=digest))

    def expecting(self) -> bool:
        """Whether a transfer we asked for is under way."""
        return self._incoming is not None

    def expects(self, digest: str) -> bool:
        """Whether a chunk of ``digest`` is one we asked for (the ctl flood guard lets these
        through: their count and bytes are bounded by the transfer's cap and the call's budget)."""
        return self._incoming is not None and self._incoming.digest == digest

    def unavailable(self, digest: str) -> None:
        """The peer cannot send the pack we asked for."""
        if self._incoming and self._incoming.digest == digest:
            self._incoming = None

    def _over_budget(self, digest: str) -> str:
        if digest not in self.requested and len(self.requested) >= MAX_RECEIVED_PACKS_PER_CALL:
            return f"{MAX_RECEIVED_PACKS_PER_CALL} different packs already received in this call"
        if self._bytes_spent or self.bytes_received >= MAX_RECEIVED_BYTES_PER_CALL:
            return f"{MAX_RECEIVED_BYTES_PER_CALL // (1024 * 1024)} MiB already received"
        return ""

    def _refuse(self, why: str, avatar_id: str) -> None:
        """Count a refused transfer; say so once per call (a flood must not flood the log)."""
        self.stats.avatar_transfers_refused += 1
        if self._refusal_said:
            return
        self._refusal_said = True
        log.warning(
            "not downloading the peer's avatar %s: %s (further refusals only counted)",
            log_text(avatar_id, 64),
            why,
        )
        self._emit(Error(message=f"not downloading more of the peer's avatars: {why}"))

    # -- chunks ----------------------------------------------------------------------------
    def receive_chunk(self, chunk: ctl.AvatarChunk) -> None:
        inc = self._incoming
        if inc is None or chunk.hash != inc.digest:
            self.stats.bad_ctl += 1  # unsolicited
            return
        expected_total = math.ceil(chunk.size / ctl.AVATAR_CHUNK_BYTES) if chunk.size else 0
        if not inc.chunks:
            inc.cap = ctl.transfer_cap(chunk.data)
        if (
            chunk.size > inc.cap
            or chunk.total != expected_total
            or chunk.index != len(inc.chunks)
            or (inc.total and (chunk.total != inc.total or chunk.size != inc.size))
        ):
            self._incoming = None
            self.stats.bad_ctl += 1
            message = "peer's avatar transfer was malformed or too large; keeping the built-in"
            self._emit(Error(message=message))
            return
        if not inc.chunks and self.bytes_received + chunk.size > MAX_RECEIVED_BYTES_PER_CALL:
            self._incoming = None  # the whole pack would not fit the call's budget: not a byte
            self._bytes_spent = True  # and no more requests: the peer would send in vain
            budget = MAX_RECEIVED_BYTES_PER_CALL // (1024 * 1024)
            self._refuse(f"the {budget} MiB a call may receive would be exceeded", inc.avatar_id)
            return
        self.bytes_received += len(chunk.data)
        self.stats.avatar_bytes_received += len(chunk.data)
        inc.total, inc.size = chunk.total, chunk.size
        inc.chunks.append(chunk.data)
        inc.received += len(chunk.data)
        self._progress(inc)
        if len(inc.chunks) < inc.total:
            return
        data = b"".join(inc.chunks)
        self._incoming = None
        if len(data) != inc.size:
            self.stats.bad_ctl += 1
            return
        self._start(self._install(data, inc))

    def _progress(self, inc: _Incoming) -> None:
        """Say how far the transfer is, a few times a second and once when all has arrived."""
        now = time.monotonic()
        done = len(inc.chunks) >= inc.total
        if not done and now - inc.progress_at < PROGRESS_INTERVAL_S:
            return
        inc.progress_at = now
        received = min(inc.received, inc.size)
        self._emit(AvatarProgress(avatar_id=inc.avatar_id, received=received, total=inc.size))

    def _install_sync(self, data: bytes, digest: str) -> Path:
        from avatars.model_transfer import install_model_bytes, is_model_bytes
        from avatars.pack import install_pack_bytes

        if is_model_bytes(data):  # a .vrm/.glb: its SHA-256 checked, then parsed in full
            folder = self.cache_dir if self.keep else self.call_dir.ensure()
            keep = {self._current} if self.keep else set()
            return install_model_bytes(data, folder, digest, keep=keep)
        if self.keep:  # the user keeps the peer's packs: the bounded cache, never evict ours
            return install_pack_bytes(data, self.cache_dir, digest, keep={self._current})
        return install_pack_bytes(data, self.call_dir.ensure(), digest)

    async def _install(self, data: bytes, inc: _Incoming) -> None:
        try:
            path = await asyncio.to_thread(self._install_sync, data, inc.digest)
        except Exception as e:  # PackIntegrityError / PackValidationError / ModelError / OSError
            self.stats.bad_ctl += 1
            log.warning("refused the peer's avatar %s: %s", log_text(inc.avatar_id, 64), e)
            self._emit(Error(message=f"peer's avatar was refused: {e}"))
            # Drawn with the built-in it showed while pending, now for good (not pending).
            fallback = inc.avatar_id if _is_builtin(inc.avatar_id) else FALLBACK_AVATAR
            self._emit(PeerAvatar(ref=fallback, avatar_id=inc.avatar_id, pending=False))
            return
        log.info("installed peer avatar %s at %s", log_text(inc.avatar_id, 64), path)
        self._emit(PeerAvatar(ref=str(path), avatar_id=inc.avatar_id, pending=False))


def _is_builtin(avatar_id: str) -> bool:
    try:
        from avatars.pack import builtin_ids

        return avatar_id in builtin_ids()
    except Exception:
        return False
