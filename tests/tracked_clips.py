"""A clip tracked frame by frame through the real tracker (MediaPipe), shared by the tracking
tests and the render-window tests: the vendored d10 clip is tracked once per session
(``d10_run`` in tests/conftest.py), not once per test module that needs its frames, and, with
the shared clips, in the background at idle priority from the start of the session
(:class:`BackgroundClips`)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from protocol.frame import ParamFrame
from tracking.pipeline import Tracker
from tracking.sources import ClipSource


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
    frames: list[ParamFrame] = []
    raw_w: list[np.ndarray] = []
    raw_r: list[np.ndarray] = []
    raw_t: list[np.ndarray] = []
    total: list[float] = []
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


#: The shared clips (../shared/testdata/faces) tests/tracking/test_clips.py tracks whole,
#: longest first so that two workers finish together (d10, the vendored sample, is ``d10_run``).
SHARED_CLIPS_BY_LENGTH = ("d6", "d9", "d3", "d18", "d12", "d20", "d0")


def shared_clip_paths(faces: Path) -> list[Path]:
    return [faces / f"{clip}.mp4" for clip in SHARED_CLIPS_BY_LENGTH]


def _set_policy(pid: int, policy: int) -> bool:
    """Every thread of process ``pid`` to ``policy``; False where that is refused (leaving
    SCHED_IDLE needs root or an RLIMIT_NICE allowance)."""
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(ProcessLookupError):
                os.sched_setscheduler(int(tid), policy, os.sched_param(0))
    except (AttributeError, OSError):
        return False
    return True


def _idle_priority() -> None:
    """Pool initializer: this worker runs only on CPU time nothing else wants: its threads so
    far (numpy's) and those MediaPipe starts later, which inherit the policy."""
    _set_policy(os.getpid(), os.SCHED_IDLE)


class BackgroundClips:
    """Clips tracked early, in two spawned processes at idle priority, while other tests run.

    Why: the shared clips (2,600 frames) and d10 cost about 75 CPU-seconds of MediaPipe, and
    the tests that read them run late (tests/render_window, tests/tracking); meanwhile many
    tests wait on the network, a timer or another process and leave a core idle. SCHED_IDLE
    workers get only that idle time, so timing-bound tests running meanwhile see the machine
    as before. Started from tests/conftest.py once collection shows a test that needs them.
    A fixture that needs a run before it is done raises the workers to normal priority while
    it waits; where that is refused (not root) it tracks the clip itself, as before.
    """

    def __init__(self) -> None:
        self._pools: list[ProcessPoolExecutor] = []
        self._runs: dict[Path, tuple[ProcessPoolExecutor, Future[ClipRun]]] = {}

    def start(self, paths: list[Path]) -> None:
        """Queue ``paths`` (in this order) for tracking, on up to two workers of their own
        (so that waiting for them raises only theirs); already queued ones are skipped."""
        paths = [p for p in dict.fromkeys(paths) if p not in self._runs]
        if not paths:
            return
        pool = ProcessPoolExecutor(
            max_workers=min(2, len(paths)),
            mp_context=multiprocessing.get_context("spawn"),  # this process may hold
            initializer=_idle_priority,  # MediaPipe's threads already: never fork
        )
        self._pools.append(pool)
        for path in paths:
            self._runs[path] = (pool, pool.submit(track_clip, path))

    def results(self, paths: list[Path]) -> list[ClipRun]:
        """The runs of ``paths``: from the background where queued, else tracked now."""
        pending = [p for p in paths if p in self._runs and not self._runs[p][1].done()]
        pools = {id(self._runs[p][0]): self._runs[p][0] for p in pending}.values()
        promoted = [pool for pool in pools if _set_pool(pool, os.SCHED_OTHER)]
        try:
            for path in pending:
                pool, run = self._runs[path]
                if pool not in promoted and (run.cancel() or not run.done()):
                    del self._runs[path]  # tracked below at normal priority instead
            missing = [p for p in paths if p not in self._runs]
            fresh: dict[Path, ClipRun] = {}
            if missing:
                with ProcessPoolExecutor(
                    max_workers=min(2, len(missing)),
                    mp_context=multiprocessing.get_context("spawn"),
                ) as pool:
                    fresh = dict(zip(missing, pool.map(track_clip, missing), strict=True))
            return [fresh[p] if p in missing else self._wait(*self._runs[p]) for p in paths]
        finally:
            for pool in promoted:  # what they still have queued goes back to idle time
                _set_pool(pool, os.SCHED_IDLE)

    @staticmethod
    def _wait(pool: ProcessPoolExecutor, run: Future[ClipRun]) -> ClipRun:
        while True:
            try:
                return run.result(timeout=1.0)
            except TimeoutError:
                # A worker that was still starting when it was raised has lowered itself
                # since (its initializer): raise it again.
                _set_pool(pool, os.SCHED_OTHER)

    def close(self) -> None:
        for pool in self._pools:
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.kill()
                proc.join(5)
        self._pools.clear()


def _set_pool(pool: ProcessPoolExecutor, policy: int) -> bool:
    procs = list(getattr(pool, "_processes", None) or {})
    return bool(procs) and all(_set_policy(pid, policy) for pid in procs)


#: The session's background runs (tests/conftest.py starts and closes it).
BACKGROUND = BackgroundClips()
