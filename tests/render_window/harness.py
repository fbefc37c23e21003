"""Drive a real ``python -m render_window`` under Xvfb: feed frames through a real ShmRing,
request screenshots over stdin, wait for events (never for wall-clock time), analyse pixels.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from protocol.blendshapes import BLENDSHAPE_INDEX, NUM_BLENDSHAPES
from protocol.events import flat, parse_event
from protocol.frame import FrameFlags, ParamFrame
from protocol.ring import ShmRing

REPO = Path(__file__).resolve().parents[2]
Image_ = npt.NDArray[np.uint8]

#: Generous per-wait limit: CI has 2 busy cores and llvmpipe compiles shaders on first use.
WAIT_S = 30.0


class Feeder:
    """Writes the current pose into a ring at 30 Hz from a thread, like the peer process."""

    def __init__(self, ring: ShmRing, hz: float = 30.0) -> None:
        self.writer = ring.writer()
        self.period = 1.0 / hz
        self._lock = threading.Lock()
        self._frame: ParamFrame | None = None
        self.seq = 0
        self._running = True
        self._paused = False
        self._queue: list[ParamFrame] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def set(self, frame_or_weights: ParamFrame | dict[str, float], **kw: Any) -> int:
        """Switch to a pose; returns the seq of its first frame."""
        if isinstance(frame_or_weights, ParamFrame):
            frame = frame_or_weights
        else:
            frame = pose_frame(frame_or_weights, **kw)
        with self._lock:
            self._frame = frame
            self._paused = False
            self.seq += 1
            self._write_locked()
            return self.seq

    def play(self, frames: list[ParamFrame]) -> int:
        """Stream ``frames`` one per tick (then hold the last); returns the first one's seq."""
        with self._lock:
            self._queue = list(frames)
            self._paused = False
            return self.seq + 1

    def pause(self) -> None:
        """Stop writing (the stream 'stops')."""
        with self._lock:
            self._paused = True

    def _write_locked(self) -> None:
        assert self._frame is not None
        f = self._frame
        f.seq = self.seq
        f.timestamp_us = time.monotonic_ns() // 1000
        # Like the networking process: the capture time on the window's clock goes in the slot.
        self.writer.write(f.encode(), f.timestamp_us * 1000)

    def _run(self) -> None:
        next_t = time.monotonic()
        while self._running:
            next_t += self.period
            time.sleep(max(0.0, next_t - time.monotonic()))
            with self._lock:
                if self._queue:
                    self._frame = self._queue.pop(0)
                if self._frame is not None and not self._paused:
                    self.seq += 1
                    self._write_locked()

    def close(self) -> None:
        self._running = False
        self._thread.join(2)
        self.writer.close()


def pose_frame(
    weights: dict[str, float] | None = None,
    rotation: tuple[float, float, float] = (0.0, 0.0, 0.0),
    flags: FrameFlags = FrameFlags.FACE_PRESENT,
) -> ParamFrame:
    w = [0.0] * NUM_BLENDSHAPES
    for name, value in (weights or {}).items():
        w[BLENDSHAPE_INDEX[name]] = value
    return ParamFrame.from_weights(0, 0, w, flags=flags, head_rotation=rotation)


