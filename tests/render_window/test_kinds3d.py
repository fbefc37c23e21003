"""Each kind of 3D draw (render_window/programs3d.py) draws what its material asks for.

The outline pass, alpha blend and alpha mask are compiled into programs of their own; nova uses
none of them, so this draws a copy of nova whose hair and sweater are outlined in red, whose
collar is half transparent and whose irises are alpha-masked out, under a real Xvfb.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from avatars.glb import split_glb

from .test_gl3d import Pixels, iris, picture

NOVA = Path(__file__).resolve().parents[2] / "avatars" / "builtin3d" / "nova.vrm"
BACKGROUND = np.array([41, 43, 51])  # render_window.shot.BACKGROUND in 8 bits


def _restyled(out: Path) -> Path:
    doc, blob = split_glb(NOVA.read_bytes())
    for m in doc["materials"]:
        mt = m["extensions"]["VRMC_materials_mtoon"]
        if m["name"] in ("hair", "clothes"):
            mt |= {"outlineWidthMode": "worldCoordinates", "outlineWidthFactor": 0.004}
            mt["outlineColorFactor"] = [1.0, 0.0, 0.0]
        if m["name"] == "collar":
            m["alphaMode"] = "BLEND"
            m["pbrMetallicRoughness"]["baseColorFactor"][3] = 0.4
        if m["name"] == "iris":  # its alpha (1) is under the cutoff: every pixel discarded
            m["alphaMode"], m["alphaCutoff"] = "MASK", 1.5
    js = json.dumps(doc).encode()
    js += b" " * (-len(js) % 4)
    body = struct.pack("<II", len(js), 0x4E4F534A) + js
    body += struct.pack("<II", len(blob), 0x004E4942) + blob
    out.write_bytes(struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body)
    return out


@pytest.fixture(scope="module")
def shots(xvfb_display: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Pixels]:
    tmp = tmp_path_factory.mktemp("kinds")
    return {
        "nova": picture(xvfb_display, tmp, "nova"),
        "styled": picture(xvfb_display, tmp, _restyled(tmp / "styled.vrm")),
    }


def _red(img: Pixels) -> npt.NDArray[np.bool_]:
    r, g, b = (img[..., k].astype(int) for k in range(3))
    return (r > 200) & (g < 40) & (b < 40)


def test_outline_blend_and_mask_kinds(shots: dict[str, Pixels]) -> None:
    nova, styled = shots["nova"], shots["styled"]
    # Outline pass: a red rim round the hair and the sweater, on nothing in nova.
    assert _red(nova).sum() == 0 and _red(styled).sum() > 1500
    # Alpha mask: the irises are gone (eye white or skin where they were).
    assert iris(nova).sum() > 60 and iris(styled).sum() < 0.1 * iris(nova).sum()
    # Alpha blend: the collar lets what is behind it (neck, background) show through: its
    # near-white pixels in nova change colour, but keep some of the collar's.
    collar = nova.astype(int).min(axis=2) > 215
    collar[: nova.shape[0] // 2] = False  # the collar, not the eye highlights
    assert collar.sum() > 200
    seen, opaque = styled[collar].astype(int), nova[collar].astype(int)
    assert np.abs(seen - opaque).sum(axis=1).mean() > 120
    assert np.abs(seen - BACKGROUND).sum(axis=1).min() > 60
