"""A fake camera for headless Chromium: the package's sample clip as a ``.y4m`` file.

Chromium plays a ``.y4m`` (raw YUV 4:2:0, no decoder needed) as its camera with
``--use-fake-device-for-media-stream --use-file-for-fake-video-capture=FILE``, looping it. The
browser tests and ``scripts/bench_browser.py`` feed the page's face tracking this way. The file
is made with ffmpeg from ``tracking/samples/d10.mp4`` (present in every clone) rather than
committed: a few seconds of raw video are tens of MB. Here, not under ``tests/``, so the bench
script shares it without editing ``sys.path``.

The camera shows two stills of d10, one after the other, looped: frame 30 (mouth closed) turned
by +0.25 rad (ffmpeg's ``rotate``: clockwise on screen) for 1 s, then frame 100 (mouth wide
open) turned by -0.25 rad for 2 s, 480x360 at 30 FPS. Stills, not the moving clip, so a test can
compare the page's tracking with the Python tracker's on the same image without knowing which
frame of the loop the page saw (under load Chromium's fake camera drifts from its nominal rate):
jaw and roll each tell the two apart, and the roll's sign is the pose convention under test
(one third of the loop one way, two thirds the other, so an inverted sign cannot pass).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

#: The sample clip the tracker package vendors (found without importing ``tracking``).
SAMPLE_CLIP = Path(__file__).resolve().parent.parent / "tracking" / "samples" / "d10.mp4"
FPS = 30
WIDTH, HEIGHT = 480, 360
#: (frame of d10, ffmpeg rotate angle in radians, frames shown) per still, in loop order.
STILLS: tuple[tuple[int, float, int], ...] = ((30, 0.25, 30), (100, -0.25, 60))
SECONDS = sum(n for _, _, n in STILLS) / FPS


def _filter() -> str:
    """ffmpeg filter graph: each still held for its frames, turned, squared and padded."""
    split = f"[0:v]split={len(STILLS)}" + "".join(f"[s{i}]" for i in range(len(STILLS)))
    parts = [
        f"[s{i}]select='eq(n\\,{frame})',loop=loop={count - 1}:size=1:start=0,"
        f"setpts=N/{FPS}/TB,rotate={angle}:fillcolor=black,scale={HEIGHT}:{HEIGHT},"
        f"pad={WIDTH}:{HEIGHT}:{(WIDTH - HEIGHT) // 2}:0[v{i}]"
        for i, (frame, angle, count) in enumerate(STILLS)
    ]
    inputs = "".join(f"[v{i}]" for i in range(len(STILLS)))
    return ";".join([split, *parts, f"{inputs}concat=n={len(STILLS)}:v=1,fps={FPS}[out]"])


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
        # -t: decode only as much of the clip as the stills need (d10 is 30 FPS).
        ["ffmpeg", "-v", "error", "-y", "-t", str(max(f for f, _, _ in STILLS) / 30 + 0.5),
         "-i", str(SAMPLE_CLIP), "-filter_complex", _filter(),
         "-map", "[out]", "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", str(partial)],
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


def rgb_frames(y4m: Path) -> list[bytes]:
    """The file's frames as packed RGB (480x360x3 bytes each, in order), decoded by ffmpeg:
    what the Python tracker is given to compare with the page on the same images."""
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(y4m), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, timeout=120, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg could not read {y4m}: {done.stderr.decode()[-300:]}")
    size = WIDTH * HEIGHT * 3
    return [done.stdout[i : i + size] for i in range(0, len(done.stdout) - size + 1, size)]
