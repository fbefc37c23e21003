"""The browser peer's page (HTML + ES modules + vendored npm code), as package data.

Why a Python package: the relay serves these files (``relay.static``) from wherever avatarchat
is installed, so ``python -m relay`` and a call's embedded relay find them without a path
setting. Nothing here runs in Python; :data:`ROOT` is the folder to serve.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

#: The folder holding ``index.html`` and the modules it imports.
ROOT = Path(__file__).resolve().parent

#: URL path -> (package, file inside it): files the page needs that belong to another package
#: and are served from there rather than copied into this folder. The face model is the Python
#: tracker's own (SHA-256 pinned in tracking/model.py), so both trackers run the same bytes.
BORROWED: dict[str, tuple[str, str]] = {
    "/models/face_landmarker.task": ("tracking", "models/face_landmarker.task"),
}


def borrowed_file(url_path: str) -> Path | None:
    """The file behind a :data:`BORROWED` URL, or None (not borrowed, package or file missing).

    The package is *located* with :func:`importlib.util.find_spec`, never imported: the relay
    that serves the page must not load the tracker (import-linter contracts, pyproject.toml).
    """
    entry = BORROWED.get(url_path)
    if entry is None:
        return None
    package, rel = entry
    folder = package_dir(package)
    if folder is None:
        return None
    path = folder / rel
    return path if path.is_file() else None


def package_dir(package: str) -> Path | None:
    """The folder of an installed package, *located* with :func:`importlib.util.find_spec` and
    never imported (the relay serves files of ``tracking`` and ``avatars`` without running
    them: import-linter contracts, pyproject.toml); None when it is not installed."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))
