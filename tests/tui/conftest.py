"""Fixtures for the TUI tests: an isolated config dir, fixed sources and a fixed room code."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import i18n
from tui.app import AppOptions, AvatarChatApp
from tui.devices import Source
from tui.settings import Settings

#: A fixed, valid room code (22 URL-safe characters): snapshots must not change run to run.
ROOM = "TestRoomCode_0123456789"
SOURCES = [
    Source("Sample clip (bundled)", "sample", "sample"),
    Source("Clip d3.mp4", "/clips/d3.mp4", "clip"),
]


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every TUI test gets its own config/state dir (never the user's real settings)."""
    directory = tmp_path / "config"
    monkeypatch.setenv("AVATARCHAT_CONFIG_DIR", str(directory))
    yield directory


@pytest.fixture(autouse=True)
def english_locale(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A C locale and no override: "auto" means English whatever the developer's locale, and
    a test that switches to Korean does not leak it into the next (the language is global)."""
    for name in (i18n.LANG_ENV, "LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    i18n.set_language("en")
    yield
    i18n.set_language("en")


@pytest.fixture
def make_app() -> Callable[..., AvatarChatApp]:
    """An app wired for UI tests: no child processes, no stats timer, fixed code/sources."""

    def make(
        options: AppOptions | None = None, settings: Settings | None = None, **kwargs: object
    ) -> AvatarChatApp:
        params: dict[str, object] = {
            "sources": SOURCES,
            "room_code_factory": lambda: ROOM,
            "controller_factory": None,
            "stats_interval": None,
        }
        params.update(kwargs)
        return AvatarChatApp(options, settings, **params)  # type: ignore[arg-type]

    return make
