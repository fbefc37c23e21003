"""Reading a pack's files from a directory or zip, and the pack's content hash.

The validator and the hash work on a :class:`PackSource` (relative path -> bytes) so that a
directory, a ``.zip`` on disk and zip bytes received from a peer are checked by one code path and
hash the same (FORMAT.md, Identity).
"""

from __future__ import annotations

import hashlib
import io
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from avatars.errors import PackIntegrityError

#: FORMAT.md Limits: a pack (all files, uncompressed) is at most 8 MiB, so a peer transfer and an
#: install stay small and a hostile zip cannot fill the disk.
MAX_PACK_BYTES = 8 * 1024 * 1024
#: A pack holds at most 64 layers plus sprites and variant textures; 512 files is ample and caps
#: the work a hostile zip (many tiny entries) can cause.
MAX_FILES = 512
#: Everything zipfile/zlib raise on damaged input (fuzzing found each of these).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    struct.error,
    UnicodeDecodeError,
)
#: A zip entry may not claim to compress better than this (zip bombs); real PNG packs are ~1:1.
MAX_COMPRESSION_RATIO = 200


def is_hidden(rel: str) -> bool:
    """Hidden files (any path part starting with '.', e.g. .DS_Store) are not part of a pack."""
    return any(part.startswith(".") for part in rel.split("/"))


def unsafe_path_reason(rel: str) -> str | None:
    """Why ``rel`` (a path written in a manifest or zip) could escape the pack, or None if safe."""
    if not rel:
        return "is empty"
    if "\\" in rel:
        return "uses a backslash (use '/')"
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        return "is absolute"
    parts = PurePosixPath(rel).parts
    if ".." in parts:
        return "contains '..'"
    if "\x00" in rel:
        return "contains a NUL byte"
    return None


@dataclass
class PackSource:
    """The files of one pack: posix relative path -> bytes, plus problems found while listing."""

    where: str
    files: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def total_bytes(self) -> int:
        return sum(len(b) for b in self.files.values())


def content_hash(files: Iterable[tuple[str, bytes]]) -> str:
    """FORMAT.md Identity: sha256 over sorted ``path\\0 + sha256(bytes)`` of every file (hex)."""
    outer = hashlib.sha256()
    for rel, data in sorted(files, key=lambda item: item[0].encode("utf-8")):
        outer.update(rel.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
    return outer.hexdigest()


def read_dir(root: Path) -> PackSource:
    """Read every (non-hidden) regular file under ``root``; symlinks are refused, not followed."""
    src = PackSource(where=str(root))
    total = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if is_hidden(rel):
            continue
        if path.is_symlink():
            src.problems.append(f"{rel}: symbolic links are not allowed in a pack")
            continue
        if not path.is_file():
            continue
        if len(src.files) >= MAX_FILES:
            src.problems.append(f"pack has more than {MAX_FILES} files")
            break
        size = path.stat().st_size
        total += size
        if total > MAX_PACK_BYTES:
            src.problems.append(
                f"pack is larger than the {MAX_PACK_BYTES // (1024 * 1024)} MiB limit "
                f"(at least {total / (1024 * 1024):.1f} MiB)"
            )
            break
        src.files[rel] = path.read_bytes()
    return src


def read_zip_bytes(data: bytes, where: str = "<zip>") -> PackSource:
    """Read a pack zip safely; raises :class:`PackIntegrityError` for anything unsafe.

    Unsafe = not a zip, a path escaping the pack, a symlink entry, too many files, more than
    MAX_PACK_BYTES uncompressed (checked while reading, not trusting the headers). A zip whose
    files all sit under one top folder (``zip -r fox.zip fox``) is accepted as that folder.
    """
    if len(data) > MAX_PACK_BYTES:
        raise PackIntegrityError(
            f"{where}: zip is {len(data)} bytes, larger than the {MAX_PACK_BYTES} byte limit"
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as exc:
        raise PackIntegrityError(f"{where}: not a valid zip file ({exc})") from None
    try:
        return _read_members(zf, where)
    except PackIntegrityError:  # a ValueError too: keep its precise message
        raise
    except _ZIP_ERRORS as exc:  # a damaged central directory can fail late, too
        raise PackIntegrityError(f"{where}: damaged zip file ({exc})") from None


def _read_members(zf: zipfile.ZipFile, where: str) -> PackSource:
    src = PackSource(where=where)
    total = 0
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_FILES:
            raise PackIntegrityError(f"{where}: zip has {len(infos)} entries (limit {MAX_FILES})")
        for info in infos:
            name = info.filename
            reason = unsafe_path_reason(name.rstrip("/") if info.is_dir() else name)
            if reason:
                raise PackIntegrityError(f"{where}: zip entry {name!r} {reason}")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise PackIntegrityError(f"{where}: zip entry {name!r} is a symbolic link")
            if info.is_dir() or is_hidden(name) or name.startswith("__MACOSX/"):
                continue
            if info.compress_size and info.file_size / info.compress_size > MAX_COMPRESSION_RATIO:
                raise PackIntegrityError(f"{where}: zip entry {name!r} is suspiciously compressed")
            budget = MAX_PACK_BYTES - total
            try:
                with zf.open(info) as fh:
                    blob = fh.read(budget + 1)
            except _ZIP_ERRORS as exc:
                raise PackIntegrityError(
                    f"{where}: cannot read zip entry {name!r} ({exc})"
                ) from None
            total += len(blob)
            if total > MAX_PACK_BYTES:
                raise PackIntegrityError(
                    f"{where}: pack is larger than the {MAX_PACK_BYTES // (1024 * 1024)} MiB "
                    "limit when unpacked"
                )
            if name in src.files:
                raise PackIntegrityError(f"{where}: zip entry {name!r} appears twice")
            src.files[name] = blob
    src.files = _strip_single_top_folder(src.files)
    return src


def read_zip(path: Path) -> PackSource:
    size = path.stat().st_size
    if size > MAX_PACK_BYTES:  # refuse before reading a huge file into memory
        raise PackIntegrityError(
            f"{path}: zip is {size} bytes, larger than the {MAX_PACK_BYTES} byte limit"
        )
    return read_zip_bytes(path.read_bytes(), where=str(path))


def _strip_single_top_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    if "avatar.toml" in files or not files:
        return files
    tops = {rel.split("/", 1)[0] for rel in files}
    if len(tops) == 1 and all("/" in rel for rel in files):
        top = tops.pop()
        if f"{top}/avatar.toml" in files:
            return {rel[len(top) + 1 :]: blob for rel, blob in files.items()}
    return files


def read_source(path: Path) -> PackSource:
    """A pack directory or a .zip file (by content, not extension)."""
    if path.is_dir():
        return read_dir(path)
    return read_zip(path)
