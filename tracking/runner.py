"""The tracking process's main loop: source -> tracker -> ring (and/or JSON), plus the control
channel to its parent.

Child contract (``protocol.control``): events are JSON lines on stdout - ``ready`` {source, fps,
ring}, ``status`` {state, message} with state one of ``running``, ``no_face``, ``paused``,
``calibrating``, ``camera_error``; ``stats`` about once a second; ``error`` {message, fatal};
``bye``. Commands are JSON lines on stdin:

==============  ===========================================================================
``quit``        stop (EOF on stdin and SIGTERM do the same)
``pause``       ``{"on": bool}``: stop inference; frames carry only the PAUSED flag (privacy)
``recalibrate`` ``{"seconds": float}`` (optional, default 3): record the resting face again
``mirror``      ``{"on": bool}``: selfie view: track the flipped image, correct left/right back
``emotion``     ``{"preset": int (protocol.frame.Emotion), "weight": 0..1}``
``smoothing``   ``{"enabled": bool, "<group>": {"min_cutoff": .., "beta": .., "d_cutoff": ..}}``
==============  ===========================================================================

Only parameter frames (into the ring) and these small JSON lines leave the process: images stay
in this process's memory and are never written anywhere.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from protocol.control import drain, event_line, read_commands
from protocol.errors import DecodeError
from protocol.frame import Emotion, ParamFrame
from protocol.ring import RingWriter

from .calibration import Calibration
from .errors import CalibrationError, CameraError
from .pipeline import Tracker
from .sources import Source
from .stats import FrameStats

log = logging.getLogger(__name__)

#: Camera retry backoff: first retry soon (a busy camera is often freed within a second), then
#: back off so a missing camera costs nothing while the call goes on.
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 5.0
STATS_INTERVAL_S = 1.0


class EventWriter:
    """Writes control events to the parent (one JSON line each); quiet when ``stream`` is None.
    A vanished parent (broken pipe) sets ``broken`` so the loop can stop."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self.broken = False

    def __call__(self, event: str, **fields: Any) -> None:
        if self.stream is None:
            if event in ("status", "error"):
                log.info("%s: %s", event, fields.get("message", ""))
            return
        try:
            self.stream.write(event_line(event, **fields))
            self.stream.flush()
        except (BrokenPipeError, ValueError, OSError):
            self.broken = True


