"""Webcams through OpenCV's V4L2 backend, and the list of cameras with their names.

Faults are expected here (no camera, a camera busy in another app, a USB cable pulled mid-call):
each one becomes a :class:`CameraError` with a sentence a user understands; the runner shows it
as a ``camera_error`` status and retries with backoff, never taking the call down.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from .errors import CameraError
from .sources import CapturedFrame, Source

log = logging.getLogger(__name__)

SYSFS_V4L = Path("/sys/class/video4linux")
#: Ask cameras for MJPG: at 640x480@30 raw YUYV saturates USB 2 on many webcams.
_FOURCC_MJPG = cv2.VideoWriter.fourcc(*"MJPG")


@dataclass(frozen=True, slots=True)
class CameraInfo:
    index: int
    path: str
    name: str


def list_cameras(sysfs: Path = SYSFS_V4L) -> list[CameraInfo]:
    """Video capture nodes with their driver-given names (``/sys/class/video4linux/*/name``).

    UVC cameras expose a second node per camera for metadata; its ``index`` attribute is 1, so
    only index-0 nodes are listed."""
    cameras = []
    try:
        entries = sorted(sysfs.iterdir(), key=lambda p: _number(p.name))
    except OSError:
        return []
    for entry in entries:
        m = re.fullmatch(r"video(\d+)", entry.name)
        if not m:
            continue
        try:
            if (entry / "index").read_text().strip() not in ("", "0"):
                continue
        except OSError:
            pass
        try:
            name = (entry / "name").read_text().strip()
        except OSError:
            name = entry.name
        cameras.append(CameraInfo(int(m.group(1)), f"/dev/{entry.name}", name))
    return cameras


def _number(name: str) -> int:
    digits = re.sub(r"\D", "", name)
    return int(digits) if digits else -1


class CameraSource(Source):
    """A V4L2 webcam. The camera paces itself: :meth:`read` blocks until its next frame."""

    kind = "camera"

    def __init__(
        self,
        index: int,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        flip: bool = False,
    ) -> None:
        super().__init__(width=width, height=height, flip=flip)
        self.index = index
        self.path = f"/dev/video{index}"
        self.requested_fps = fps
        self.fps = fps or 30.0
        self.description = f"camera {self.path}"
        self._cap: Any = None

    def open(self) -> None:
        if not os.path.exists(self.path):
            raise CameraError(f"no camera at {self.path}")
        cap = cv2.VideoCapture(self.index, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"camera {self.path} cannot be opened (busy in another app?)")
        cap.set(cv2.CAP_PROP_FOURCC, _FOURCC_MJPG)
        if self.width and self.height:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.requested_fps:
            cap.set(cv2.CAP_PROP_FPS, self.requested_fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a queue of stale ones
        reported = cap.get(cv2.CAP_PROP_FPS)
        if reported and reported > 0:
            self.fps = float(reported)
        self._cap = cap
        name = next((c.name for c in list_cameras() if c.index == self.index), "")
        if name:
            self.description = f"camera {self.path} ({name})"
        log.info("opened %s at %.0f FPS", self.description, self.fps)

    def read(self, stop: Any) -> CapturedFrame | None:
        if self._cap is None:
            self.open()
        if not self._cap.grab():
            self.close()
            raise CameraError(f"camera {self.path} stopped delivering frames (unplugged or busy?)")
        capture_ns = time.monotonic_ns()
        t0 = time.perf_counter()
        ok, bgr = self._cap.retrieve()
        if not ok or bgr is None:
            self.close()
            raise CameraError(f"camera {self.path} returned an unreadable frame")
        rgb = self.convert(bgr)
        return CapturedFrame(capture_ns, rgb=rgb, decode_ms=(time.perf_counter() - t0) * 1000)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
