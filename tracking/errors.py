"""Exception hierarchy of the tracking package.

Everything the tracker can fail at in an *expected* way (no model, a corrupt model, no camera, a
clip that will not open) is a :class:`TrackingError` with a one-line message fit for a user; the
command line and the child-process loop print that line instead of a traceback. Lower-level
errors (``OSError``, OpenCV, MediaPipe's ``RuntimeError``) are translated at the boundary with
``raise ... from e`` so the cause stays in debug logs.
"""

from __future__ import annotations


class TrackingError(Exception):
    """Base of every expected failure in :mod:`tracking`."""


class ModelError(TrackingError):
    """The face landmarker model is missing, corrupt (SHA-256 mismatch) or will not load."""


class SourceError(TrackingError):
    """A frame source could not be opened or stopped delivering frames."""


class CameraError(SourceError):
    """A webcam is missing, busy or was unplugged; the runner retries with backoff."""


class CalibrationError(TrackingError):
    """A calibration could not be recorded, read or written."""
