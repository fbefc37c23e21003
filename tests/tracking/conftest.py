"""Fixtures for the tracking tests: a private config dir and helpers to run ``python -m tracking``
as a real child process. The cached run of the vendored d10 clip (``d10_run``) is in
tests/conftest.py, shared with the render-window tests; ``ClipRun``/``track_clip`` are
re-exported from tests/tracked_clips.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tracked_clips import ClipRun, track_clip

__all__ = ["ClipRun", "track_clip"]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def private_config_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every tracking test gets its own AVATARCHAT_CONFIG_DIR: never the user's calibration."""
    path = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("AVATARCHAT_CONFIG_DIR", str(path))
    return path


def child_env(home: Path) -> dict[str, str]:
    """Environment for a child whose every per-user directory is inside ``home``."""
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        AVATARCHAT_CONFIG_DIR=str(home / "avatarchat-config"),
        TMPDIR=str(home / "tmp"),
        PYTHONPATH=str(REPO),
    )
    return env


@pytest.fixture
def spawn_tracking(tmp_path: Path) -> Iterator[object]:
    """Start ``python -m tracking ARGS`` with pipes; every process is killed at teardown."""
    procs: list[subprocess.Popen[str]] = []

    def spawn(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tracking", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd or REPO,
            env=env or child_env(tmp_path),
        )
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
