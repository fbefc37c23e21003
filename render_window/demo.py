"""Synthetic "tracked" motion for ``--demo`` and the benchmark: a face that talks, looks around,
blinks, winks and smiles, as 30 Hz parameter frames, so the avatar can be seen without a camera.
"""

from __future__ import annotations

import math

from protocol.blendshapes import BLENDSHAPE_INDEX, NUM_BLENDSHAPES
from protocol.frame import FrameFlags, ParamFrame

#: The tracker's usual rate; the window interpolates up to the display rate.
DEMO_HZ = 30.0
#: One scripted cycle: talking, a blink every ~3 s, a wink and a smile.
CYCLE_S = 12.0


def _pulse(t: float, start: float, length: float) -> float:
    """0 -> 1 -> 0 over ``length`` seconds from ``start`` (smooth)."""
    x = (t - start) / length
    return math.sin(math.pi * x) ** 2 if 0.0 <= x <= 1.0 else 0.0


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
    )
