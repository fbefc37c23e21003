"""The tracking process's main loop: source -> tracker -> ring (and/or JSON), plus the control
channel to its parent.

Child contract (``protocol.control``): typed events on stdout through
:class:`protocol.channel.ChildChannel` - ``ready``, ``status`` with state one of ``running``,
``no_face``, ``paused``, ``calibrating``, ``calibrated``, ``camera_error``; ``stats`` about once a
second; ``gesture`` once per hand gesture recognised (body tracking on); ``error``; ``bye``.
Commands (:mod:`protocol.commands`): ``quit`` (EOF on stdin and SIGTERM do the same), ``pause``,
``recalibrate``, ``mirror``, ``emotion``, ``smoothing``.

``--body auto`` (a :class:`tracking.body_policy.BodyGovernor` given as ``body_governor``): each
stats report also goes to the governor; when it says tracking stays below 30 fps because of the
work, the hand and pose models are closed, a ``status`` with state ``body_off`` says why (in the
user's language) and the stats carry ``body: false`` with ``body_off: "slow"``.

Only parameter frames (into the ring) and these small JSON lines leave the process: images stay
in this process's memory and are never written anywhere.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from i18n import _
from protocol.channel import ChildChannel
from protocol.commands import (
    Command,
    Mirror,
    Pause,
    Quit,
    Recalibrate,
    SetEmotion,
    Smoothing,
)
from protocol.events import Error, GestureMade, Stats, Status
from protocol.frame import Emotion, ParamFrame
from protocol.ring import RingWriter

from .body_policy import BodyGovernor
from .calibration import Calibration
from .errors import CalibrationError, CameraError
from .pipeline import Tracker
from .smoothing import amount_groups
from .sources import Source
from .stats import FrameStats

log = logging.getLogger(__name__)

#: Camera retry backoff: first retry soon (a busy camera is often freed within a second), then
#: back off so a missing camera costs nothing while the call goes on.
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 5.0
STATS_INTERVAL_S = 1.0


def smoothing_changes(cmd: Smoothing) -> dict[str, Any]:
    """A ``smoothing`` command as :meth:`SmoothingConfig.updated` changes: the one-knob
    ``amount`` first, explicit ``groups`` on top."""
    changes: dict[str, Any] = {"enabled": cmd.enabled}
    if cmd.amount is not None:
        changes.update(amount_groups(cmd.amount))
    changes.update(cmd.groups)
    return changes


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
        channel: ChildChannel | None = None,
        max_frames: int | None = None,
        duration_s: float | None = None,
        stats: FrameStats | None = None,
        stop: threading.Event | None = None,
        on_frame: Callable[[ParamFrame], None] | None = None,
        backoff_s: tuple[float, float] = (BACKOFF_START_S, BACKOFF_MAX_S),
        body_governor: BodyGovernor | None = None,
    ) -> None:
        self.source = source
        self.tracker = tracker
        self.ring = ring
        self.json_out = json_out
        #: The parent's control channel (a quiet one when run on its own).
        self.channel = channel or ChildChannel(quiet=True)
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
        self._started = time.monotonic()
        #: ``--body auto``: turns the body off when tracking is too slow (None: never).
        self.body_governor = body_governor
        #: Why the body went off during the run ("slow"), or None.
        self.body_off: str | None = None

    # -- helpers ------------------------------------------------------------------------------
    def _status(self, state: str, message: str) -> None:
        if state != self.state:
            self.state = state
            self.channel.emit(Status(state=state, message=message))

    def _error(self, message: str, fatal: bool = False) -> None:
        log.warning("%s", message)
        self.channel.emit(Error(message=message, fatal=fatal))

    def _handle(self, cmd: Command) -> None:
        try:
            if isinstance(cmd, Quit):
                self.stop.set()
            elif isinstance(cmd, Pause):
                self.paused = cmd.on
                if self.paused:
                    self._status("paused", _("tracking paused: no face data is sent"))
                else:
                    self.state = ""  # the next frame reports running/no_face
            elif isinstance(cmd, Recalibrate):
                self.tracker.start_calibration(cmd.seconds)
                how = _("keep a relaxed, neutral face for {seconds} s")
                self._status("calibrating", how.format(seconds=f"{cmd.seconds:g}"))
            elif isinstance(cmd, Mirror):
                self.tracker.mirror = cmd.on
                if cmd.on:
                    said = _("mirror on (frames stay in the subject's own left/right)")
                else:
                    said = _("mirror off (frames stay in the subject's own left/right)")
                self.channel.emit(Status(state=self.state or "running", message=said))
            elif isinstance(cmd, SetEmotion):
                self.tracker.set_emotion(Emotion(cmd.preset), cmd.weight)
            elif isinstance(cmd, Smoothing):
                config = self.tracker.smoother.config
                changes = smoothing_changes(cmd)
                self.tracker.set_smoothing(config.updated(changes))
            else:
                log.warning("ignoring %s: not a tracking command", cmd.KIND)
        except (TypeError, ValueError, CalibrationError) as e:
            self._error(f"bad {cmd.KIND!r} command: {e}")

    def _poll_commands(self) -> None:
        for cmd in self.channel.pending():
            self._handle(cmd)

    def _report_calibration(self) -> None:
        result = self.tracker.calibration_result
        if result is None:
            return
        self.tracker.calibration_result = None
        self.state = ""
        if isinstance(result, Calibration):
            message = _("calibrated from {count} frames of resting face").format(
                count=result.frames
            )
            self.channel.emit(Status(state="calibrated", message=message))
        else:
            self._error(f"calibration failed: {result}")

    # -- main loop ----------------------------------------------------------------------------
    def run(self) -> int:
        start = self._started = time.monotonic()
        self._next_stats = start + STATS_INTERVAL_S
        backoff = self.backoff_start_s
        while not self.stop.is_set() and not self.channel.broken:
            self._tick()
            if self.stop.is_set():
                break
            if self.duration_s is not None and time.monotonic() - start >= self.duration_s:
                break
            try:
                captured = self.source.read(self.stop)
            except CameraError as e:
                self._status("camera_error", _("{error}; retrying").format(error=e))
                log.info("%s; retrying in %g s", e, backoff)
                self.source.close()
                self._sleep_ticking(backoff)
                backoff = min(backoff * 2, self.backoff_max_s)
                continue
            if captured is None:
                break  # a clip played once, or stop was set
            backoff = self.backoff_start_s
            t0 = time.perf_counter()
            self._one_frame(captured, t0)
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

    def _one_frame(self, captured: Any, started: float) -> None:
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
            self.ring.write(data, frame.timestamp_us * 1000)  # capture time, this host
        t2 = time.perf_counter()
        times.encode = (t1 - t0) * 1000
        times.ring = (t2 - t1) * 1000
        if self.json_out is not None:
            try:
                self.json_out.write(frame.to_seed_json() + "\n")
                self.json_out.flush()
            except (BrokenPipeError, OSError):
                self.stop.set()
        # The face frame is out: now this image's hand or pose model (Tracker.defer_body).
        b0 = time.perf_counter()
        tracker.track_pending_body()
        b1 = time.perf_counter()
        body_ms = (b1 - b0) * 1000 if tracker.body_tracker is not None else None
        busy_s = b1 - started + captured.decode_ms / 1000  # the source's decode is ours too
        self.stats.record(times, frame.face_present, busy_s=busy_s, body_ms=body_ms)
        self.last_frame = frame
        for gesture in tracker.take_gestures():
            self.channel.emit(GestureMade(name=gesture.name, side=int(gesture.side)))
        if self.on_frame is not None:
            self.on_frame(frame)
        self._report_calibration()
        if not self.paused and not tracker.calibrating:
            if frame.face_present:
                what = self.source.description
                self._status("running", _("tracking {source}").format(source=what))
            elif not frame.flags & frame.flags.HELD:
                self._status("no_face", _("no face in view"))

    def _govern_body(self, report: dict[str, Any]) -> None:
        """Give the report to the body governor; turn the body off when it says so."""
        governor = self.body_governor
        if governor is None or self.tracker.body_tracker is None:
            return
        fps, busy = float(report["fps"]), float(report["busy"])
        if not governor.observe(time.monotonic() - self._started, fps, busy, self.paused):
            return
        self.tracker.disable_body()
        self.body_off = "slow"
        message = _(
            "hand and body tracking turned off: tracking ran at {fps} fps, below {target}; "
            "the face keeps tracking"
        ).format(fps=f"{governor.measured_fps:.0f}", target=f"{governor.target_fps:.0f}")
        log.warning("%s (--body on keeps them on)", message)
        # Said once, as its own state, emitted directly rather than through _status: the loop's
        # state stays what it was, so the next real change (no face, paused...) is reported.
        self.channel.emit(Status(state="body_off", message=message))

    def _emit_stats(self) -> None:
        report = self.stats.report()
        self._govern_body(report)
        face = self.last_frame.face_present if self.last_frame is not None else False
        values = {
            **report,
            "face_present": face,
            "paused": self.paused,
            "mirror": self.tracker.mirror,
            "body": self.tracker.body_tracker is not None,
            "body_off": self.body_off,
            "calibrated": self.tracker.calibration is not None,
            "source": self.source.description,
            **self.source.stats(),
        }
        self.channel.emit(Stats(t=round(time.monotonic(), 6), values=values))
