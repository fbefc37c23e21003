"""A small valid pack built in tmp_path, for the tests to break one way at a time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.avatars.packkit import write_valid_pack


@pytest.fixture
def valid_pack(tmp_path: Path) -> Path:
    return write_valid_pack(tmp_path / "testy")


@pytest.fixture
def edit_manifest() -> Callable[[Path, str, str], None]:
    """Replace exactly one occurrence of ``old`` in the pack's avatar.toml."""

    def edit(pack: Path, old: str, new: str) -> None:
        path = pack / "avatar.toml"
        text = path.read_text(encoding="utf-8")
        assert text.count(old) >= 1, f"{old!r} not in manifest"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return edit


@pytest.fixture(autouse=True)
def _pack_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Zips unpack into a per-test cache, never the user's."""
    cache = tmp_path / "pack-cache"
    monkeypatch.setenv("AVATARCHAT_PACK_CACHE", str(cache))
    return cache
