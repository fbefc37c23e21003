"""Frame sources: a video clip (looped), a still image, synthetic parameters, and (in
:mod:`tracking.camera`) webcams; plus the spec strings that name them on the command line.

Spec strings: ``camera:0`` or ``/dev/video0`` (a webcam), a path to ``.mp4``/``.mov``/``.mkv``/
``.webm``/``.avi`` (a clip) or ``.jpg``/``.png``/``.bmp`` (a still), ``sample`` (the vendored
clip, the built-in "camera" for machines without one), ``synthetic`` (smoothly moving parameters
and no image at all: exercises everything after inference without a model), ``vmc:PORT`` or
``vmc:HOST:PORT`` (a VMC sender's face, :mod:`tracking.vmc_source`).

Timing: a source stamps each frame with ``time.monotonic_ns()`` at the moment it becomes
available to the tracker (a camera's grab returned; a clip's or still's pacing deadline came);
decoding and colour conversion happen after the stamp and are reported as ``decode_ms``, so
measured latency covers them. Clips and stills are paced on monotonic deadlines at their own
frame rate (or ``fps``), or run unpaced for benchmarks.
"""

from __future__ import annotations

import abc
import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from protocol.blendshapes import BLENDSHAPE_INDEX, NUM_BLENDSHAPES

from .errors import SourceError
from .params import RawParams

log = logging.getLogger(__name__)

SAMPLE_CLIP = Path(__file__).resolve().parent / "samples" / "d10.mp4"
CLIP_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}
STILL_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
#: Frame rate for stills and synthetic frames unless told otherwise (a typical webcam).
DEFAULT_FPS = 30.0


@dataclass(slots=True)
class CapturedFrame:
    """One frame for the tracker: an RGB image (HxWx3 uint8, C-contiguous) or, from the
    synthetic source, ready-made parameters (``raw``; ``None`` there means "no face")."""

    capture_ns: int
    rgb: NDArray[np.uint8] | None = None
    raw: RawParams | None = None
    decode_ms: float = 0.0
    #: The frame's time on the source's own timeline when that differs from capture time (an
    #: unpaced clip runs ~5x faster than real time): smoothing, hold timing and MediaPipe's
    #: video timestamps use it so they see the motion as filmed. None = same as capture_ns.
    media_ns: int | None = None


class Pacer:
    """Monotonic deadlines at ``fps``. A source that falls behind (a slow decode, a stall)
    re-anchors instead of bursting frames to catch up: a late frame is shown late, never twice
    as fast afterwards."""

    def __init__(self, fps: float) -> None:
        self.period_ns = int(1e9 / fps)
        self._next: int | None = None

    def wait(self, stop: threading.Event) -> bool:
        """Sleep until the next deadline; False if ``stop`` was set meanwhile."""
        now = time.monotonic_ns()
        if self._next is None or now - self._next > self.period_ns:
            self._next = now
        delay = self._next - now
        if delay > 0 and stop.wait(delay / 1e9):
            return False
        self._next += self.period_ns
        return not stop.is_set()


class EpochPacer:
    """Deadlines on a timeline shared with another process: frame ``k`` is due at
    ``epoch + k / fps``. Used when the networking process plays the same clip's audio
    (``--mic clip``): both children get one epoch from the call and place every frame or sample
    at its instant on it, so voice and face stay together without a channel between them.

    Unlike :class:`Pacer` it never re-anchors: a source that falls behind (the model was still
    loading at the epoch, a stall) *skips* the frames whose instants have passed, so frame ``k``
    always shows what the clip shows at ``epoch + k / fps``."""

    def __init__(self, fps: float, epoch_ns: int) -> None:
        self.period_ns = int(1e9 / fps)
        self.epoch_ns = epoch_ns
        self.index = 0  # the next frame to show

    def wait(self, stop: threading.Event) -> int | None:
        """Sleep until the next frame's instant; how many frames were skipped to stay on the
        timeline (0 normally), or None if ``stop`` was set meanwhile."""
        now = time.monotonic_ns()
        due = self.epoch_ns + self.index * self.period_ns
        skipped = 0
        if now - due >= self.period_ns:
            target = (now - self.epoch_ns) // self.period_ns
            skipped = int(target - self.index)
            self.index = int(target)
            due = self.epoch_ns + self.index * self.period_ns
        if due > now and stop.wait((due - now) / 1e9):
            return None
        self.index += 1
        return None if stop.is_set() else skipped


