"""The 3D renderer as a user drives it: ``python -m render_window --screenshot`` under a real
Xvfb with Mesa, on the VRM conformance models, malformed files and the built-in 3D avatar."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
VRM_DIR = REPO.parent / "shared" / "testdata" / "vrm"
IS_BINARY = VRM_DIR / "VRMC_vrm_expressions_isBinary_Overridden.vrm"
UV_ANIM = VRM_DIR / "VRMC_materials_mtoon_UV_Animation_Test.vrm"
needs_shared = pytest.mark.skipif(
    not IS_BINARY.exists(), reason="conformance models need ../shared/testdata/vrm"
)
Pixels = npt.NDArray[np.uint8]


def shoot(
    display: str, out: Path, avatar: str | Path, *extra: str, size: tuple[int, int] = (640, 360)
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DISPLAY=display)
    return subprocess.run(
        [
            sys.executable, "-m", "render_window", "--avatar", str(avatar),
            "--screenshot", str(out), "--width", str(size[0]), "--height", str(size[1]), *extra,
        ],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def picture(display: str, tmp: Path, avatar: str | Path, *extra: str) -> Pixels:
    out = tmp / f"shot{len(list(tmp.glob('*.png')))}.png"
    r = shoot(display, out, avatar, *extra)
    assert r.returncode == 0, r.stderr
    assert "(gltf3d)" in r.stdout, r.stdout  # drawn by the 3D renderer, not a fallback
    return np.asarray(Image.open(out).convert("RGB"))


def red_pixels(img: Pixels) -> int:
    """The conformance model's failure colour: its cross cells are (214, 59, 29)."""
    r, g, b = (img[..., k].astype(int) for k in range(3))
    return int(((r > 150) & (g < 110) & (b < 90)).sum())


def green_pixels(img: Pixels) -> int:
    """Its pass colour: the check cells are (45, 145, 1)."""
    r, g, b = (img[..., k].astype(int) for k in range(3))
    return int(((g > 100) & (r < 110) & (b < 60)).sum())


@needs_shared
def test_red_detector_sees_the_conformance_failure_cells() -> None:
    """The pixel check can fail: the model's own texture is mostly red cross cells."""
    from avatars.gltf import load_model

    tex = load_model(IS_BINARY).images[0][..., :3]
    assert red_pixels(tex) > tex.shape[0] * tex.shape[1] // 2
    assert green_pixels(tex) > 1000


@needs_shared
@pytest.mark.parametrize(
    ("pose", "emotion"),
    [
        ('{"eyeBlinkLeft": 1, "eyeBlinkRight": 1}', "happy:0.5"),  # blink suppressed by happy
        ('{"eyeBlinkLeft": 1, "eyeBlinkRight": 1}', "happy:0.02"),
        ('{"eyeBlinkLeft": 1, "eyeBlinkRight": 1}', "happy:1"),
        ('{"eyeBlinkLeft": 1, "eyeBlinkRight": 1}', "happy:0"),  # blink alone: binary 1
        ('{"eyeBlinkLeft": 0.4, "eyeBlinkRight": 0.4}', "happy:0"),  # binary 0
    ],
)
def test_is_binary_overridden_renders_only_green(
    xvfb_display: str, tmp_path: Path, pose: str, emotion: str
) -> None:
    """Driven as the model's README says: the validation window shows only check marks."""
    img = picture(xvfb_display, tmp_path, IS_BINARY, "--pose", pose, "--emotion", emotion)
    assert green_pixels(img) > 20_000, "validation window not drawn"
    # Texture filtering at the window's border may blend one texel row of a neighbour cell.
    assert red_pixels(img) < 200, f"red (wrong expression rules): {red_pixels(img)} px"


@needs_shared
def test_is_binary_meters_show_the_output_weights(xvfb_display: str, tmp_path: Path) -> None:
    """The yellow bars below the window are the output weights: happy's grows with happy."""

    def yellow(img: Pixels) -> int:
        r, g, b = (img[..., k].astype(int) for k in range(3))
        return int(((r > 200) & (g > 150) & (b < 80)).sum())

    low = picture(xvfb_display, tmp_path, IS_BINARY, "--emotion", "happy:0.2")
    high = picture(xvfb_display, tmp_path, IS_BINARY, "--emotion", "happy:0.9")
    assert yellow(high) > 2 * yellow(low) > 0


@needs_shared
def test_mtoon_uv_animation_animates(xvfb_display: str, tmp_path: Path) -> None:
    frames = [picture(xvfb_display, tmp_path, UV_ANIM, "--time", t) for t in ("0", "0.3", "0.6")]
    for a, b in itertools.pairwise(frames):
        changed = np.abs(a.astype(int) - b.astype(int)).sum(axis=2) > 60
        assert changed.sum() > 2000  # the arrows scrolled and turned
    dark = (frames[0].sum(axis=2) < 100).sum()
    assert dark > 3000  # the black arrows are drawn, not an empty frame


