"""The tracker: an RGB frame (or synthetic parameters) in, one :class:`ParamFrame` out.

Per frame: [mirror flip] -> MediaPipe FaceLandmarker (VIDEO mode) -> :class:`RawParams` ->
[mirror correction] ->
calibration -> One Euro smoothing -> emotion preset -> quantised frame. This is the in-process
API the child process, the benchmark and other parts' tests use::

    tracker = Tracker()                       # vendored model, SHA-256 verified
    frame = tracker.process(rgb, time.monotonic_ns())
    tracker.close()

Left/right: channels are always the *subject's own* left/right as MediaPipe names them for an
unmirrored image. ``mirror=True`` is the selfie view: the tracker flips each image horizontally
(as a mirrored preview shows it), runs MediaPipe on that, and corrects the parameters with
ParamFrame.mirrored()'s permutation - so the frame is still right: the same as without mirroring
(up to MediaPipe's own slight left-right asymmetry), and with no MIRRORED flag (that flag would
say "values are a mirror view", which they are not). Mirroring the self-view on screen is the
render window's job (``ParamFrame.mirrored()``). A camera that mirrors in hardware is undone
at the source instead (``flip``), with no correction.

Tracking loss: while no face is found the FACE_PRESENT flag is clear; for ``grace_s`` after the
last face the last pose and expression are held (HELD flag), so a frame or two of missed detection
does not snap the avatar; after that the frame is neutral and the filters reset, so the face that
comes back is tracked afresh.

Body (``body=True``): :class:`tracking.body.BodyTracker` runs the hand and pose models on their
turns on the same image (the flipped one when mirroring; its :class:`BodyPose` is mirrored back
like the face's parameters) and every frame carries the latest body; gestures it recognises
wait in :meth:`Tracker.take_gestures`, with the side already the user's own.

``defer_body=True`` (the tracking process's loop): the face frame goes out first, carrying the
body found on the previous image, and the hand or pose model runs on this image afterwards
(:meth:`Tracker.track_pending_body`, called once the frame is in the ring). On the frames that
are the body models' turn they took 6-9 ms *before* the face frame could leave, on the path
every face frame takes to the peer's screen; afterwards they cost the same CPU but only the
body is a frame older (arms and hands move slower than the face, and the receiver interpolates).

Privacy: pausing stops inference entirely; paused frames carry only the PAUSED flag.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from protocol.blendshapes import NUM_BLENDSHAPES
from protocol.body import BodyPose, Side
from protocol.frame import MAX_ROTATION_RAD, MAX_TRANSLATION_CM, Emotion, FrameFlags, ParamFrame

from .body import DEFAULT_BODY_PERIOD, BodyTracker
from .calibration import Calibration, CalibrationRecorder
from .emotion import apply_emotion
from .errors import CalibrationError
from .gestures import GestureEvent
from .model import MODEL_SHA256, create_landmarker, load_model_bytes, native_stderr_quiet
from .params import RawParams
from .smoothing import Smoother, SmoothingConfig
from .sources import CapturedFrame

log = logging.getLogger(__name__)

Array = NDArray[np.float64]
#: Hold the last pose this long after the face is lost: covers a missed detection or two
#: (a hand passing, a fast turn) without freezing a face that has really left.
DEFAULT_GRACE_S = 0.5


#: How long :meth:`Tracker.close` waits for body models still closing on their thread
#: (:meth:`Tracker.disable_body`) before the process goes on exiting without them.
BODY_CLOSE_JOIN_S = 10.0


@dataclass(slots=True)
class StageTimes:
    """Milliseconds spent per stage on the last frame (``ring`` and ``encode`` are filled in by
    whoever writes the frame out)."""

    capture: float = 0.0
    inference: float = 0.0
    params: float = 0.0
    encode: float = 0.0
    ring: float = 0.0

    @property
    def total(self) -> float:
        return self.capture + self.inference + self.params + self.encode + self.ring


class Tracker:
    """Turns frames into parameter frames. Not thread-safe: call from one thread."""

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        model_sha256: str | None = MODEL_SHA256,
        mirror: bool = False,
        smoothing: SmoothingConfig | None = None,
        calibration: Calibration | None = None,
        grace_s: float = DEFAULT_GRACE_S,
        load_model: bool = True,
        body: bool = False,
        body_period: int = DEFAULT_BODY_PERIOD,
        defer_body: bool = False,
    ) -> None:
        self._model_path = model_path
        self._model_sha256 = model_sha256
        self._landmarker: Any = None
        self._first_inference = True
        if load_model:
            self._ensure_model()
        self.mirror = mirror
        self.smoother = Smoother(smoothing)
        self.calibration = calibration
        self.grace_s = grace_s
        self.emotion: Emotion | None = None
        self.emotion_weight = 0.0
        self.seq = 0
        self.times = StageTimes()
        #: The last raw MediaPipe parameters (on the flipped image when mirroring), for tests.
        self.last_raw: RawParams | None = None
        self._last_ts_ms = -1
        self._held: tuple[Array, Array, Array] | None = None
        self._last_face_ns: int | None = None
        self._recorder: CalibrationRecorder | None = None
        self._save_calibration = True
        #: Set when a calibration finishes: the new Calibration, or the CalibrationError.
        self.calibration_result: Calibration | CalibrationError | None = None
        #: Hands and upper body (None = face only).
        self.body_tracker: BodyTracker | None = (
            BodyTracker(period=body_period, load_model=load_model) if body else None
        )
        self._body: BodyPose | None = None
        self._body_mirror = mirror
        #: Milliseconds the body models took on the last frame (part of ``times.inference``
        #: unless deferred).
        self.body_ms = 0.0
        #: Run the body models after the frame is out (see the module docstring).
        self.defer_body = defer_body
        self._pending_body: tuple[Any, int, int, bool] | None = None
        #: The thread closing the body models after :meth:`disable_body` (joined by close()).
        self._closing_body: threading.Thread | None = None

    # -- model --------------------------------------------------------------------------------
    def _ensure_model(self) -> Any:
        if self._landmarker is None:
            data = load_model_bytes(self._model_path, self._model_sha256)
            self._landmarker = create_landmarker(data)
        return self._landmarker

    def close(self) -> None:
        """Close the landmarkers explicitly (their finalisers are noisy at interpreter exit)."""
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None
        if self.body_tracker is not None:
            self.body_tracker.close()
        if self._closing_body is not None:
            self._closing_body.join(BODY_CLOSE_JOIN_S)

    def disable_body(self) -> None:
        """Face only from now on (``--body auto`` when tracking is too slow, see
        :mod:`tracking.body_policy`): the hand and pose models are closed, and frames carry no
        body, so the peer's arms ease to rest."""
        if self.body_tracker is not None:
            # MediaPipe's close() can block for seconds: 5.1 s measured for the hand and pose
            # landmarkers in the soak's impaired call (a network namespace, two trackers on two
            # busy cores), and the face loop stalled with it, so the peer saw no frames for 5 s
            # right when the body went off to save time. The loop no longer touches these
            # models, so they close on a thread of their own while the face keeps going.
            closing = threading.Thread(
                target=self.body_tracker.close, name="close-body-models", daemon=True
            )
            closing.start()
            self._closing_body = closing
            self.body_tracker = None
        self._body = self._pending_body = None
        self.body_ms = 0.0

    def take_gestures(self) -> list[GestureEvent]:
        """Gestures recognised since the last call, sides in the user's own left/right."""
        if self.body_tracker is None:
            return []
        events = self.body_tracker.take_gestures()
        if self._body_mirror:
            events = [GestureEvent(e.name, Side(1 - e.side), e.media_ns) for e in events]
        return events

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- controls -----------------------------------------------------------------------------
    def set_emotion(self, preset: Emotion | int | None, weight: float) -> None:
        emotion = None if preset is None else Emotion(preset)
        if emotion is Emotion.NEUTRAL or weight <= 0:
            emotion, weight = None, 0.0
        self.emotion = emotion
        self.emotion_weight = float(min(max(weight, 0.0), 1.0))

    def set_smoothing(self, config: SmoothingConfig) -> None:
        self.smoother.configure(config)

    def start_calibration(self, seconds: float, *, save: bool = True) -> None:
        """Record ``seconds`` of resting face from the coming frames; when done the calibration
        is applied (and saved to the config dir if ``save``) and ``calibration_result`` set."""
        self._recorder = CalibrationRecorder(seconds)
        self._save_calibration = save
        self.calibration_result = None

    @property
    def calibrating(self) -> bool:
        return self._recorder is not None

    # -- per frame ------------------------------------------------------------------------------
    def process_captured(self, frame: CapturedFrame) -> ParamFrame:
        self.times = StageTimes(capture=frame.decode_ms)
        media_ns = frame.media_ns if frame.media_ns is not None else frame.capture_ns
        if frame.rgb is not None:
            return self._process_image(frame.rgb, frame.capture_ns, media_ns)
        self.last_raw = frame.raw
        self._body = self._pending_body = None
        return self._finish(frame.raw, frame.capture_ns, media_ns)

    def process(
        self, rgb: NDArray[np.uint8], capture_ns: int, media_ns: int | None = None
    ) -> ParamFrame:
        """Track one RGB image (HxWx3 uint8) captured at ``capture_ns`` (CLOCK_MONOTONIC).
        ``media_ns`` is the frame's time as filmed, when frames come faster than real time."""
        self.times = StageTimes()
        return self._process_image(rgb, capture_ns, capture_ns if media_ns is None else media_ns)

    def process_raw(
        self, raw: RawParams | None, capture_ns: int, media_ns: int | None = None
    ) -> ParamFrame:
        """Parameters from elsewhere (synthetic source, tests); None means no face. Mirroring
        does not apply (flip + correct is the identity on parameters)."""
        self.times = StageTimes()
        self.last_raw = raw
        self._body = self._pending_body = None
        return self._finish(raw, capture_ns, capture_ns if media_ns is None else media_ns)

    def paused_frame(self, capture_ns: int) -> ParamFrame:
        """What goes out while paused: the PAUSED flag and nothing about the face."""
        self.times = StageTimes()
        self.seq += 1
        self._held = None
        self._last_face_ns = None
        self.smoother.reset()
        self._body = self._pending_body = None
        if self.body_tracker is not None:
            self.body_tracker.reset()
            self.body_tracker.take_gestures()
        return ParamFrame(seq=self.seq, timestamp_us=capture_ns // 1000, flags=FrameFlags.PAUSED)

    def _process_image(self, rgb: NDArray[np.uint8], capture_ns: int, media_ns: int) -> ParamFrame:
        import mediapipe as mp

        landmarker = self._ensure_model()
        t0 = time.perf_counter()
        ts_ms = max(media_ns // 1_000_000, self._last_ts_ms + 1)  # must strictly increase
        self._last_ts_ms = ts_ms
        mirror = self.mirror
        if mirror:
            rgb = np.asarray(cv2.flip(rgb, 1), dtype=np.uint8)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if self._first_inference:
            self._first_inference = False
            with native_stderr_quiet():  # the C++ side logs noise on its first run
                result = landmarker.detect_for_video(image, ts_ms)
        else:
            result = landmarker.detect_for_video(image, ts_ms)
        raw = RawParams.from_result(result)
        self.last_raw = raw
        if raw is not None and mirror:
            raw = raw.mirrored()  # back to the subject's own left/right
        if self.defer_body and self.body_tracker is not None:
            self._pending_body = (image, ts_ms, media_ns, mirror)  # self._body: the last one
        else:
            self._body = self._track_body(image, ts_ms, media_ns, mirror)
        self.times.inference = (time.perf_counter() - t0) * 1000
        return self._finish(raw, capture_ns, media_ns)

    def track_pending_body(self) -> None:
        """Run the body models deferred from the last frame (``defer_body``); their body goes
        out with the next frame, their gestures wait in :meth:`take_gestures`. No-op when
        nothing is pending."""
        pending, self._pending_body = self._pending_body, None
        if pending is not None:
            self._body = self._track_body(*pending)

    def _track_body(self, image: Any, ts_ms: int, media_ns: int, mirror: bool) -> BodyPose | None:
        body_tracker = self.body_tracker
        if body_tracker is None:
            return None
        if mirror != self._body_mirror:
            body_tracker.reset()  # positions and filters were in the other image's coordinates
            body_tracker.take_gestures()
            self._body_mirror = mirror
        t0 = time.perf_counter()
        body = body_tracker.process(image, ts_ms, media_ns)
        self.body_ms = (time.perf_counter() - t0) * 1000
        if body is not None and mirror:
            body = body.mirrored()  # back to the subject's own left/right
        return body

    def _finish(self, raw: RawParams | None, capture_ns: int, media_ns: int) -> ParamFrame:
        """Everything after inference. ``capture_ns`` stamps the frame; ``media_ns`` drives
        smoothing, hold and calibration timing."""
        t0 = time.perf_counter()
        if self._recorder is not None:
            self._record(raw, media_ns)
        flags = FrameFlags(0)
        if self.calibration is not None:
            flags |= FrameFlags.CALIBRATED
        if raw is not None:
            weights, rotation, translation = raw.weights, raw.rotation, raw.translation
            if self.calibration is not None:
                weights, rotation, translation = self.calibration.apply(
                    weights, rotation, translation
                )
            weights, rotation, translation = self.smoother.apply(
                weights, rotation, translation, media_ns / 1e9
            )
            self._held = (weights, rotation, translation)
            self._last_face_ns = media_ns
            flags |= FrameFlags.FACE_PRESENT
        elif (
            self._held is not None
            and self._last_face_ns is not None
            and media_ns - self._last_face_ns <= self.grace_s * 1e9
        ):
            weights, rotation, translation = self._held
            flags |= FrameFlags.HELD
        else:
            if self._held is not None:
                self.smoother.reset()  # the face that comes back starts afresh
                self._held = None
            weights = np.zeros(NUM_BLENDSHAPES)
            rotation = np.zeros(3)
            translation = np.zeros(3)
        weights = apply_emotion(weights, self.emotion, self.emotion_weight)
        self.seq += 1
        frame = ParamFrame.from_weights(
            self.seq,
            capture_ns // 1000,
            weights,
            flags=flags,
            head_rotation=_vec3(rotation, MAX_ROTATION_RAD),
            head_translation=_vec3(translation, MAX_TRANSLATION_CM),
            emotion=self.emotion,
            emotion_weight=self.emotion_weight,
            body=self._body,
        )
        self.times.params = (time.perf_counter() - t0) * 1000
        return frame

    def _record(self, raw: RawParams | None, capture_ns: int) -> None:
        assert self._recorder is not None
        done = self._recorder.add(
            capture_ns,
            None if raw is None else raw.weights,
            np.zeros(3) if raw is None else raw.rotation,
            np.zeros(3) if raw is None else raw.translation,
        )
        if not done:
            return
        recorder, self._recorder = self._recorder, None
        try:
            calibration = recorder.finish()
            if self._save_calibration:
                calibration.save()
        except CalibrationError as e:
            log.warning("%s", e)
            self.calibration_result = e
            return
        self.calibration = calibration
        self.smoother.reset()
        self._held = None
        self.calibration_result = calibration


def _vec3(values: Array, limit: float) -> tuple[float, float, float]:
    clean = np.clip(np.nan_to_num(values, nan=0.0, posinf=limit, neginf=-limit), -limit, limit)
    return (float(clean[0]), float(clean[1]), float(clean[2]))