class Window:
    """A render window subprocess with event collection."""

    def __init__(self, display: str, args: list[str], tmp: Path) -> None:
        env = dict(os.environ, DISPLAY=display)
        self.tmp = tmp
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "render_window", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.all_events: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        self._shots = 0

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                ev = flat(parse_event(line))
            except ValueError:
                continue
            self.all_events.append(ev)
            self.events.put(ev)
        self.events.put({"event": "_eof"})

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def wait(
        self,
        name: str,
        pred: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = WAIT_S,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {name!r} event; stderr:\n{''.join(self.stderr[-20:])}")
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if ev["event"] == "_eof":
                raise RuntimeError(
                    f"render window exited ({self.proc.wait()}) waiting for {name!r}:\n"
                    + "".join(self.stderr[-20:])
                )
            if ev["event"] == "error" and ev.get("fatal"):
                raise RuntimeError(f"fatal error from the window: {ev['message']}")
            if ev["event"] == name and (pred is None or pred(ev)):
                return ev

    def cmd(self, name: str, **fields: Any) -> None:
        assert self.proc.stdin is not None
        # Raw lines, not protocol.commands objects: this also tests the window's parser.
        self.proc.stdin.write(json.dumps({"cmd": name, **fields}) + "\n")
        self.proc.stdin.flush()

    def shot(self, min_seq: int | None = None, **fields: Any) -> Image_:
        """Screenshot of the first presented frame that shows ``min_seq`` settled."""
        self._shots += 1
        path = self.tmp / f"shot-{self._shots:03d}.png"
        if min_seq is not None:
            fields["min_seq"] = min_seq
        self.cmd("screenshot", path=str(path), **fields)
        ev = self.wait("screenshot", lambda e: e["path"] == str(path))
        return load(Path(ev["path"]))

    def burst(self, count: int, every: int) -> list[tuple[dict[str, Any], Image_]]:
        self._shots += 1
        path = self.tmp / f"burst-{self._shots:03d}.png"
        self.cmd("screenshot", path=str(path), count=count, every=every)
        out = []
        for _ in range(count):
            ev = self.wait("screenshot", lambda e: e["path"].startswith(str(path.with_suffix(""))))
            out.append(ev)
        out.sort(key=lambda e: e["index"])
        return [(e, load(Path(e["path"]))) for e in out]

    def close(self) -> int:
        if self.proc.poll() is None:
            try:
                self.cmd("quit")
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def load(path: Path) -> Image_:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


# -- pixel analysis -------------------------------------------------------------------------
def changed(a: Image_, b: Image_, threshold: int = 40) -> npt.NDArray[np.bool_]:
    """Pixels whose colour differs clearly (sum of channel differences) between two shots."""
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).sum(axis=-1) > threshold


def centroid(mask: npt.NDArray[np.bool_]) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return float(xs.mean()), float(ys.mean())


def bbox(mask: npt.NDArray[np.bool_], pad: int = 0) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    return (
        max(0, int(xs.min()) - pad),
        max(0, int(ys.min()) - pad),
        min(w, int(xs.max()) + 1 + pad),
        min(h, int(ys.max()) + 1 + pad),
    )


def foreground(img: Image_, background: tuple[int, int, int]) -> npt.NDArray[np.bool_]:
    return np.abs(img.astype(np.int16) - np.array(background)).sum(axis=-1) > 30


def shifted_distance(img: Image_, ref: Image_, box: tuple[int, int, int, int], shift: int) -> float:
    """Mean abs difference of ``img`` vs ``ref`` inside ``box``, minimised over translations of
    up to ``shift`` px (tolerates sway and head motion; a closed eye still differs)."""
    x0, y0, x1, y1 = box
    target = ref[y0:y1, x0:x1].astype(np.int16)
    best = float("inf")
    h, w = img.shape[:2]
    for dy in range(-shift, shift + 1, 3):
        for dx in range(-shift, shift + 1, 3):
            if x0 + dx < 0 or y0 + dy < 0 or x1 + dx > w or y1 + dy > h:
                continue
            cand = img[y0 + dy : y1 + dy, x0 + dx : x1 + dx].astype(np.int16)
            best = min(best, float(np.abs(cand - target).mean()))
    return best


def closedness(
    img: Image_,
    box: tuple[int, int, int, int],
    open_ref: Image_,
    closed_ref: Image_,
    shift: int = 12,
) -> float:
    """0 = looks like the open eye, 1 = looks like the closed eye (shift-tolerant)."""
    d_open = shifted_distance(img, open_ref, box, shift)
    d_closed = shifted_distance(img, closed_ref, box, shift)
    return d_open / max(1e-6, d_open + d_closed)
