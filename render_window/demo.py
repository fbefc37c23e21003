"""Synthetic "tracked" motion for ``--demo`` and the benchmark: a face that talks, looks around,
blinks, winks and smiles, and arms that give a thumbs-up and wave (each arm unseen the rest of
the time, so it eases to rest as a real one leaving the picture does), as 30 Hz parameter
frames, so the avatar can be seen without a camera.
"""

from __future__ import annotations

import math

from protocol.blendshapes import BLENDSHAPE_INDEX, NUM_BLENDSHAPES
from protocol.body import ArmPose, BodyPose, HandShape, Vec3
from protocol.frame import FrameFlags, ParamFrame

#: The tracker's usual rate; the window interpolates up to the display rate.
DEMO_HZ = 30.0
#: One scripted cycle: talking, a blink every ~3 s, a wink and a smile.
CYCLE_S = 12.0


def _pulse(t: float, start: float, length: float) -> float:
    """0 -> 1 -> 0 over ``length`` seconds from ``start`` (smooth)."""
    x = (t - start) / length
    return math.sin(math.pi * x) ** 2 if 0.0 <= x <= 1.0 else 0.0


def _dir(angle: float, forward: float = 0.0) -> Vec3:
    """A unit body-frame direction at ``angle`` from hanging down (+ toward the user's left)."""
    k = math.sqrt(max(0.0, 1.0 - forward * forward))
    return (k * math.sin(angle), -k * math.cos(angle), forward)


def _arm(upper: float, fore: float, hand: float) -> ArmPose:
    return ArmPose(_dir(upper), _dir(fore), _dir(hand), (0.0, 0.0, 1.0))


def demo_body(t: float) -> BodyPose:
    """A thumbs-up with the right hand (2-5 s into the cycle), a wave with the left (6-11 s)."""
    c = t % CYCLE_S
    arms: list[ArmPose | None] = [None, None]
    hands: list[HandShape | None] = [None, None]
    wave = _pulse(c, 6.0, 5.0) ** 0.5
    if wave > 0.02:
        flap = 0.35 * math.sin(2 * math.pi * 2.2 * t) * wave
        arms[0] = _arm(1.2 * wave, 2.9 * wave + flap, 2.9 * wave + 1.3 * flap)
        hands[0] = HandShape(curls=(0.1, 0.05, 0.05, 0.05, 0.1), spread=0.2 + 0.5 * wave)
    thumb = _pulse(c, 2.0, 3.0) ** 0.5
    if thumb > 0.02:
        arms[1] = _arm(0.25 * thumb, -2.3 * thumb, -1.7 * thumb)
        curl = 0.2 + 0.8 * thumb
        hands[1] = HandShape(curls=(0.0, curl, curl, curl, curl), spread=0.1)
    shrug = 0.5 * _pulse(c, 3.0, 1.2)
    return BodyPose(
        shoulder_shrug=(shrug, shrug),
        torso_roll=0.05 * math.sin(2 * math.pi * t / 9.0),
        arms=(arms[0], arms[1]),
        hands=(hands[0], hands[1]),
    )


def demo_frame(seq: int, t: float, timestamp_us: int | None = None) -> ParamFrame:
    """The synthetic face at ``t`` seconds into the demo."""
    w = [0.0] * NUM_BLENDSHAPES
    c = t % CYCLE_S
    blink = max(_pulse(c, 1.0, 0.18), _pulse(c, 4.2, 0.18), _pulse(c, 10.5, 0.18))
    wink = _pulse(c, 7.0, 0.6)
    w[BLENDSHAPE_INDEX["eyeBlinkLeft"]] = max(blink, wink)
    w[BLENDSHAPE_INDEX["eyeBlinkRight"]] = blink
    talking = 1.0 if c < 6.0 else 0.0
    jaw = talking * max(0.0, 0.5 * math.sin(2 * math.pi * 3.1 * t) + 0.25 * math.sin(11.0 * t))
    w[BLENDSHAPE_INDEX["jawOpen"]] = min(1.0, jaw)
    smile = _pulse(c, 8.0, 3.5)
    w[BLENDSHAPE_INDEX["mouthSmileLeft"]] = smile
    w[BLENDSHAPE_INDEX["mouthSmileRight"]] = smile
    brow = _pulse(c, 3.0, 1.2)
    w[BLENDSHAPE_INDEX["browInnerUp"]] = brow
    w[BLENDSHAPE_INDEX["browOuterUpLeft"]] = brow
    w[BLENDSHAPE_INDEX["browOuterUpRight"]] = brow
    look = math.sin(2 * math.pi * t / 5.0)
    side = "Left" if look > 0 else "Right"
    other = "Right" if look > 0 else "Left"
    w[BLENDSHAPE_INDEX[f"eyeLookOut{side}"]] = abs(look) * 0.6
    w[BLENDSHAPE_INDEX[f"eyeLookIn{other}"]] = abs(look) * 0.6
    yaw = 0.35 * math.sin(2 * math.pi * t / 6.0)
    pitch = 0.12 * math.sin(2 * math.pi * t / 4.3)
    roll = 0.15 * math.sin(2 * math.pi * t / 7.7)
    return ParamFrame.from_weights(
        seq & 0xFFFFFFFF,
        timestamp_us if timestamp_us is not None else round(t * 1e6),
        w,
        flags=FrameFlags.FACE_PRESENT | FrameFlags.CALIBRATED,
        head_rotation=(pitch, yaw, roll),
        body=demo_body(t),
    )
