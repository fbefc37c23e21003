"""Head pose from MediaPipe's 4x4 facial transformation matrix.

The matrix maps MediaPipe's canonical face model (centimetres; the face looks along its +z, up
is +y) into the camera's metric space, which follows OpenGL: **x to the right of the image, y up,
z toward the viewer** (the camera looks down -z, so a face 30 cm away has t_z ~ -30). We checked
the axes on real images: rotating a photo counter-clockwise on screen gives a positive angle about
+z, and a nose turned toward the image's right has a positive x component.

Signs follow the avatar contract (``avatars/FORMAT.md``), all in the *subject's own* terms for an
unmirrored camera image (the subject's left appears on the image's right):

- ``pitch`` > 0: looking down (rotation about +x, right-handed).
- ``yaw``   > 0: turning to the subject's own left (rotation about +y).
- ``roll``  > 0: tilting the head toward the subject's own left shoulder (rotation about -z).

Euler convention: intrinsic Y-X-Z, ``R = Ry(yaw) @ Rx(pitch) @ Rz(-roll)``; yaw is applied
outermost because heads turn most about the neck's vertical axis, which keeps the decomposition
far from gimbal lock (only at pitch = +-90 degrees). Translation is the matrix's last column in
centimetres, camera space (x right, y up, z toward the viewer).

Mirroring the image (x -> -x) conjugates the pose by ``diag(-1, 1, 1)``, which flips the sign of
yaw and roll, keeps pitch, and negates t_x: exactly what :meth:`ParamFrame.mirrored` does.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

Vec3 = tuple[float, float, float]


def rotation_from_euler(pitch: float, yaw: float, roll: float) -> NDArray[np.float64]:
    """The 3x3 rotation for our Euler angles (inverse of :func:`euler_from_rotation`)."""
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    cr, sr = math.cos(-roll), math.sin(-roll)
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]], dtype=np.float64)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]], dtype=np.float64)
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]], dtype=np.float64)
    return ry @ rx @ rz


def euler_from_rotation(r: NDArray[np.float64]) -> Vec3:
    """(pitch, yaw, roll) in radians from a 3x3 rotation, per the module's convention.

    With ``R = Ry(y) Rx(p) Rz(f)`` the middle row is ``[cos p sin f, cos p cos f, -sin p]`` and
    the last column is ``[sin y cos p, -sin p, cos y cos p]``.
    """
    pitch = math.asin(max(-1.0, min(1.0, -float(r[1, 2]))))
    yaw = math.atan2(float(r[0, 2]), float(r[2, 2]))
    roll = -math.atan2(float(r[1, 0]), float(r[1, 1]))
    return (pitch, yaw, roll)


def pose_from_matrix(matrix: NDArray[np.float64] | list[list[float]]) -> tuple[Vec3, Vec3]:
    """((pitch, yaw, roll) radians, (x, y, z) centimetres) from the 4x4 transformation matrix."""
    m = np.asarray(matrix, dtype=np.float64)
    rotation = euler_from_rotation(m[:3, :3])
    translation = (float(m[0, 3]), float(m[1, 3]), float(m[2, 3]))
    return rotation, translation


def matrix_from_pose(rotation: Vec3, translation: Vec3) -> NDArray[np.float64]:
    """A 4x4 transformation matrix for a pose (tests and the synthetic source use it)."""
    m = np.eye(4, dtype=np.float64)
    m[:3, :3] = rotation_from_euler(*rotation)
    m[:3, 3] = translation
    return m


def mirror_pose(rotation: Vec3, translation: Vec3) -> tuple[Vec3, Vec3]:
    """The pose seen in a mirror (image x -> -x): yaw and roll flip, t_x flips."""
    pitch, yaw, roll = rotation
    x, y, z = translation
    return (pitch, -yaw, -roll), (-x, y, z)
