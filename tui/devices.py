"""Frame sources the user can pick: real cameras (by name), the bundled clip, test clips.

Cameras are listed from ``/sys/class/video4linux/*/name`` rather than by opening devices:
opening a V4L2 device can take a second and may grab the camera another app is using, and a
picker must appear at once. With no camera the bundled sample clip is offered (so the app works
on a laptop without one, in CI and over SSH), plus the project's face clips when ``../shared``
is checked out next to the repository.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

V4L_DIR = Path("/sys/class/video4linux")
#: ``tracking --source sample`` plays the clip vendored with the tracker.
SAMPLE_SPEC = "sample"
_REPO = Path(__file__).resolve().parent.parent
#: Same override the test fixtures use, so a relocated ../shared is found by both.
SHARED_ENV = "AVATARCHAT_SHARED"
CLIP_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov")


@dataclass(frozen=True, slots=True)
class Source:
    """One pickable source: ``label`` for people, ``spec`` for ``tracking --source``."""

    label: str
    spec: str
    kind: str  # "camera" | "sample" | "clip" | "custom" (named on the command line)


def shared_faces_dir() -> Path:
    return Path(os.environ.get(SHARED_ENV, _REPO.parent / "shared")) / "testdata" / "faces"


def list_cameras(v4l_dir: Path = V4L_DIR) -> list[Source]:
    """Video capture devices by their driver-reported name (``/dev/videoN``)."""
    out: list[Source] = []
    try:
        entries = sorted(v4l_dir.iterdir(), key=lambda p: (len(p.name), p.name))
    except OSError:
        return out
    for entry in entries:
        if not entry.name.startswith("video"):
            continue
        try:
            name = (entry / "name").read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            name = entry.name
        out.append(Source(f"{name} (/dev/{entry.name})", f"/dev/{entry.name}", "camera"))
    return out


def list_sources(v4l_dir: Path = V4L_DIR, faces_dir: Path | None = None) -> list[Source]:
    """Cameras first, then the bundled sample clip, then test clips from ../shared."""
    sources = list_cameras(v4l_dir)
    sources.append(Source("Sample clip (bundled)", SAMPLE_SPEC, "sample"))
    faces = faces_dir if faces_dir is not None else shared_faces_dir()
    try:
        clips = sorted(p for p in faces.iterdir() if p.suffix.lower() in CLIP_SUFFIXES)
    except OSError:
        clips = []
    for clip in clips:
        sources.append(Source(f"Clip {clip.name}", str(clip), "clip"))
    return sources


def has_camera(sources: list[Source]) -> bool:
    return any(s.kind == "camera" for s in sources)


def check_clip(path: str) -> tuple[str, str]:
    """(absolute path, "") for a video file the tracker can play, or ("", why not).

    Checked where the path is typed, so a mistyped path is corrected there and then rather
    than becoming a tracker that exits once the call has started.
    """
    from i18n import _

    text = path.strip()
    if not text:
        return "", _("Type the path of a video file.")
    full = Path(text).expanduser()
    if not full.exists():
        return "", _("No such file: {path}").format(path=text)
    if full.is_dir():
        return "", _("{path} is a folder: choose a video file in it.").format(path=text)
    if full.suffix.lower() not in CLIP_SUFFIXES:
        return "", _("{name} is not a video clip ({suffixes}).").format(
            name=full.name, suffixes=", ".join(CLIP_SUFFIXES)
        )
    if not os.access(full, os.R_OK):
        return "", _("Cannot read {path}: permission denied.").format(path=text)
    return str(full.resolve()), ""
