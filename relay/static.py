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
"""

from __future__ import annotations

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
}
_NEVER = frozenset({"node_modules", "__pycache__"})
#: Longest request path looked up (anything longer is not one of our files).
MAX_PATH_CHARS = 256


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str


class StaticSite:
    """Path -> file lookup over one folder (``web.ROOT`` unless a test gives another)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or web.ROOT).resolve()
        self._cache: dict[str, StaticFile | None] = {}

    def lookup(self, path: str) -> StaticFile | None:
        """The file for a request path (``/`` is ``index.html``), or None (answer 404)."""
        if len(path) > MAX_PATH_CHARS:
            return None
        if path in self._cache:
            return self._cache[path]
        found = self._load(path)
        if len(self._cache) < 512:  # bounded: 404 probes must not grow it forever
            self._cache[path] = found
        return found

    def _load(self, path: str) -> StaticFile | None:
        rel = unquote(path).lstrip("/") or "index.html"
        parts = PurePosixPath(rel).parts
        if "\x00" in rel or not parts or any(
            p.startswith(".") or p in _NEVER or "\\" in p for p in parts
        ):
            return None
        content_type = CONTENT_TYPES.get(PurePosixPath(rel).suffix.lower())
        if content_type is None:
            return None
        try:
            candidate = (self.root / rel).resolve()
            if not candidate.is_relative_to(self.root) or not candidate.is_file():
                return None
            body = candidate.read_bytes()
        except (OSError, ValueError) as e:
            log.warning("cannot serve %r: %s", rel[:80], e)
            return None
        return StaticFile(body, content_type)
