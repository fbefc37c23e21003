"""The hand and pose landmarker models: vendored, pinned, loaded like the face model.

Both bundles live beside the face model in ``tracking/models/`` (Apache-2.0, see
``models/NOTICE``) so body tracking never touches the network either; their SHA-256 is checked
on every load (:func:`tracking.model.load_model_bytes`) for the same reason as the face's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ModelError
from .model import load_model_bytes, native_stderr_quiet, quiet_native_logs

_MODELS = Path(__file__).resolve().parent / "models"
HAND_MODEL = _MODELS / "hand_landmarker.task"
POSE_MODEL = _MODELS / "pose_landmarker_lite.task"
#: Published SHA-256 of the official float16 v1 hand_landmarker.task (see models/NOTICE).
HAND_MODEL_SHA256 = "fbc2a30080c3c557093b5ddfc334698132eb341044ccee322ccf8bcf3607cde1"
#: SHA-256 of pose_landmarker_lite.task as built from MediaPipe's published networks.
POSE_MODEL_SHA256 = "f454fa9256ac7b8ee151b9d6e2d7470c432ade8ffaaaf002712cbf6b93e2e873"


def load_hand_model(path: str | Path | None = None) -> bytes:
    return load_model_bytes(
        path or HAND_MODEL, HAND_MODEL_SHA256 if path is None else None, what="hand landmarker"
    )


def load_pose_model(path: str | Path | None = None) -> bytes:
    return load_model_bytes(
        path or POSE_MODEL, POSE_MODEL_SHA256 if path is None else None, what="pose landmarker"
    )


def create_hand_landmarker(model_bytes: bytes, num_hands: int = 2) -> Any:
    """A MediaPipe HandLandmarker in VIDEO mode (synchronous on our thread, and it tracks a
    found hand from frame to frame instead of running the palm detector every time)."""
    quiet_native_logs()
    try:
        with native_stderr_quiet():
            from mediapipe.tasks.python import BaseOptions, vision

            options = vision.HandLandmarkerOptions(
                base_options=BaseOptions(model_asset_buffer=model_bytes),
                running_mode=vision.RunningMode.VIDEO,
                num_hands=num_hands,
            )
            return vision.HandLandmarker.create_from_options(options)
    except (RuntimeError, ValueError, ImportError) as e:
        raise ModelError(f"cannot load the hand landmarker model: {e}") from e


def create_pose_landmarker(model_bytes: bytes) -> Any:
    """A MediaPipe PoseLandmarker in VIDEO mode, one person, no segmentation mask."""
    quiet_native_logs()
    try:
        with native_stderr_quiet():
            from mediapipe.tasks.python import BaseOptions, vision

            options = vision.PoseLandmarkerOptions(
                base_options=BaseOptions(model_asset_buffer=model_bytes),
                running_mode=vision.RunningMode.VIDEO,
                num_poses=1,
                output_segmentation_masks=False,
            )
            return vision.PoseLandmarker.create_from_options(options)
    except (RuntimeError, ValueError, ImportError) as e:
        raise ModelError(f"cannot load the pose landmarker model: {e}") from e
