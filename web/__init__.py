"""The browser peer's page (HTML + ES modules + vendored npm code), as package data.

Why a Python package: the relay serves these files (``relay.static``) from wherever avatarchat
is installed, so ``python -m relay`` and a call's embedded relay find them without a path
setting. Nothing here runs in Python; :data:`ROOT` is the folder to serve.
"""

from __future__ import annotations

from pathlib import Path

#: The folder holding ``index.html`` and the modules it imports.
ROOT = Path(__file__).resolve().parent
