"""The standard rig: which parameters drive which layer, shared by all built-in avatars.

Signs follow FORMAT.md: yaw + turns toward the subject's left = the viewer's right (+x), pitch +
looks down (+y), roll + tilts clockwise on screen, gazeY + looks up (-y). ``Left``/``Right``
parameters belong to the subject, so eyeBlinkLeft closes the eye drawn at larger x.
"""

from __future__ import annotations

from typing import Any

from .kit import b

__all__ = ["b"]

#: Head rotation clamp (radians, ~46 degrees): beyond it the 2D layers would come apart.
HEAD_LIMIT = 0.8
Binds = list[dict[str, Any]]


def body() -> Binds:
    return [b("breath", "offset_y", -3.0, lo=-1, hi=1), b("breath", "scale_y", 0.006, lo=-1, hi=1)]


def head(yaw: float = 40, pitch: float = 26, roll: float = 1.0) -> Binds:
    lim = HEAD_LIMIT
    return [
        b("headYaw", "offset_x", yaw, lo=-lim, hi=lim),
        b("headPitch", "offset_y", pitch, lo=-lim, hi=lim),
        b("headRoll", "rotate", roll, lo=-lim, hi=lim),
    ]


def parallax(yaw: float, pitch: float) -> Binds:
    """Extra shift for parts nearer (+) or farther (-) than the head outline: a 3D-ish turn."""
    lim = HEAD_LIMIT
    return [
        b("headYaw", "offset_x", yaw, lo=-lim, hi=lim),
        b("headPitch", "offset_y", pitch, lo=-lim, hi=lim),
    ]


def eye(side: str) -> Binds:
    """The eye white squashes shut about its centre; iris and lashes are its children."""
    return [
        # Trackers rarely report a full blink as 1.0 (MediaPipe peaks ~0.6-0.9 on the sample
        # clips) and jitter ~0.1 with open eyes: shut fully by 0.7, ignore the first 0.1.
        b(f"eyeBlink{side}", "scale_y", -1.6, offset=-0.1, lo=0.1, hi=0.7),
        b(f"eyeWide{side}", "scale_y", 0.18, lo=0, hi=1),
        b(f"eyeSquint{side}", "scale_y", -0.25, lo=0, hi=1),
        b("emotionSurprised", "scale_y", 0.15, lo=0, hi=1),
        b("emotionHappy", "scale_y", -0.3, lo=0, hi=1),  # a smile narrows the eyes
        b("emotionSad", "scale_y", -0.12, lo=0, hi=1),
    ]


def closed_lid(side: str) -> Binds:
    """The closed-eye line fades in over blink 0.4..0.6 (opacity = 1 + (v - 0.6) * 5)."""
    return [b(f"eyeBlink{side}", "opacity", 5.0, offset=-0.6, lo=0.4, hi=0.6)]


def iris(dx: float = 7.0, dy: float = 5.0) -> Binds:
    return [b("gazeX", "offset_x", dx, lo=-1, hi=1), b("gazeY", "offset_y", -dy, lo=-1, hi=1)]


def brow(side: str, lift: float = 10.0, drop: float = 7.0) -> Binds:
    """Inner brow up / brow down; the inner end (toward the nose) leads the rotation.

    The subject's right brow is drawn on the viewer's left, its inner end at larger x: lifting
    that end turns it counter-clockwise (negative), and the mirror for the left brow.
    """
    sgn = -1.0 if side == "Right" else 1.0
    return [
        b("browInnerUp", "offset_y", -lift * 0.7, lo=0, hi=1),
        b("browInnerUp", "rotate", 0.16 * sgn, lo=0, hi=1),
        b(f"browOuterUp{side}", "offset_y", -lift * 0.5, lo=0, hi=1),
        b(f"browDown{side}", "offset_y", drop, lo=0, hi=1),
        b(f"browDown{side}", "rotate", -0.2 * sgn, lo=0, hi=1),
        b("emotionSurprised", "offset_y", -lift, lo=0, hi=1),
        b("emotionAngry", "offset_y", drop * 0.7, lo=0, hi=1),
        b("emotionAngry", "rotate", -0.22 * sgn, lo=0, hi=1),
        b("emotionSad", "rotate", 0.18 * sgn, lo=0, hi=1),
    ]


def smile_warp(gain: float) -> Binds:
    """Corners up with smile (and the happy preset), down with the sad preset."""
    return [
        b("smile", "warp_smile", gain, lo=0, hi=1),
        b("emotionHappy", "warp_smile", gain * 0.8, lo=0, hi=1),
        b("emotionSad", "warp_smile", -gain * 0.6, lo=0, hi=1),
    ]


def mouth_group() -> Binds:
    """The mouth group tilts toward the smiling side for one-sided smiles (they cancel)."""
    return [
        b("mouthSmileLeft", "rotate", -0.08, lo=0, hi=1),
        b("mouthSmileRight", "rotate", 0.08, lo=0, hi=1),
        b("mouthLeft", "offset_x", 6.0, lo=0, hi=1),
        b("mouthRight", "offset_x", -6.0, lo=0, hi=1),
        b("mouthPucker", "scale_x", -0.3, lo=0, hi=1),
        b("mouthFunnel", "scale_x", -0.2, lo=0, hi=1),
    ]


def mouth_inner(smile: float) -> Binds:
    """Interior drawn fully open; jawOpen scales it from a sliver (pivot at its top edge)."""
    return [
        b("jawOpen", "scale_y", 0.97, offset=-1.0, lo=0, hi=1),
        b("jawOpen", "opacity", 12.5, offset=-0.08, lo=0, hi=0.08),
        *smile_warp(smile),
    ]


def lower_lip(drop: float, smile: float) -> Binds:
    return [b("jawOpen", "offset_y", drop, lo=0, hi=1), *smile_warp(smile)]
