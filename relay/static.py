"""The browser peer's page, served by the relay on its own port (plain HTTP GETs).

Why here and not a separate static server: the join link a terminal user hands out must open
the page with no second service to run, and the page must reach the relay's WebSocket on the
same origin (so the Content-Security-Policy can say ``'self'`` and nothing else). The relay's
*logic* stays signaling-only: this module maps a request path to one of the files of
:mod:`web` and adds the security headers; it never sees a room code (the link carries it in
the URL fragment, which browsers do not send).

Only an allow-list of extensions under :data:`web.ROOT` is served, never a dotfile, never
``node_modules`` or Python files, never a path that resolves outside the folder. Files are
read once and kept (the page is a few hundred KB; the vendored face tracking and its model
make a first load about 17 MB).

Caching, so that a second load costs no 17 MB: every file carries a strong ``ETag`` (a hash of
its bytes) and a conditional GET whose ``If-None-Match`` names it is answered ``304`` with no
body. Files under a versioned folder (``/vendor/NAME@VERSION/``, as web/refresh-vendor.sh
names them) never change under their URL (a new version is a new path), so they are
``Cache-Control: max-age=31536000, immutable`` and a browser does not even ask again; everything
else (the page, its modules, the packs, the face model, whose URLs stay the same when the files
change) is ``no-cache``: kept, but checked with the ETag on every use, so an updated relay is
seen at once.

The face model is served from the tracker's package (:data:`web.BORROWED`): one copy of the file,
the one the Python tracker verifies; the relay locates it without importing ``tracking``.

The built-in avatar packs are served under ``/packs/<id>/...`` straight from the installed
``avatars`` package's ``builtin/`` folder (found with :func:`web.package_dir`, which
locates a package without importing it: the relay runs none of the avatar code), and
``/packs/index.json`` lists each built-in's files so the page can fetch them and compute the
pack's content hash (avatars/FORMAT.md, "Identity") itself, as it does for a received pack.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

import web

from .http import response

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
#: A vendored package's folder with its version in the name: its files never change under
#: their URL (web/refresh-vendor.sh puts a new version under a new folder).
VERSIONED_PATH = re.compile(r"/vendor/[A-Za-z0-9._-]+@\d+\.\d+\.\d+[A-Za-z0-9.+-]*/[^?#]+")
CACHE_IMMUTABLE = "max-age=31536000, immutable"
#: Keep it, but ask (with the ETag) before every use: the URL stays when the file changes.
CACHE_REVALIDATE = "no-cache"


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str
    #: Strong validator: a hash of ``body`` (quoted, as the header carries it).
    etag: str = ""
    cache_control: str = CACHE_REVALIDATE

    @classmethod
    def of(cls, body: bytes, content_type: str, path: str) -> StaticFile:
        """``body`` served at ``path``, with its ETag and the caching its path allows."""
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        immutable = VERSIONED_PATH.fullmatch(path) is not None
        return cls(body, content_type, etag, CACHE_IMMUTABLE if immutable else CACHE_REVALIDATE)


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (``*``, or a list of tags compared
    weakly as RFC 9110 says for this header: ``W/"x"`` matches ``"x"``)."""
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def page_response(page: StaticFile, if_none_match: str | None, *, head: bool) -> bytes:
    """The complete response for ``page`` (:func:`relay.http.response`): ``304 Not Modified``
    when the request's ``If-None-Match`` names its ETag, else ``200`` with the body (none for
    HEAD). Both carry the ETag, the Cache-Control and the security headers."""
    headers = (("ETag", page.etag), *SECURITY_HEADERS)
    if if_none_match is not None and etag_matches(if_none_match, page.etag):
        return response(304, extra=headers, cache_control=page.cache_control)
    data = response(200, page.body, page.content_type, headers, cache_control=page.cache_control)
    return data[: len(data) - len(page.body)] if head else data


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
        url, root = path, self.root
        if path.startswith(PACKS_PREFIX):
            if self.packs_root is None:
                return None
            root, path = self.packs_root, path[len(PACKS_PREFIX) - 1 :]
            if path == "/index.json":
                try:
                    return StaticFile.of(packs_index(root), "application/json", url)
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
        return StaticFile.of(body, content_type, url)


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
    return StaticFile.of(body, CONTENT_TYPES[found.suffix.lower()], path)