@needs_shared
@pytest.mark.parametrize(
    ("cut", "message"),
    [(100, "truncated"), (16, "truncated"), (0, "truncated")],
)
def test_malformed_vrm_is_a_precise_error_not_a_crash(
    xvfb_display: str, tmp_path: Path, cut: int, message: str
) -> None:
    bad = tmp_path / "bad.vrm"
    bad.write_bytes(IS_BINARY.read_bytes()[:cut])
    r = shoot(xvfb_display, tmp_path / "x.png", bad)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "x.png").exists()


def test_hostile_uri_is_refused(xvfb_display: str, tmp_path: Path) -> None:
    import json
    import struct

    doc = {
        "asset": {"version": "2.0"},
        "buffers": [{"uri": "file:///etc/passwd", "byteLength": 10}],
    }
    js = json.dumps(doc).encode()
    js += b" " * (-len(js) % 4)
    data = struct.pack("<III", 0x46546C67, 2, 20 + len(js)) + struct.pack(
        "<II", len(js), 0x4E4F534A
    )
    bad = tmp_path / "hostile.glb"
    bad.write_bytes(data + js)
    r = shoot(xvfb_display, tmp_path / "x.png", bad)
    assert r.returncode == 2 and "external URI" in r.stderr, r.stderr


# -- the built-in 3D avatar ------------------------------------------------------------------


