"""The GPU renderer agrees with the software reference compositor (avatars/compose.py).

Both implement FORMAT.md (binding sums, pivot/rotation/parent order, warps); rendering a
non-trivial pose both ways and comparing pixels catches a wrong rotation sign, pivot, parent
order or warp profile that the behavioural tests might let through.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avatars.compose import compose
from avatars.pack import builtin_ids, load_pack
from protocol.ring import ShmRing
from render_window.layered import FILL
from render_window.params import frame_to_params

from .harness import Feeder, Window, pose_frame
from .testpack import write_test_pack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

W, H = 640, 360
BACKGROUND = (28, 31, 38)
POSE = {
    "weights": {
        "eyeBlinkLeft": 0.5,
        "jawOpen": 0.6,
        "mouthSmileLeft": 0.5,
        "mouthSmileRight": 0.5,
        "browInnerUp": 0.4,
    },
    "rotation": (0.1, 0.3, 0.2),
}


@pytest.mark.parametrize("avatar", ["testface", *builtin_ids()[:1]])
def test_window_matches_the_software_compositor(
    avatar: str, xvfb_display: str, tmp_path: Path
) -> None:
    ref = str(write_test_pack(tmp_path)) if avatar == "testface" else avatar
    pack = load_pack(ref)
    ring = ShmRing.create("remote")
    feeder = Feeder(ring)
    win = Window(
        xvfb_display,
        [
            "--remote-ring",
            ring.name,
            "--avatar",
            ref,
            "--no-self-view",
            "--no-breath",
            "--width",
            str(W),
            "--height",
            str(H),
        ],
        tmp_path,
    )
    try:
        win.wait("ready")
        seq = feeder.set(POSE["weights"], rotation=POSE["rotation"])
        shot = win.shot(min_seq=seq + 2)
    finally:
        win.close()
        feeder.close()
        ring.close()
    cw, ch = pack.canvas
    scale = FILL * min(W / cw, H / ch)
    x0, y0 = round((W - cw * scale) / 2), round((H - ch * scale) / 2)
    w, h = round(cw * scale), round(ch * scale)
    got = shot[y0 : y0 + h, x0 : x0 + w].astype(np.int16)
    params = frame_to_params(pose_frame(POSE["weights"], POSE["rotation"]))
    want_img = compose(pack, params, size=(w, h), background=(*BACKGROUND, 255))
    want = np.asarray(want_img.convert("RGB"), dtype=np.int16)
    diff = np.abs(got - want).sum(axis=-1)
    # Edges differ by resampling (bicubic vs bilinear, mesh vs per-pixel warps); shapes must
    # not: a misplaced or mis-rotated layer moves thousands of pixels by a lot.
    far = float((diff > 120).mean())
    assert far < 0.02, f"{avatar}: {far:.1%} of pixels differ strongly from the reference"
    assert float(diff.mean()) < 12.0, f"{avatar}: mean difference {diff.mean():.1f}"