class Source(abc.ABC):
    """Something that yields :class:`CapturedFrame`s. Not thread-safe: one reader."""

    kind = "source"
    description = "source"
    fps: float = DEFAULT_FPS
    paced = True

    def __init__(self, *, width: int | None = None, height: int | None = None, flip: bool = False):
        self.width = width
        self.height = height
        self.flip = flip
        self._media_origin_ns: int | None = None
        self._media_index = 0

    def media_time(self) -> int | None:
        """Media timestamp of the next frame for unpaced sources (None when paced)."""
        if self.paced:
            return None
        if self._media_origin_ns is None:
            self._media_origin_ns = time.monotonic_ns()
        t = self._media_origin_ns + round(self._media_index * 1e9 / self.fps)
        self._media_index += 1
        return t

    def open(self) -> None:  # noqa: B027 - optional hook
        """Acquire the device or file; raises :class:`SourceError`."""

    @abc.abstractmethod
    def read(self, stop: threading.Event) -> CapturedFrame | None:
        """The next frame (blocking for pacing); None when the source ended or ``stop`` is set."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device or file (idempotent)."""

    def stats(self) -> dict[str, object]:
        """Source-specific figures for the tracker's ``stats`` event (none by default)."""
        return {}

    def convert(self, bgr: Any) -> NDArray[np.uint8]:
        """OpenCV BGR (uint8) -> RGB, resized to the requested size and flipped if asked."""
        if self.width and self.height and (bgr.shape[1], bgr.shape[0]) != (self.width, self.height):
            bgr = cv2.resize(bgr, (self.width, self.height), interpolation=cv2.INTER_AREA)
        if self.flip:
            bgr = cv2.flip(bgr, 1)
        rgb: NDArray[np.uint8] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return rgb