def iris(img: Pixels) -> npt.NDArray[np.bool_]:
    """Iris pixels in the upper half (the face; the teal sweater below has similar rims)."""
    r, g, b = (img[..., k].astype(int) for k in range(3))
    out = (b > 110) & (r < 90) & (g > 75) & (b > g + 20)  # iris, not the purple hair
    out[img.shape[0] // 2 :] = False
    return out


def mouth(img: Pixels) -> npt.NDArray[np.bool_]:
    r, g, b = (img[..., k].astype(int) for k in range(3))
    return (r > 70) & (r < 170) & (g < 60) & (b < 80) & (r > 2.5 * g)  # not the outlines


def test_builtin_avatar_has_every_arkit_target_moving() -> None:
    from avatars.avatar3d import builtin3d_ids, load_avatar
    from avatars.model3d import Model
    from avatars.vrm import ARKIT_NAMES

    assert "nova" in builtin3d_ids()
    m = load_avatar("nova")
    assert isinstance(m, Model) and m.perfect_sync and m.vrm_version == "1.0"
    face = next(x for x in m.meshes if x.target_names)
    assert face.target_names == list(ARKIT_NAMES)
    for k, name in enumerate(face.target_names):
        moved = max(float(np.abs(p.targets[k][0]).max()) for p in face.primitives)
        assert moved > 0.001, f"{name} moves nothing"
    assert {"happy", "aa", "blink", "blinkLeft", "lookUp"} <= set(m.expressions)


def test_builtin_avatar_blink_closes_only_that_eye(xvfb_display: str, tmp_path: Path) -> None:
    rest = iris(picture(xvfb_display, tmp_path, "nova"))
    half = rest.shape[1] // 2
    assert rest[:, :half].sum() > 30 and rest[:, half:].sum() > 30  # two open eyes
    # The avatar's own left eye is on the right of the picture (it faces us).
    left = iris(picture(xvfb_display, tmp_path, "nova", "--pose", '{"eyeBlinkLeft": 1}'))
    assert left[:, half:].sum() < 0.1 * rest[:, half:].sum()
    assert abs(int(left[:, :half].sum()) - int(rest[:, :half].sum())) < 0.1 * rest[:, :half].sum()


def test_builtin_avatar_jaw_smile_and_yaw(xvfb_display: str, tmp_path: Path) -> None:
    rest = picture(xvfb_display, tmp_path, "nova")
    jaw = picture(xvfb_display, tmp_path, "nova", "--pose", '{"jawOpen": 1}')
    assert mouth(jaw).sum() > 3 * mouth(rest).sum() > 0  # the mouth opens

    smile = picture(
        xvfb_display, tmp_path, "nova", "--pose", '{"mouthSmileLeft": 1, "mouthSmileRight": 1}'
    )

    rows_rest = np.flatnonzero(mouth(rest).any(axis=1))
    rows_smile = np.flatnonzero(mouth(smile).any(axis=1))
    assert mouth(smile).sum() > 1.2 * mouth(rest).sum()  # a grin, not a line
    assert rows_smile[0] < rows_rest[0]  # the corners go up ...
    assert rows_smile[-1] > rows_rest[-1]  # ... and the lower lip curves down

    yaw = picture(xvfb_display, tmp_path, "nova", "--pose", '{"headYaw": 0.5}')
    x_rest = np.flatnonzero(iris(rest).any(axis=0)).mean()
    x_yaw = np.flatnonzero(iris(yaw).any(axis=0)).mean()
    assert x_yaw > x_rest + 8  # turned toward its own left, our right
    assert np.abs(yaw.astype(int) - rest.astype(int)).sum(axis=2).astype(bool).sum() > 2000


# -- in the real window ----------------------------------------------------------------------


@needs_shared
def test_window_falls_back_to_2d_with_the_reason(xvfb_display: str, tmp_path: Path) -> None:
    """A broken VRM never takes the window down: a 2D avatar shows, the error says why."""
    from .harness import Window

    bad = tmp_path / "broken.vrm"
    data = bytearray(IS_BINARY.read_bytes())
    data[-3000:] = b"\0" * 3000  # the last image's PNG bytes are now garbage
    bad.write_bytes(bytes(data))
    win = Window(xvfb_display, ["--avatar", str(bad), "--no-self-view"], tmp_path)
    try:
        ready = win.wait("ready")
        assert ready["renderer"] == "layered2d" and ready["avatar"] == "aria"
        errors = [e for e in win.all_events if e["event"] == "error"]
        assert errors and not errors[0]["fatal"]
        assert "broken.vrm" in errors[0]["message"] and "cannot decode" in errors[0]["message"]
        img = win.shot()
        assert img.std() > 10  # the 2D avatar is drawn
    finally:
        assert win.close() == 0


def test_window_draws_the_builtin_3d_avatar(xvfb_display: str, tmp_path: Path) -> None:
    """--avatar nova in the window: the 3D renderer draws it (or, on a machine too slow for
    it, the 2D fallback says so: the warm-up is measured, not assumed), and the self-view
    inset shows it on every frame."""
    from .harness import Window

    win = Window(xvfb_display, ["--avatar", "nova", "--demo", "--seed", "1"], tmp_path)
    try:
        ready = win.wait("ready")
        if ready["renderer"] != "gltf3d":
            errors = [e["message"] for e in win.all_events if e["event"] == "error"]
            assert any("too slow" in m for m in errors), errors
            pytest.skip(f"this machine is too busy for the 3D avatar now: {errors}")
        assert ready["avatar"] == "nova"
        frames = [img for _, img in win.burst(4, 1)]  # four frames in a row
        h, w = frames[0].shape[:2]
        side = int(min(w, h) * 0.3)  # render_window.app's INSET_FRACTION, 16 px margins
        for img in frames:
            assert iris(img).sum() > 40  # the peer's eyes drawn (the inset is in the lower half)
            inset = img[h - 16 - side : h - 16, w - 16 - side : w - 16]
            assert iris(inset).sum() > 10  # and the inset's, on every frame
    finally:
        assert win.close() == 0


def skinned_bar() -> bytes:
    """A two-bone bar (hips below, head above) skinned to its bones: the GPU skinning path."""
    import json
    import struct

    xs, ys = (-0.1, 0.1), (0.0, 0.5, 1.0)
    pos = np.array([[x, y, 0.0] for y in ys for x in xs], np.float32)
    nrm = np.tile(np.array([0, 0, 1], np.float32), (6, 1))
    joints = np.array([[0 if y == 0.0 else 1, 0, 0, 0] for y in ys for _ in xs], np.uint16)
    weights = np.tile(np.array([1, 0, 0, 0], np.float32), (6, 1))
    idx = np.array([0, 1, 3, 0, 3, 2, 2, 3, 5, 2, 5, 4], np.uint32)
    ibm = np.stack([np.eye(4, dtype=np.float32)] * 2)
    ibm[1][1, 3] = -0.5  # inverse of the head's bind translation
    ibm_cols = ibm.transpose(0, 2, 1).copy()  # glTF stores matrices column-major
    arrays: list[npt.NDArray[Any]] = [pos, nrm, joints, weights, idx, ibm_cols]
    blob = b""
    views: list[dict[str, Any]] = []
    accs: list[dict[str, Any]] = []
    kinds = ["VEC3", "VEC3", "VEC4", "VEC4", "SCALAR", "MAT4"]
    comps = [5126, 5126, 5123, 5126, 5125, 5126]
    for a, kind, comp in zip(arrays, kinds, comps, strict=True):
        data = a.tobytes()
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(data)})
        count = a.shape[0] if kind != "SCALAR" else a.size
        acc = {"bufferView": len(views) - 1, "componentType": comp, "count": count, "type": kind}
        if len(accs) == 0:
            acc.update(min=[-0.1, 0.0, 0.0], max=[0.1, 1.0, 0.0])
        accs.append(acc)
        blob += data + b"\0" * (-len(data) % 4)
    doc = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0, 2]}],
        "nodes": [
            {"name": "hips", "children": [1]},
            {"name": "head", "translation": [0, 0.5, 0]},
            {"name": "bar", "mesh": 0, "skin": 0},
        ],
        "skins": [{"joints": [0, 1], "inverseBindMatrices": 5}],
        "meshes": [
            {
                "primitives": [
                    {
                        "attributes": {"POSITION": 0, "NORMAL": 1, "JOINTS_0": 2, "WEIGHTS_0": 3},
                        "indices": 4,
                        "material": 0,
                    }
                ]
            }
        ],
        "materials": [
            {"pbrMetallicRoughness": {"baseColorFactor": [0.9, 0.2, 0.2, 1]}, "doubleSided": True}
        ],
        "buffers": [{"byteLength": len(blob)}],
        "bufferViews": views,
        "accessors": accs,
        "extensions": {
            "VRMC_vrm": {
                "specVersion": "1.0",
                "humanoid": {"humanBones": {"hips": {"node": 0}, "head": {"node": 1}}},
            }
        },
    }
    js = json.dumps(doc).encode()
    js += b" " * (-len(js) % 4)
    body = struct.pack("<II", len(js), 0x4E4F534A) + js + struct.pack("<II", len(blob), 0x004E4942)
    body += blob
    return struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body


