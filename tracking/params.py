"""Raw tracking parameters: what one camera frame yields before calibration and smoothing.

:class:`RawParams` is the seam between "where parameters come from" (MediaPipe on an image, or
the synthetic source, which needs no model) and "what we do with them" (mirror correction,
calibration, smoothing, emotion, quantisation) in :mod:`tracking.pipeline`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from protocol.blendshapes import BLENDSHAPE_NAMES, MIRROR_PERMUTATION, NUM_BLENDSHAPES

from .pose import mirror_pose, pose_from_matrix

Array = NDArray[np.float64]
_MIRROR = np.array(MIRROR_PERMUTATION)


@dataclass(slots=True)
class RawParams:
    """52 blendshape weights (MediaPipe order, 0..1), rotation (pitch, yaw, roll; rad) and
    translation (x, y, z; cm), as float64 arrays."""

    weights: Array
    rotation: Array
    translation: Array

    @classmethod
    def from_result(cls, result: Any) -> RawParams | None:
        """From a FaceLandmarkerResult; None when it holds no face (or no blendshapes)."""
        if not result.face_blendshapes or not result.facial_transformation_matrixes:
            return None
        categories = result.face_blendshapes[0]
        if len(categories) != NUM_BLENDSHAPES:
            return None
        weights = np.fromiter(
            (c.score for c in categories), dtype=np.float64, count=NUM_BLENDSHAPES
        )
        # MediaPipe emits its canonical order, which is our wire order; one name is checked per
        # frame (cheap) and a different order, after a model or API change, is mapped by name.
        if categories[9].category_name != BLENDSHAPE_NAMES[9]:
            by_name = {c.category_name: c.score for c in categories}
            weights = np.array([by_name.get(n, 0.0) for n in BLENDSHAPE_NAMES], dtype=np.float64)
        matrix = np.asarray(result.facial_transformation_matrixes[0])
        rotation, translation = pose_from_matrix(matrix)
        return cls(weights, np.array(rotation), np.array(translation))

    def mirrored(self) -> RawParams:
        """As seen in a mirror: left/right channels swap, yaw/roll/x flip (ParamFrame.mirrored)."""
        rotation, translation = mirror_pose(
            (float(self.rotation[0]), float(self.rotation[1]), float(self.rotation[2])),
            (float(self.translation[0]), float(self.translation[1]), float(self.translation[2])),
        )
        return RawParams(self.weights[_MIRROR], np.array(rotation), np.array(translation))