class CommandReader:
    """Reads command lines from ``stream`` on a daemon thread into a queue; EOF becomes quit."""

    def __init__(self, stream: TextIO) -> None:
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self._stream = stream
        self._thread = threading.Thread(target=self._run, name="tracking-stdin", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        read_commands(self._stream, self.queue.put, self._invalid, "eof")

    def _invalid(self, error: DecodeError) -> None:
        self.queue.put({"cmd": "_invalid", "message": str(error)})

    def pending(self) -> list[dict[str, Any]]:
        return drain(self.queue)


class TrackingLoop:
    """Runs a source through a tracker until stopped, writing frames out and talking to the
    parent. ``run`` returns an exit code."""

    def __init__(
        self,
        source: Source,
        tracker: Tracker,
        *,
        ring: RingWriter | None = None,
        json_out: TextIO | None = None,
        events: EventWriter | None = None,
        commands: CommandReader | None = None,
        max_frames: int | None = None,
        duration_s: float | None = None,
        stats: FrameStats | None = None,
        stop: threading.Event | None = None,
        on_frame: Callable[[ParamFrame], None] | None = None,
        backoff_s: tuple[float, float] = (BACKOFF_START_S, BACKOFF_MAX_S),
    ) -> None:
        self.source = source
        self.tracker = tracker
        self.ring = ring
        self.json_out = json_out
        self.events = events or EventWriter(None)
        self.commands = commands
        self.max_frames = max_frames
        self.duration_s = duration_s
        self.stats = stats or FrameStats()
        self.stop = stop or threading.Event()
        #: Called with each emitted frame (benchmarks read ``tracker.last_raw`` alongside).
        self.on_frame = on_frame
        self.backoff_start_s, self.backoff_max_s = backoff_s
        self.paused = False
        self.state = ""
        self.last_frame: ParamFrame | None = None
        self._next_stats = 0.0

    # -- helpers ------------------------------------------------------------------------------
    def _status(self, state: str, message: str) -> None:
        if state != self.state:
            self.state = state
            self.events("status", state=state, message=message)

    def _error(self, message: str, fatal: bool = False) -> None:
        log.warning("%s", message)
        self.events("error", message=message, fatal=fatal)

    def _handle(self, cmd: dict[str, Any]) -> None:
        name = cmd.get("cmd")
        try:
            if name == "quit":
                self.stop.set()
            elif name == "pause":
                self.paused = bool(cmd.get("on", True))
                if self.paused:
                    self._status("paused", "tracking paused: no face data is sent")
                else:
                    self.state = ""  # the next frame reports running/no_face
            elif name == "recalibrate":
                seconds = float(cmd.get("seconds", 3.0))
                self.tracker.start_calibration(seconds)
                self._status("calibrating", f"keep a relaxed, neutral face for {seconds:g} s")
            elif name == "mirror":
                self.tracker.mirror = bool(cmd.get("on", True))
                word = "on" if self.tracker.mirror else "off"
                self.events(
                    "status",
                    state=self.state or "running",
                    message=f"mirror {word} (frames stay in the subject's own left/right)",
                )
            elif name == "emotion":
                preset = cmd.get("preset", 0)
                self.tracker.set_emotion(Emotion(int(preset)), float(cmd.get("weight", 1.0)))
            elif name == "smoothing":
                changes = {k: v for k, v in cmd.items() if k != "cmd"}
                self.tracker.set_smoothing(self.tracker.smoother.config.updated(changes))
            elif name == "_invalid":
                self._error(f"ignored a bad command line: {cmd.get('message')}")
            else:
                self._error(f"unknown command {name!r}")
        except (TypeError, ValueError, CalibrationError) as e:
            self._error(f"bad {name!r} command: {e}")

    def _poll_commands(self) -> None:
        if self.commands is not None:
            for cmd in self.commands.pending():
                self._handle(cmd)

    def _report_calibration(self) -> None:
        result = self.tracker.calibration_result
        if result is None:
            return
        self.tracker.calibration_result = None
        self.state = ""
        if isinstance(result, Calibration):
            message = f"calibrated from {result.frames} frames of resting face"
            self.events("status", state="calibrated", message=message)
        else:
            self._error(f"calibration failed: {result}")

    # -- main loop ----------------------------------------------------------------------------
    def run(self) -> int:
        start = time.monotonic()
        self._next_stats = start + STATS_INTERVAL_S
        backoff = self.backoff_start_s
        while not self.stop.is_set() and not self.events.broken:
            self._tick()
            if self.stop.is_set():
                break
            if self.duration_s is not None and time.monotonic() - start >= self.duration_s:
                break
            try:
                captured = self.source.read(self.stop)
            except CameraError as e:
                self._status("camera_error", f"{e}; retrying")
                log.info("%s; retrying in %g s", e, backoff)
                self.source.close()
                self._sleep_ticking(backoff)
                backoff = min(backoff * 2, self.backoff_max_s)
                continue
            if captured is None:
                break  # a clip played once, or stop was set
            backoff = self.backoff_start_s
            self._one_frame(captured)
            if self.max_frames is not None and self.stats.frames >= self.max_frames:
                break
        self._emit_stats()
        return 0

    def _tick(self) -> None:
        """Commands and the periodic stats event; runs between frames and while retrying."""
        self._poll_commands()
        now = time.monotonic()
        if now >= self._next_stats:
            self._emit_stats()
            self._next_stats = now + STATS_INTERVAL_S

    def _sleep_ticking(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.stop.wait(min(left, 0.1))
            self._tick()

    def _one_frame(self, captured: Any) -> None:
        tracker = self.tracker
        if self.paused:
            frame = tracker.paused_frame(captured.capture_ns)
            tracker.times.capture = captured.decode_ms
        else:
            frame = tracker.process_captured(captured)
        times = tracker.times
        t0 = time.perf_counter()
        data = frame.encode()
        t1 = time.perf_counter()
        if self.ring is not None:
            self.ring.write(data)
        t2 = time.perf_counter()
        times.encode = (t1 - t0) * 1000
        times.ring = (t2 - t1) * 1000
        if self.json_out is not None:
            try:
                self.json_out.write(frame.to_seed_json() + "\n")
                self.json_out.flush()
            except (BrokenPipeError, OSError):
                self.stop.set()
        self.stats.record(times, frame.face_present)
        self.last_frame = frame
        if self.on_frame is not None:
            self.on_frame(frame)
        self._report_calibration()
        if not self.paused and not tracker.calibrating:
            if frame.face_present:
                self._status("running", f"tracking {self.source.description}")
            elif not frame.flags & frame.flags.HELD:
                self._status("no_face", "no face in view")

    def _emit_stats(self) -> None:
        report = self.stats.report()
        face = self.last_frame.face_present if self.last_frame is not None else False
        self.events(
            "stats",
            **report,
            face_present=face,
            paused=self.paused,
            mirror=self.tracker.mirror,
            calibrated=self.tracker.calibration is not None,
            source=self.source.description,
        )
