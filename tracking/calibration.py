"""Neutral-face calibration: per-channel offsets and gains, stored as TOML in the config dir.

People's resting faces differ: one person's relaxed eyes read eyeBlink 0.25, another's mouth
rests slightly open. We record a few seconds of the user's resting face and from then on map
each blendshape as ``y = clamp((x - offset) * gain, 0, 1)`` with ``offset`` the resting mean and
``gain = 1 / (1 - offset)``, so rest reads 0 while a full activation still reaches 1 (a blink
still closes the eye). Gains are capped (:data:`MAX_GAIN`) so a channel that happened to be
active during recording is not blown up. Head rotation and translation get the resting pose as an
offset: a camera above the screen no longer makes the avatar look down all the time.

The file is ``calibration.toml`` in :func:`tracking.config.config_dir`; it holds only numbers
(52 offsets and gains, a resting pose), never an image.
"""

from __future__ import annotations

import logging
import math
import os
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tomli_w
from numpy.typing import NDArray

from protocol.blendshapes import BLENDSHAPE_INDEX, NUM_BLENDSHAPES

from .config import calibration_path
from .errors import CalibrationError

log = logging.getLogger(__name__)

Array = NDArray[np.float64]
CALIBRATION_VERSION = 1
#: A channel resting above 0.5 is an expression, not a resting face: cap the stretch at 2x.
MAX_GAIN = 2.0
#: Seconds of resting face to record by default (long enough to average out a blink or two).
DEFAULT_SECONDS = 3.0
#: Fewer face frames than this and the calibration is refused (face lost while recording).
MIN_FRAMES = 10
#: How much longer than asked to wait for MIN_FRAMES face frames before giving up.
GIVE_UP_EXTRA_S = 5.0
#: '_neutral' is MediaPipe's own "how neutral is this face" score, not an expression: left raw.
_UNCALIBRATED = (BLENDSHAPE_INDEX["_neutral"],)


@dataclass(slots=True)
class Calibration:
    offsets: Array
    gains: Array
    rotation_offset: Array
    translation_offset: Array
    frames: int = 0
    created: str = ""

    def apply(self, weights: Array, rotation: Array, translation: Array) -> tuple[Array, ...]:
        out = np.clip((weights - self.offsets) * self.gains, 0.0, 1.0)
        return out, rotation - self.rotation_offset, translation - self.translation_offset

    @classmethod
    def from_samples(
        cls, weights: list[Array], rotations: list[Array], translations: list[Array]
    ) -> Calibration:
        if len(weights) < MIN_FRAMES:
            raise CalibrationError(
                f"calibration needs at least {MIN_FRAMES} frames with a face, got {len(weights)}"
            )
        # The median ignores a blink or two during recording, which a mean would not.
        offsets = np.median(np.stack(weights), axis=0)
        offsets[list(_UNCALIBRATED)] = 0.0
        gains = np.minimum(1.0 / np.maximum(1.0 - offsets, 1e-6), MAX_GAIN)
        return cls(
            offsets=offsets,
            gains=gains,
            rotation_offset=np.median(np.stack(rotations), axis=0),
            translation_offset=np.median(np.stack(translations), axis=0),
            frames=len(weights),
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )

    # -- TOML ---------------------------------------------------------------------------
    def to_toml(self) -> dict[str, object]:
        return {
            "version": CALIBRATION_VERSION,
            "created": self.created,
            "frames": self.frames,
            "blendshapes": {
                "offsets": [round(float(v), 5) for v in self.offsets],
                "gains": [round(float(v), 5) for v in self.gains],
            },
            "head": {
                "rotation_offset_rad": [round(float(v), 5) for v in self.rotation_offset],
                "translation_offset_cm": [round(float(v), 4) for v in self.translation_offset],
            },
        }

    @classmethod
    def from_toml(cls, data: dict[str, object]) -> Calibration:
        try:
            if data.get("version") != CALIBRATION_VERSION:
                raise ValueError(f"unsupported version {data.get('version')!r}")
            blend = data["blendshapes"]
            head = data["head"]
            assert isinstance(blend, dict) and isinstance(head, dict)
            offsets = _vector(blend["offsets"], NUM_BLENDSHAPES, 0.0, 1.0)
            gains = _vector(blend["gains"], NUM_BLENDSHAPES, 0.0, MAX_GAIN + 1e-6)
            rotation = _vector(head["rotation_offset_rad"], 3, -math.pi, math.pi)
            translation = _vector(head["translation_offset_cm"], 3, -1000.0, 1000.0)
        except (KeyError, AssertionError, TypeError, ValueError) as e:
            raise CalibrationError(f"calibration file is invalid: {e}") from e
        frames = data.get("frames", 0)
        return cls(
            offsets,
            gains,
            rotation,
            translation,
            frames=frames if isinstance(frames, int) else 0,
            created=str(data.get("created", "")),
        )

    def save(self, path: Path | None = None) -> Path:
        """Write atomically (temp file + rename) so a crash never leaves half a calibration."""
        path = path or calibration_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + f".tmp{os.getpid()}")
            tmp.write_bytes(tomli_w.dumps(self.to_toml()).encode())
            os.replace(tmp, path)
        except OSError as e:
            raise CalibrationError(f"cannot write calibration {path}: {e.strerror}") from e
        log.info("calibration saved to %s (%d frames)", path, self.frames)
        return path


def load_calibration(path: Path | None = None) -> Calibration | None:
    """The stored calibration, or None when there is none. A broken file is logged and ignored
    (tracking still works uncalibrated) rather than stopping the call."""
    path = path or calibration_path()
    try:
        with path.open("rb") as f:
            return Calibration.from_toml(tomllib.load(f))
    except FileNotFoundError:
        return None
    except (OSError, tomllib.TOMLDecodeError, CalibrationError) as e:
        log.warning("ignoring calibration %s: %s", path, e)
        return None


def _vector(value: object, n: int, lo: float, hi: float) -> Array:
    if not isinstance(value, list) or len(value) != n:
        raise ValueError(f"expected a list of {n} numbers")
    arr = np.array([float(v) for v in value], dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < lo) or np.any(arr > hi):
        raise ValueError(f"values out of range {lo}..{hi}")
    return arr


class CalibrationRecorder:
    """Collects raw (uncalibrated, unsmoothed) face frames for ``seconds`` of capture time."""

    def __init__(self, seconds: float = DEFAULT_SECONDS) -> None:
        if not (0 < seconds <= 60):
            raise CalibrationError("calibration takes between 0 and 60 seconds")
        self.seconds = seconds
        self._start_ns: int | None = None
        self.weights: list[Array] = []
        self.rotations: list[Array] = []
        self.translations: list[Array] = []

    def add(
        self, capture_ns: int, weights: Array | None, rotation: Array, translation: Array
    ) -> bool:
        """Record one frame (``weights`` None = no face); True when recording is over: the time
        is up and enough face frames were seen (a slow machine records a little longer), or a
        generous limit passed without enough of them (then :meth:`finish` refuses)."""
        if self._start_ns is None:
            self._start_ns = capture_ns
        if weights is not None:
            self.weights.append(weights.copy())
            self.rotations.append(rotation.copy())
            self.translations.append(translation.copy())
        elapsed_s = (capture_ns - self._start_ns) / 1e9
        if elapsed_s >= self.seconds and len(self.weights) >= MIN_FRAMES:
            return True
        return elapsed_s >= self.seconds + GIVE_UP_EXTRA_S

    def finish(self) -> Calibration:
        return Calibration.from_samples(self.weights, self.rotations, self.translations)
