"""Fixtures for the tracking tests: one cached run of the vendored d10 clip through the tracker,
a private config dir, and helpers to run ``python -m tracking`` as a real child process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from protocol.frame import ParamFrame
from tracking.pipeline import Tracker
from tracking.sources import SAMPLE_CLIP, ClipSource

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def private_config_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every tracking test gets its own AVATARCHAT_CONFIG_DIR: never the user's calibration."""
    path = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("AVATARCHAT_CONFIG_DIR", str(path))
    return path


@dataclass
class ClipRun:
    """A clip tracked frame by frame: what MediaPipe said (raw) and what we emitted."""

    frames: list[ParamFrame]
    raw_weights: np.ndarray  # (n, 52), NaN rows where no face
    raw_rotation: np.ndarray  # (n, 3)
    raw_translation: np.ndarray  # (n, 3)
    total_ms: list[float]

    @property
    def weights(self) -> np.ndarray:
        return np.array([f.weights() for f in self.frames])

    @property
    def rotation(self) -> np.ndarray:
        return np.array([f.head_rotation for f in self.frames])

    @property
    def translation(self) -> np.ndarray:
        return np.array([f.head_translation for f in self.frames])


def track_clip(
    path: Path, *, flip: bool = False, mirror: bool = False, limit: int | None = None
) -> ClipRun:
    """Run a clip once, unpaced, through a fresh tracker (no calibration, default smoothing)."""
    source = ClipSource(path, loop=False, paced=False, flip=flip)
    source.open()
    stop = threading.Event()
    frames, raw_w, raw_r, raw_t, total = [], [], [], [], []
    with Tracker(mirror=mirror) as tracker:
        while limit is None or len(frames) < limit:
            captured = source.read(stop)
            if captured is None:
                break
            frames.append(tracker.process_captured(captured))
            raw = tracker.last_raw
            raw_w.append(raw.weights if raw is not None else np.full(52, np.nan))
            raw_r.append(raw.rotation if raw is not None else np.full(3, np.nan))
            raw_t.append(raw.translation if raw is not None else np.full(3, np.nan))
            total.append(tracker.times.total)
    source.close()
    return ClipRun(frames, np.array(raw_w), np.array(raw_r), np.array(raw_t), total)


@pytest.fixture(scope="session")
def d10_run() -> ClipRun:
    """The vendored d10 clip through the tracker once per session (~3-5 s)."""
    return track_clip(SAMPLE_CLIP)


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