def test_skinning_moves_the_vertices_bound_to_the_head(xvfb_display: str, tmp_path: Path) -> None:
    model = tmp_path / "bar.vrm"
    model.write_bytes(skinned_bar())
    rest = picture(xvfb_display, tmp_path, model)
    rolled = picture(xvfb_display, tmp_path, model, "--pose", '{"headRoll": 0.8}')

    def reddish(img: Pixels) -> npt.NDArray[np.bool_]:
        r, g = img[..., 0].astype(int), img[..., 1].astype(int)
        return (r > 100) & (r > 2 * g)

    def centre_x(mask: npt.NDArray[np.bool_]) -> float:
        return float(np.flatnonzero(mask.any(axis=0)).mean())

    h = rest.shape[0]
    top, bottom = slice(0, h // 8), slice(h - h // 16, h)
    assert reddish(rest)[top].sum() > 500 and reddish(rest)[bottom].sum() > 200
    # The bar's upper half (bound to the head) swings sideways about the head joint; its
    # lower end (toward the hips, below the picture) hardly moves.
    top_shift = centre_x(reddish(rolled)[top]) - centre_x(reddish(rest)[top])
    bottom_shift = centre_x(reddish(rolled)[bottom]) - centre_x(reddish(rest)[bottom])
    assert top_shift < -40  # a positive roll turns the head toward our left
    assert abs(bottom_shift) < abs(top_shift) / 3


INSET_SCRIPT = """
import ctypes, json, pyglet
from pyglet import gl
from avatars.avatar3d import load_avatar
from render_window.gl3d import Gltf3DRenderer

cfg = gl.Config(major_version=3, minor_version=3, forward_compatible=True, depth_size=24)
win = pyglet.window.Window(320, 240, config=cfg)
Gltf3DRenderer.warmup_limit_ms = 1e9  # a busy machine must not refuse the model here
r = Gltf3DRenderer()
r.load(load_avatar("nova"))
r.set_viewport(8, 8, 216, 216)

def frame(t, params):
    gl.glClearColor(0.1, 0.1, 0.1, 1.0)
    gl.glClear(gl.GL_COLOR_BUFFER_BIT)
    r.draw(params, t)
    r.render()
    buf = (ctypes.c_ubyte * (216 * 216 * 4))()
    gl.glReadPixels(8, 8, 216, 216, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, buf)
    win.flip()
    return bytes(buf)

turned = {"headYaw": 0.6, "jawOpen": 1.0}
a = frame(10.0, {})
b = frame(10.01, turned)  # within the inset's 1/30 s: its last picture
c = frame(10.05, turned)  # after it: drawn anew
print(json.dumps({"kept": a == b, "redrawn": a != c, "blank": len(set(a)) < 8}))
"""


def test_the_inset_is_redrawn_at_30_hz_and_its_picture_kept_between(xvfb_display: str) -> None:
    """A small viewport (the self-view) shows its last picture until 1/30 s has passed, then
    the new pose: the copy back must show the avatar, not the cleared background."""
    import json

    env = dict(os.environ, DISPLAY=xvfb_display)
    r = subprocess.run(
        [sys.executable, "-c", INSET_SCRIPT], env=env, cwd=REPO, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got == {"kept": True, "redrawn": True, "blank": False}
