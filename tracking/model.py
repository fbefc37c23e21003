"""The face landmarker model: find it, verify it, load it.

The model is vendored in the package (``tracking/models/face_landmarker.task``, Apache-2.0, see
``models/NOTICE``) so tracking never touches the network. Its SHA-256 is checked on every load:
a truncated copy or a swapped file would otherwise fail deep inside MediaPipe with an unreadable
message, or worse, load and track badly. An override path (``--model``) is checked against the
same pin unless the caller passes another digest (or ``None`` to skip the check).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import logging
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import ModelError

log = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "face_landmarker.task"
#: Published SHA-256 of the official float16 v1 face_landmarker.task (see models/NOTICE).
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
#: A real bundle is ~3.7 MB; refuse anything absurdly large before reading it into memory.
MAX_MODEL_BYTES = 64 * 1024 * 1024


def quiet_native_logs() -> None:
    """Ask glog/TFLite to keep INFO/WARNING noise off stderr; only effective before mediapipe
    is first imported, so child entry points call this first."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def keep_unused_libraries_out() -> None:
    """Keep mediapipe's plotting and audio dependencies out of the tracking process.

    Importing any ``mediapipe.tasks.python`` module imports all of it: the drawing utilities
    import ``matplotlib.pyplot`` (which writes a font cache under ``~/.cache/matplotlib``) and the
    audio tasks import ``sounddevice`` (whose library lookup runs gcc with files in $TMPDIR).
    The tracking process must write nothing (privacy), needs neither, and has no business
    loading an audio-device library; skipping them also saves ~0.2 s of start-up. matplotlib
    gets an inert stand-in (mediapipe imports it unconditionally); sounddevice is marked absent
    (mediapipe guards that import). Only the child entry point calls this, and only for modules
    not loaded yet; in-process users (tests, benchmarks) keep the real ones.
    """
    if "sounddevice" not in sys.modules:
        sys.modules["sounddevice"] = None  # type: ignore[assignment]  # import -> ImportError
    if "matplotlib" in sys.modules:
        return
    for name in ("matplotlib", "matplotlib.pyplot"):
        stub = types.ModuleType(name)
        stub.__spec__ = importlib.machinery.ModuleSpec(name, None)
        stub.__doc__ = "inert stand-in installed by tracking.model.keep_unused_libraries_out()"
        sys.modules[name] = stub
    sys.modules["matplotlib"].pyplot = sys.modules["matplotlib.pyplot"]  # type: ignore[attr-defined]


@contextlib.contextmanager
def native_stderr_quiet() -> Iterator[None]:
    """Point fd 2 at /dev/null for a moment: MediaPipe's C++ side prints INFO/WARNING lines
    ("Created TensorFlow Lite XNNPACK delegate", ...) on model load and first inference whatever
    GLOG_minloglevel says. Skipped when debug logging is on, so nothing is hidden then."""
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def load_model_bytes(
    path: str | Path | None = None,
    sha256: str | None = MODEL_SHA256,
    *,
    what: str = "face landmarker",
) -> bytes:
    """Read the model and verify its digest; raises :class:`ModelError` with a one-line reason.
    ``what`` names the model in those reasons (the hand and pose models use this too)."""
    model = Path(path) if path is not None else DEFAULT_MODEL
    try:
        size = model.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ModelError(f"model {model} is {size} bytes, too large to be a {what}")
        data = model.read_bytes()
    except FileNotFoundError as e:
        raise ModelError(f"{what} model not found: {model}") from e
    except IsADirectoryError as e:
        raise ModelError(f"{what} model path is a directory: {model}") from e
    except OSError as e:
        raise ModelError(f"cannot read {what} model {model}: {e.strerror}") from e
    if sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256.lower():
            raise ModelError(
                f"{what} model {model} is corrupt or not the expected file "
                f"(SHA-256 {digest[:16]}..., expected {sha256[:16]}...)"
            )
    return data


def create_landmarker(model_bytes: bytes) -> Any:
    """A MediaPipe FaceLandmarker in VIDEO mode: one face, blendshapes and the transformation
    matrix. VIDEO mode (not LIVE_STREAM) keeps inference synchronous on our thread, so stage
    timings are honest and no callback thread touches our state."""
    quiet_native_logs()
    try:
        with native_stderr_quiet():
            from mediapipe.tasks.python import BaseOptions, vision

            options = vision.FaceLandmarkerOptions(
                base_options=BaseOptions(model_asset_buffer=model_bytes),
                running_mode=vision.RunningMode.VIDEO,
                num_faces=1,
                output_face_blendshapes=True,
                output_facial_transformation_matrixes=True,
            )
            return vision.FaceLandmarker.create_from_options(options)
    except (RuntimeError, ValueError, ImportError) as e:
        raise ModelError(f"cannot load the face landmarker model: {e}") from e
