"""The browser peer's page, served by the relay on its own port (plain HTTP GETs).

Why here and not a separate static server: the join link a terminal user hands out must open
the page with no second service to run, and the page must reach the relay's WebSocket on the
same origin (so the Content-Security-Policy can say ``'self'`` and nothing else). The relay's
*logic* stays signaling-only: this module maps a request path to one of the files of
:mod:`web` and adds the security headers; it never sees a room code (the link carries it in
the URL fragment, which browsers do not send).

Only an allow-list of extensions under :data:`web.ROOT` is served, never a dotfile, never
``node_modules`` or Python files, never a path that resolves outside the folder. Files are
read once and kept (the page is a few hundred KB).

The face model is served from the tracker's package (:data:`web.BORROWED`): one copy of the file,
the one the Python tracker verifies; the relay locates it without importing ``tracking``.

The built-in avatar packs are served under ``/packs/<id>/...`` straight from the installed
``avatars`` package's ``builtin/`` folder (found with :func:`web.package_dir`, which
locates a package without importing it: the relay runs none of the avatar code), and
``/packs/index.json`` lists each built-in's files so the page can fetch them and compute the
pack's content hash (avatars/FORMAT.md, "Identity") itself, as it does for a received pack.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

import web

log = logging.getLogger(__name__)

#: The page may load its own files and talk to its own origin (the relay's WebSocket); nothing
#: else. ``wasm-unsafe-eval`` lets MediaPipe's WASM compile (it is not ``unsafe-eval``: no JS
#: ``eval``); media from the camera and microphone are ``blob:``/``mediastream:`` URLs.
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; "
    "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; style-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()"),
)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
    ".task": "application/octet-stream",
    ".toml": "text/plain; charset=utf-8",
    ".json": "application/json",  # only under JSON_FOLDERS
}
_NEVER = frozenset({"node_modules", "__pycache__"})
#: The only folders whose .json is served: the page's texts (web/i18n/ko.json); package.json,
#: package-lock.json and the vendored packages' manifests stay private.
JSON_FOLDERS = frozenset({"i18n"})
#: Longest request path looked up (anything longer is not one of our files).
MAX_PATH_CHARS = 256


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str


#: URL prefix of the built-in packs.
PACKS_PREFIX = "/packs/"


def builtin_packs_root() -> Path | None:
    """``avatars/builtin`` of the installed package, located without importing ``avatars``."""
    package = web.package_dir("avatars")
    if package is None:
        return None
    root = package / "builtin"
    return root if root.is_dir() else None


def _pack_files(folder: Path) -> list[str]:
    """A pack folder's files as sorted ``/``-separated paths, hidden ones left out (as a pack's
    identity leaves them out)."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def packs_index(root: Path) -> bytes:
    """``{"packs": [{"id", "files"}]}`` for every folder of ``root`` holding an avatar.toml."""
    packs = [
        {"id": d.name, "files": _pack_files(d)}
        for d in sorted(root.iterdir())
        if d.is_dir() and not d.name.startswith(".") and (d / "avatar.toml").is_file()
    ]
    return json.dumps({"packs": packs}, separators=(",", ":")).encode()


class StaticSite:
    """Path -> file lookup over one folder (``web.ROOT`` unless a test gives another), plus the
    built-in packs under :data:`PACKS_PREFIX` (``packs_root``; the installed ones by default)."""

    def __init__(self, root: Path | None = None, packs_root: Path | None = None) -> None:
        self.root = (root or web.ROOT).resolve()
        found = packs_root or builtin_packs_root()
        self.packs_root = found.resolve() if found is not None else None
        self._cache: dict[str, StaticFile | None] = {}

    def lookup(self, path: str) -> StaticFile | None:
        """The file for a request path (``/`` is ``index.html``), or None (answer 404)."""
        if len(path) > MAX_PATH_CHARS:
            return None
        if path in self._cache:
            return self._cache[path]
        found = _borrowed(path) if path in web.BORROWED else self._load(path)
        if len(self._cache) < 512:  # bounded: 404 probes must not grow it forever
            self._cache[path] = found
        return found

    def _load(self, path: str) -> StaticFile | None:
        root = self.root
        if path.startswith(PACKS_PREFIX):
            if self.packs_root is None:
                return None
            root, path = self.packs_root, path[len(PACKS_PREFIX) - 1 :]
            if path == "/index.json":
                try:
                    return StaticFile(packs_index(root), "application/json")
                except OSError as e:
                    log.warning("cannot list the built-in packs: %s", e)
                    return None
        rel = unquote(path).lstrip("/") or "index.html"
        parts = PurePosixPath(rel).parts
        if "\x00" in rel or not parts or any(
            p.startswith(".") or p in _NEVER or "\\" in p for p in parts
        ):
            return None
        content_type = CONTENT_TYPES.get(PurePosixPath(rel).suffix.lower())
        if content_type is None or (content_type == "application/json" and (
                len(parts) != 2 or parts[0] not in JSON_FOLDERS)):
            return None
        try:
            candidate = (root / rel).resolve()
            if not candidate.is_relative_to(root) or not candidate.is_file():
                return None
            body = candidate.read_bytes()
        except (OSError, ValueError) as e:
            log.warning("cannot serve %r: %s", rel[:80], e)
            return None
        return StaticFile(body, content_type)


def _borrowed(path: str) -> StaticFile | None:
    """A file of another package the page needs (web.BORROWED), read once like the rest."""
    found = web.borrowed_file(path)
    if found is None:
        log.warning("cannot serve %s: its package file is missing", path)
        return None
    try:
        body = found.read_bytes()
    except OSError as e:
        log.warning("cannot serve %s: %s", path, e)
        return None
    return StaticFile(body, CONTENT_TYPES[found.suffix.lower()])