class ClipSource(Source):
    """A video file, looped by default, paced at its own frame rate unless ``paced=False``."""

    kind = "clip"

    def __init__(
        self,
        path: str | Path,
        *,
        loop: bool = True,
        paced: bool = True,
        fps: float | None = None,
        width: int | None = None,
        height: int | None = None,
        flip: bool = False,
        epoch_ns: int | None = None,
    ) -> None:
        super().__init__(width=width, height=height, flip=flip)
        self.path = Path(path)
        #: Shared timeline with the networking process's clip audio (see :class:`EpochPacer`).
        self.epoch_ns = epoch_ns
        self.frames_skipped = 0
        self.loop = loop
        self.paced = paced
        self.requested_fps = fps
        self.description = f"clip {self.path.name}"
        self.frames_read = 0
        self._cap: cv2.VideoCapture | None = None
        self._pacer: Pacer | EpochPacer | None = None

    def open(self) -> None:
        if not self.path.is_file():
            raise SourceError(f"clip not found: {self.path}")
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise SourceError(f"cannot open clip {self.path} (not a video OpenCV can decode?)")
        native = cap.get(cv2.CAP_PROP_FPS)
        self.fps = self.requested_fps or (native if native and 1 <= native <= 240 else DEFAULT_FPS)
        self._cap = cap
        if not self.paced:
            self._pacer = None
        elif self.epoch_ns is not None:
            self._pacer = EpochPacer(self.fps, self.epoch_ns)
        else:
            self._pacer = Pacer(self.fps)

    def read(self, stop: threading.Event) -> CapturedFrame | None:
        if self._cap is None:
            self.open()
        assert self._cap is not None
        if isinstance(self._pacer, EpochPacer):
            skipped = self._pacer.wait(stop)
            if skipped is None:
                return None
            self._skip(skipped)
        elif self._pacer is not None and not self._pacer.wait(stop):
            return None
        if stop.is_set():
            return None
        capture_ns = time.monotonic_ns()
        t0 = time.perf_counter()
        ok, bgr = self._read_looping()
        if ok is None:
            return None
        self.frames_read += 1
        rgb = self.convert(bgr)
        return CapturedFrame(
            capture_ns,
            rgb=rgb,
            decode_ms=(time.perf_counter() - t0) * 1000,
            media_ns=self.media_time(),
        )

    def stats(self) -> dict[str, object]:
        return {"clip_frames_skipped": self.frames_skipped} if self.epoch_ns is not None else {}

    def _skip(self, count: int) -> None:
        """Pass over ``count`` frames without converting them (grab only decodes)."""
        assert self._cap is not None
        for _ in range(count):
            if not self._cap.grab():
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                self._cap.grab()
        self.frames_skipped += count

    def _read_looping(self) -> tuple[bool | None, Any]:
        """The next frame, rewinding at the end when looping; (None, None) at a real end."""
        assert self._cap is not None
        ok, bgr = self._cap.read()
        if not ok:
            if not self.loop or self.frames_read == 0:
                if self.frames_read == 0:
                    raise SourceError(f"clip {self.path} has no readable frames")
                return None, None
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, bgr = self._cap.read()
            if not ok:
                raise SourceError(f"clip {self.path} cannot be rewound")
        return True, bgr

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class StillSource(Source):
    """One image, repeated at ``fps`` (decoded once)."""

    kind = "still"

    def __init__(
        self,
        path: str | Path,
        *,
        fps: float | None = None,
        paced: bool = True,
        width: int | None = None,
        height: int | None = None,
        flip: bool = False,
    ) -> None:
        super().__init__(width=width, height=height, flip=flip)
        self.path = Path(path)
        self.fps = fps or DEFAULT_FPS
        self.paced = paced
        self.description = f"still {self.path.name}"
        self._rgb: NDArray[np.uint8] | None = None
        self._pacer: Pacer | None = None

    def open(self) -> None:
        bgr = cv2.imread(str(self.path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise SourceError(f"cannot read image {self.path}")
        self._rgb = np.ascontiguousarray(self.convert(bgr))
        self._pacer = Pacer(self.fps) if self.paced else None

    def read(self, stop: threading.Event) -> CapturedFrame | None:
        if self._rgb is None:
            self.open()
        if self._pacer is not None and not self._pacer.wait(stop):
            return None
        return CapturedFrame(time.monotonic_ns(), rgb=self._rgb, media_ns=self.media_time())


class SyntheticSource(Source):
    """Smoothly moving parameters and no image: a face nodding, turning, talking and blinking
    every 3 s. Deterministic in the frame index, so tests can predict it."""

    kind = "synthetic"
    description = "synthetic face"
    BLINK_PERIOD_S = 3.0
    BLINK_S = 0.2

    def __init__(self, *, fps: float | None = None, paced: bool = True, flip: bool = False):
        super().__init__(flip=flip)
        self.fps = fps or DEFAULT_FPS
        self.paced = paced
        self.index = 0
        self._pacer = Pacer(self.fps) if paced else None

    @staticmethod
    def params_at(t: float) -> RawParams:
        w = np.zeros(NUM_BLENDSHAPES)
        phase = (t % SyntheticSource.BLINK_PERIOD_S) / SyntheticSource.BLINK_S
        blink = math.sin(math.pi * phase) if phase < 1 else 0.0
        w[BLENDSHAPE_INDEX["eyeBlinkLeft"]] = w[BLENDSHAPE_INDEX["eyeBlinkRight"]] = blink
        w[BLENDSHAPE_INDEX["jawOpen"]] = max(0.0, math.sin(2 * math.pi * 0.7 * t)) * 0.6
        smile = 0.5 + 0.5 * math.sin(2 * math.pi * 0.1 * t)
        w[BLENDSHAPE_INDEX["mouthSmileLeft"]] = w[BLENDSHAPE_INDEX["mouthSmileRight"]] = smile
        w[BLENDSHAPE_INDEX["browInnerUp"]] = 0.3 + 0.3 * math.sin(2 * math.pi * 0.23 * t)
        rotation = np.array(
            [
                0.15 * math.sin(2 * math.pi * 0.13 * t),
                0.35 * math.sin(2 * math.pi * 0.2 * t),
                0.1 * math.sin(2 * math.pi * 0.17 * t),
            ]
        )
        translation = np.array(
            [2.0 * math.sin(2 * math.pi * 0.11 * t), 1.0 * math.sin(2 * math.pi * 0.07 * t), -50.0]
        )
        raw = RawParams(w, rotation, translation)
        return raw

    def read(self, stop: threading.Event) -> CapturedFrame | None:
        if self._pacer is not None and not self._pacer.wait(stop):
            return None
        capture_ns = time.monotonic_ns()
        raw = self.params_at(self.index / self.fps)
        self.index += 1
        return CapturedFrame(
            capture_ns, raw=raw.mirrored() if self.flip else raw, media_ns=self.media_time()
        )


def parse_source(
    spec: str,
    *,
    fps: float | None = None,
    width: int | None = None,
    height: int | None = None,
    flip: bool = False,
    paced: bool = True,
    loop: bool = True,
    clip_epoch_ns: int | None = None,
) -> Source:
    """Build the source a spec string names (see the module docstring); raises SourceError.
    ``clip_epoch_ns`` puts a clip on a timeline shared with the clip's audio (EpochPacer)."""
    from .camera import CameraSource  # camera imports this module
    from .vmc_source import VmcSource, parse_vmc_spec  # so does vmc_source

    spec = spec.strip()
    vmc = parse_vmc_spec(spec)
    if vmc is not None:
        return VmcSource(*vmc)
    if spec == "synthetic":
        return SyntheticSource(fps=fps, paced=paced, flip=flip)
    if spec == "sample":
        return ClipSource(
            SAMPLE_CLIP,
            loop=loop,
            paced=paced,
            fps=fps,
            width=width,
            height=height,
            flip=flip,
            epoch_ns=clip_epoch_ns,
        )
    index: int | None = None
    if spec == "camera":
        index = 0
    elif spec.startswith("camera:") and spec[7:].isdigit():
        index = int(spec[7:])
    elif spec.startswith("/dev/video") and spec[10:].isdigit():
        index = int(spec[10:])
    if index is not None:
        return CameraSource(index, width=width, height=height, fps=fps, flip=flip)
    suffix = Path(spec).suffix.lower()
    if suffix in CLIP_SUFFIXES:
        return ClipSource(
            spec,
            loop=loop,
            paced=paced,
            fps=fps,
            width=width,
            height=height,
            flip=flip,
            epoch_ns=clip_epoch_ns,
        )
    if suffix in STILL_SUFFIXES:
        return StillSource(spec, fps=fps, paced=paced, width=width, height=height, flip=flip)
    raise SourceError(
        f"unknown source {spec!r}: use camera:N, /dev/videoN, a .mp4/.jpg/.png path, "
        "'sample', 'synthetic' or vmc:PORT"
    )
