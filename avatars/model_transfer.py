"""3D avatars (.vrm/.glb) over the P2P pack transfer: hash, validate, install, look up.

A 2D pack travels as a deterministic zip whose content hash covers its files; a VRM already is
one file, so it travels as its own bytes and its hash is the file's SHA-256. Both go through the
same ctl messages (hello/switch announce id + hash, ``avatar_request``, ``avatar_chunk``) and the
same per-call limits (:mod:`peer.pack_inbox`); the receiver tells them apart by the GLB magic.

A received model is hostile until proven otherwise: it is installed only when its SHA-256 equals
the announced hash *and* :func:`avatars.gltf.load_model` parses and checks all of it (truncated
chunks, bad accessors, huge counts, external URIs all raise :class:`ModelError`). It is stored
as ``<folder>/<sha256>/avatar.vrm`` -- one folder per hash like a pack, so the bounded LRU cache
(:mod:`avatars.cache`) and the per-call folder (:mod:`avatars.received`) hold it unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from avatars.avatar3d import builtin3d_dir, builtin3d_ids
from avatars.cache import evict, is_digest, make_room, touch
from avatars.errors import PackIntegrityError
from avatars.gltf import GLB_MAGIC, MAX_MODEL_BYTES, load_model
from avatars.model3d import Model, ModelError

log = logging.getLogger(__name__)

#: The file name a received model gets inside its hash folder (the window picks the 3D renderer
#: by the extension).
MODEL_FILE = "avatar.vrm"
_MAGIC = GLB_MAGIC.to_bytes(4, "little")  # b"glTF"


def is_model_bytes(data: bytes) -> bool:
    """Whether a received payload is a GLB/VRM (else it is a 2D pack zip)."""
    return data[:4] == _MAGIC


def model_hash(data: bytes) -> str:
    """The content hash a model is announced and cached by: SHA-256 of the file, lowercase hex."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class LocalModel:
    """Our own 3D avatar, ready to announce and send: id, file bytes, their hash, the model."""

    id: str
    data: bytes
    hash: str
    model: Model


def model_path(ref: str | Path) -> Path:
    """The file a 3D ref names: a built-in 3D id (``nova``) or a .vrm/.glb path."""
    if isinstance(ref, str) and ref in builtin3d_ids():
        return builtin3d_dir() / f"{ref}.vrm"
    return Path(ref).expanduser()


def load_local_model(ref: str | Path) -> LocalModel:
    """Read, hash and validate our own model; raises :class:`ModelError` (never sends junk)."""
    path = model_path(ref)
    try:
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ModelError(f"{path.name}: {size} bytes is over the {MAX_MODEL_BYTES} cap")
        data = path.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read model {path}: {e.strerror or e}") from e
    model_id = ref if isinstance(ref, str) and ref in builtin3d_ids() else path.stem
    model = load_model(data, model_id)
    return LocalModel(id=_safe_id(model_id), data=data, hash=model_hash(data), model=model)


def _safe_id(name: str) -> str:
    """An id for the hello: printable, at most 64 characters (the peer escapes it anyway)."""
    cleaned = "".join(c for c in name if c.isprintable())[:64]
    return cleaned or "model"


@functools.lru_cache(maxsize=16)
def builtin3d_hash(model_id: str) -> str | None:
    """SHA-256 of the built-in 3D avatar's file (None if absent); cached, it never changes."""
    try:
        return model_hash((builtin3d_dir() / f"{model_id}.vrm").read_bytes())
    except OSError:
        return None


def warm_builtin3d_hashes() -> None:
    """Hash every built-in 3D avatar once (call in a thread: hellos are then answered at once)."""
    for model_id in builtin3d_ids():
        builtin3d_hash(model_id)


def find_model_ref(digest: str, *folders: Path | None) -> str | None:
    """A local ref for the model with this SHA-256: a built-in 3D id or an installed file.

    Cheap (cached built-in hashes, one ``is_file`` per folder), so the peer calls it on its
    event loop with the hash from the other side's hello. The file is not re-validated here.
    """
    digest = digest.lower()
    for model_id in builtin3d_ids():
        if builtin3d_hash(model_id) == digest:
            return model_id
    if not is_digest(digest):
        return None  # never build a path from anything but a hex digest
    for folder in folders:
        if folder is None:
            continue
        candidate = folder / digest / MODEL_FILE
        if candidate.is_file():
            touch(candidate.parent)
            return str(candidate)
    return None


def install_model_bytes(
    data: bytes, folder: Path, expected_hash: str, *, keep: Collection[str] = ()
) -> Path:
    """Check a received model and store it as ``folder/<hash>/avatar.vrm``; returns that path.

    Raises :class:`PackIntegrityError` when the SHA-256 is not the announced one and
    :class:`ModelError` when the model does not parse or breaks a limit. Nothing is written
    unless both pass; an intact copy already there is reused (and marked used).
    """
    digest = model_hash(data)
    if digest != expected_hash.lower():
        raise PackIntegrityError(
            f"received model hash {digest[:16]}... does not match the announced "
            f"{expected_hash[:16]}..."
        )
    load_model(data, "received model")  # every accessor, texture and extension checked
    dest = folder / digest
    target = dest / MODEL_FILE
    if target.is_file():
        try:
            if model_hash(target.read_bytes()) == digest:
                touch(dest)
                return target
        except OSError:
            pass
        log.warning("stored model %s is damaged; replacing it", dest)
        evict(dest)
    folder.mkdir(parents=True, exist_ok=True)
    make_room(folder, len(data), keep={digest, *keep})
    tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=folder))
    try:
        (tmp / MODEL_FILE).write_bytes(data)
        os.replace(tmp, dest)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not target.is_file():
            raise
    touch(dest)
    return target
