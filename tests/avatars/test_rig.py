"""The built-in art is rigged so faces move: measured in pixels of software-composed frames.

Layer-id conventions the renderer's screenshot tests can rely on too: ``eye_left`` /
``eye_right`` (subject's sides: eye_left is drawn on the viewer's right), ``mouth``, ``face``,
``head``, ``iris_*``, ``brow_*``.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from avatars import builtin_ids, load_pack
from avatars.compose import compose, world_matrices
from avatars.model import AvatarPack

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

SIZE = 256
SCALE = SIZE / 512


def frame(pack: AvatarPack, **params: float) -> np.ndarray:
    return np.asarray(compose(pack, params, size=SIZE), dtype=np.int16)


def region(pack: AvatarPack, layer_id: str, grow: int = 6) -> tuple[slice, slice]:
    la = pack.layer(layer_id)
    x0, y0 = la.position
    x1, y1 = x0 + la.size[0], y0 + la.size[1]
    return (
        slice(int((y0 - grow) * SCALE), int((y1 + grow) * SCALE) + 1),
        slice(int((x0 - grow) * SCALE), int((x1 + grow) * SCALE) + 1),
    )


def changed(a: np.ndarray, b: np.ndarray, where: tuple[slice, slice] | None = None) -> int:
    d = np.abs(a - b).max(axis=2)
    if where is not None:
        d = d[where]
    return int((d > 40).sum())


@pytest.fixture(scope="module", params=sorted(builtin_ids()))
def pack(request: pytest.FixtureRequest) -> AvatarPack:
    return load_pack(request.param)


@pytest.fixture(scope="module")
def rest(pack: AvatarPack) -> np.ndarray:
    return frame(pack)


def test_sides_follow_the_subject(pack: AvatarPack) -> None:
    left, right = pack.layer("eye_left"), pack.layer("eye_right")
    assert left.position[0] > 256 > right.position[0] + right.size[0] / 2


@pytest.mark.parametrize("side", ["Left", "Right"])
def test_blink_closes_that_eye_only(pack: AvatarPack, rest: np.ndarray, side: str) -> None:
    shut = frame(pack, **{f"eyeBlink{side}": 1.0})
    this = region(pack, f"eye_{side.lower()}")
    other = region(pack, f"eye_{'right' if side == 'Left' else 'left'}")
    assert changed(rest, shut, this) > 60
    assert changed(rest, shut, other) == 0


def test_mouth_open_enlarges_the_mouth(pack: AvatarPack, rest: np.ndarray) -> None:
    opened = frame(pack, jawOpen=1.0, mouthOpen=1.0)
    where = region(pack, "mouth", grow=40)
    assert changed(rest, opened, where) > 150

    # the opening reaches well below the closed mouth (jaw drop), not just recolours it
    rows = np.nonzero((np.abs(rest - opened).max(axis=2) > 40)[where].any(axis=1))[0]
    assert rows.max() - rows.min() >= 10


def test_smile_changes_the_mouth_shape(pack: AvatarPack, rest: np.ndarray) -> None:
    smiling = frame(pack, smile=1.0, mouthSmileLeft=1.0, mouthSmileRight=1.0)
    assert changed(rest, smiling, region(pack, "mouth", grow=12)) > 25
    assert changed(rest, smiling, region(pack, "eye_left")) == 0


def test_yaw_turns_the_face_with_parallax(pack: AvatarPack, rest: np.ndarray) -> None:
    m = world_matrices(pack, {"headYaw": 0.5})
    head_dx, face_dx = m["head"][0][0, 2], m["face"][0][0, 2]
    assert head_dx > 5 and face_dx > head_dx + 5  # features travel further than the outline
    assert world_matrices(pack, {"headYaw": -0.5})["face"][0][0, 2] < -10
    assert changed(rest, frame(pack, headYaw=0.5)) > 1500


def moved(pack: AvatarPack, layer_id: str, **params: float) -> tuple[float, float]:
    """How far the layer's pivot travels on the canvas from rest to ``params``."""
    px, py = pack.layer(layer_id).pivot
    p = np.array([px, py, 1.0])
    a = world_matrices(pack, {})[layer_id][0] @ p
    b = world_matrices(pack, params)[layer_id][0] @ p
    return float(b[0] - a[0]), float(b[1] - a[1])


def test_pitch_roll_brows_gaze_breath(pack: AvatarPack) -> None:
    assert moved(pack, "face", headPitch=0.4)[1] > 10  # looking down moves the face down
    assert world_matrices(pack, {"headRoll": 0.3})["head"][0][1, 0] > 0.2  # clockwise on screen
    for side in ("left", "right"):
        assert moved(pack, f"brow_{side}", browInnerUp=1.0)[1] < -4
        assert moved(pack, f"brow_{side}", **{f"browDown{side.title()}": 1.0})[1] > 3
        assert moved(pack, f"iris_{side}", gazeX=1.0)[0] > 3
        assert moved(pack, f"iris_{side}", gazeY=1.0)[1] < -3
    inhale, exhale = (world_matrices(pack, {"breath": v})["head"][0] for v in (1.0, -1.0))
    assert np.abs(inhale - exhale).max() > 1e-3


def test_previews_match_the_layers(pack: AvatarPack) -> None:
    """preview.png is the composed rest pose, so a stale preview means stale art."""
    for vid in pack.variants:
        p = pack.with_variant(vid).preview
        assert p is not None
        want = np.asarray(Image.open(p).convert("RGBA"), dtype=np.int16)
        got = np.asarray(compose(pack, variant=vid, size=want.shape[1]), dtype=np.int16)
        assert np.abs(want - got).max() <= 2, vid


def test_variants_look_different(pack: AvatarPack) -> None:
    imgs = [np.asarray(compose(pack, variant=v, size=128), dtype=np.int16) for v in pack.variants]
    for i in range(len(imgs)):
        for j in range(i + 1, len(imgs)):
            assert changed(imgs[i], imgs[j]) > 300
