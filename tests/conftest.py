"""Shared fixtures: where ../shared is, and a real Xvfb display for window tests."""

from __future__ import annotations

import ctypes.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.tracked_clips import ClipRun

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("AVATARCHAT_SHARED", REPO.parent / "shared"))
FACES = SHARED / "testdata" / "faces"
#: Tests read English output (CLI lines, snapshots, window banners): whatever the developer's
#: locale, the suite and the processes it starts speak English unless a test asks for Korean.
os.environ["AVATARCHAT_LANG"] = "en"


@pytest.fixture(scope="session")
def shared_faces() -> Path:
    """../shared/testdata/faces; tests that need more than the vendored clip skip without it."""
    if not FACES.is_dir():
        pytest.skip(
            "needs ../shared/testdata/faces (the project's face clips; CI has it, a fresh clone "
            "does not)"
        )
    return FACES


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    """Start a real Xvfb (with GLX on Mesa) for the session; yields the DISPLAY string."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian xvfb; scripts/system-deps.sh installs it)")
    if ctypes.util.find_library("GL") is None:
        # pyglet loads libGL with ctypes: without Mesa the window would fail, not skip.
        pytest.skip(
            "Mesa's libGL is not installed (Debian libgl1 libglx-mesa0 libgl1-mesa-dri; "
            "scripts/system-deps.sh installs them)"
        )
    from render_window.headless import start_xvfb

    try:
        proc, display = start_xvfb(1280, 800, first=90)
    except RuntimeError as e:
        pytest.fail(str(e))
    try:
        yield display
    finally:
        proc.terminate()
        proc.wait(5)


@pytest.fixture
def relay_url() -> str:
    """A real ``python -m relay`` on a free loopback port, for tests that start clients as
    separate processes: the session's shared relay (tests/session_relay.py; each test's room
    code is its own)."""
    from tests import session_relay

    return session_relay.url()


@pytest.fixture(scope="session")
def d10_run() -> ClipRun:
    """The vendored d10 clip through the real tracker once per session (~3-5 s, MediaPipe,
    in the background from the start: ``pytest_collection_finish``): the tracking tests read
    its raw and emitted values, the render-window tests play its frames. Users must not mutate
    its frames (copy them: ``ParamFrame.decode(frame.encode())``)."""
    try:
        from tests.tracked_clips import BACKGROUND
        from tracking.sources import SAMPLE_CLIP
    except ImportError as e:
        pytest.skip(f"tracking unavailable: {e}")
    return BACKGROUND.results([SAMPLE_CLIP])[0]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start tracking the clips the selected tests will read, in the background at idle
    priority (tests/tracked_clips.BackgroundClips): by the time those tests run, late in the
    session, the runs are usually done on CPU time the tests before them left idle."""
    needed = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    wanted = {"d10_run", "shared_runs"} & needed
    if not wanted or session.config.option.collectonly:
        return
    try:
        from tests.tracked_clips import BACKGROUND, shared_clip_paths
        from tracking.sources import SAMPLE_CLIP
    except ImportError:
        return  # the fixtures skip, as they say
    if "d10_run" in wanted:
        BACKGROUND.start([SAMPLE_CLIP])  # needed first (tests/render_window), on its own
    if "shared_runs" in wanted and FACES.is_dir():
        BACKGROUND.start(shared_clip_paths(FACES))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if "tests.tracked_clips" in sys.modules:
        sys.modules["tests.tracked_clips"].BACKGROUND.close()


#: scripts/test.sh runs the tests marked ``beside`` in a second pytest at nice 19, beside the
#: rest: they start none of the project's processes (nor a browser, Xvfb or tmux) and time
#: nothing, so they can use the CPU the process-bound tests leave idle without disturbing them.
#: In that lane starting such a process is an error, so a test marked ``beside`` that starts
#: one fails instead of quietly loading the machine (tools such as ldconfig stay allowed).
LANE_ENV = "AVATARCHAT_TEST_LANE"
HEAVY_PROGRAMS = ("python", "Xvfb", "xvfb-run", "tmux", "chromium", "firefox", "node", "espeak")


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(LANE_ENV) == "beside":
        import subprocess

        execute_child = subprocess.Popen._execute_child  # type: ignore[attr-defined]

        def refuse_heavy(self: subprocess.Popen[bytes], args: Any, *rest: Any) -> Any:
            argv = [args] if isinstance(args, str | bytes | os.PathLike) else list(args)
            program = os.path.basename(os.fsdecode(argv[0])) if argv else ""
            if program.startswith(HEAVY_PROGRAMS) or argv[:1] == [sys.executable]:
                raise RuntimeError(
                    f"a test marked 'beside' started {program!r}: drop the mark "
                    "(tests/conftest.py LANE_ENV)"
                )
            return execute_child(self, args, *rest)

        subprocess.Popen._execute_child = refuse_heavy  # type: ignore[attr-defined]
