"""A fake camera for headless Chromium: the package's sample clip as a ``.y4m`` file.

Chromium plays a ``.y4m`` (raw YUV 4:2:0, no decoder needed) as its camera with
``--use-fake-device-for-media-stream --use-file-for-fake-video-capture=FILE``, looping it. The
browser tests and ``scripts/bench_browser.py`` feed the page's face tracking this way. The file
is made with ffmpeg from ``tracking/samples/d10.mp4`` (present in every clone) rather than
committed: a few seconds of raw video are tens of MB. Here, not under ``tests/``, so the bench
script shares it without editing ``sys.path``.

The clip is 3 s of d10 from 2 s in (the mouth opens wide and closes again), squared to 360x360
and padded to 480x360, with the image turned by +0.25 rad (ffmpeg: clockwise) for the first
second and -0.25 rad after: a clear head roll whose sign flips once per loop, so a test can check
the page's pose convention against the Python tracker's on the same images.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

#: The sample clip the tracker package vendors (found without importing ``tracking``).
SAMPLE_CLIP = Path(__file__).resolve().parent.parent / "tracking" / "samples" / "d10.mp4"
FPS = 30
SECONDS = 3.0
#: ffmpeg ``rotate`` angle (radians) by time in the loop.
ROTATE_EXPR = "if(lt(t,1),0.25,-0.25)"
FILTER = f"rotate='{ROTATE_EXPR}':fillcolor=black,scale=360:360,pad=480:360:60:0,fps={FPS}"


def unavailable_reason() -> str | None:
    """Why no fake camera can be made here (None when it can)."""
    if shutil.which("ffmpeg") is None:
        return "needs ffmpeg to make the fake camera (scripts/system-deps.sh)"
    if not SAMPLE_CLIP.is_file():
        return f"the sample clip {SAMPLE_CLIP} is missing"
    return None


def make_y4m(folder: Path) -> Path:
    """``folder/face.y4m`` (made once; reused while it exists). Raises RuntimeError with
    ffmpeg's last words when it fails."""
    out = folder / "face.y4m"
    if out.is_file() and out.stat().st_size > 0:
        return out
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / "face.partial.y4m"
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-ss", "2", "-t", str(SECONDS), "-i", str(SAMPLE_CLIP),
         "-vf", FILTER, "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", str(partial)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg could not make the fake camera: {done.stderr.strip()[-300:]}")
    partial.replace(out)
    return out


def chromium_args(y4m: Path) -> list[str]:
    """Chromium flags: this file as the camera, no permission prompt, a silent fake mic."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
        "--autoplay-policy=no-user-gesture-required",
    ]
