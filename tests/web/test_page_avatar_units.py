"""The page's avatar modules run in Node against the Python ones they port: the parameter names
and their order (avatars.params), a frame's parameters (render_window.params.frame_to_vector),
each layer's transform and state for a pose (avatars.compose.pose_layers, bones included), the
content hash of a pack (avatars.source.content_hash) and the idle life's ranges. Fast and
browser-free; the pixels are compared in tests/web/test_browser_avatars.py."""

from __future__ import annotations

import math
import random

import pytest

from avatars.compose import pose_layers
from avatars.pack import load_pack
from avatars.params import PARAM_NAMES
from protocol.frame import Emotion, FrameFlags, ParamFrame
from render_window.params import frame_to_vector

from .node_module import READ_PACK_FILES, needs_node, pack_files, run_module

pytestmark = needs_node

SCRIPT = """
import { PARAM_NAMES, frameToVector } from "./params.js";
import { packFromFiles, contentHash } from "./pack.js";
import { poseLayers } from "./render.js";
import { IdleLife } from "./motion.js";
""" + READ_PACK_FILES + """
const pack = await packFromFiles(files);
const out = { names: PARAM_NAMES, hash: await contentHash(files), vectors: [], poses: [] };
for (const f of input.frames) {
  const frame = { ...f, blendshapes: Uint8Array.from(f.blendshapes) };
  out.vectors.push(Array.from(frameToVector(frame)));
}
for (const params of input.params) {
  const posed = poseLayers(pack.layers, (n) => params[n] ?? 0);
  out.poses.push(Object.fromEntries(pack.layers.map((l, i) => [l.id, {
    m: posed[i][0], opacity: posed[i][1].opacity, sprite: posed[i][1].sprite,
    warp: [posed[i][1].warpOpen, posed[i][1].warpSmile, posed[i][1].warpSquash] }])));
}
const idle = new IdleLife(7);
let blinks = 0, maxYaw = 0, shut = false;
for (let t = 0; t < 60; t += 1 / 120) {
  const v = idle.pose(t);
  const now = v[PARAM_NAMES.indexOf("eyeBlinkLeft")] > 0.9;
  if (now && !shut) blinks++;
  shut = now;
  maxYaw = Math.max(maxYaw, Math.abs(v[PARAM_NAMES.indexOf("headYaw")]));
}
out.idle = { blinks, maxYaw };
console.log(JSON.stringify(out));
"""


def _run(payload: dict[str, object]) -> dict[str, object]:
    result: dict[str, object] = run_module(SCRIPT, payload)
    return result


def test_page_avatar_modules_match_the_python_ones() -> None:
    rng = random.Random(3)
    frames = []
    for i in range(6):
        frames.append(ParamFrame(
            seq=i, timestamp_us=1000 * i,
            flags=FrameFlags.FACE_PRESENT | (FrameFlags.CALIBRATED if i % 2 else 0),
            head_rotation=(rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1)),
            head_translation=(rng.uniform(-20, 20), rng.uniform(-20, 20), rng.uniform(-5, 5)),
            blendshapes=bytes(rng.randrange(256) for _ in range(52)),
            emotion=list(Emotion)[i % len(Emotion)] if i % 3 else None,
            emotion_weight=0.5 if i % 3 else 0.0,
        ))
    params: list[dict[str, float]] = [
        {},
        {"headYaw": 0.4, "headRoll": -0.3, "jawOpen": 0.9, "eyeBlinkLeft": 1.0, "smile": 0.7,
         "breath": 0.8, "gazeX": -0.5},
        {"upperArmAngleLeft": 1.3, "forearmAngleLeft": 2.4, "forearmForwardLeft": 0.8,
         "handAngleLeft": 2.0, "indexCurlLeft": 1.0, "upperArmAngleRight": -0.7,
         "upperArmForwardRight": -0.9, "torsoRoll": 0.3, "shoulderShrugLeft": 1.0},
    ]
    pack = load_pack("fox")
    out = _run({
        "files": pack_files(pack.root),
        "frames": [
            {"seq": f.seq, "timestampUs": f.timestamp_us, "flags": int(f.flags),
             "rotation": list(f.head_rotation), "translation": list(f.head_translation),
             "blendshapes": list(f.blendshapes),
             "emotion": None if f.emotion is None
             else [int(f.emotion), round(f.emotion_weight * 255)]}
            for f in frames
        ],
        "params": params,
    })
    assert out["names"] == list(PARAM_NAMES)
    assert out["hash"] == pack.content_hash
    vectors = out["vectors"]
    assert isinstance(vectors, list)
    for f, got in zip(frames, vectors, strict=True):
        want = frame_to_vector(f).tolist()
        for name, g, w in zip(PARAM_NAMES, got, want, strict=True):
            assert math.isclose(g, w, abs_tol=2e-3), (name, g, w)  # emotion weight: a byte
    poses = out["poses"]
    assert isinstance(poses, list)
    for p, got_pose in zip(params, poses, strict=True):
        for layer, (m, st) in zip(pack.layers, pose_layers(pack.layers, p), strict=True):
            got = got_pose[layer.id]
            assert got["m"] == pytest.approx(list(m), abs=1e-6), (layer.id, p)
            assert math.isclose(got["opacity"], st.opacity, abs_tol=1e-9), layer.id
            want_sprite = None if st.sprite is None else st.sprite.relative_to(pack.root).as_posix()
            assert got["sprite"] == want_sprite, layer.id
            assert got["warp"] == pytest.approx([st.warp_open, st.warp_smile, st.warp_squash])
    idle = out["idle"]
    assert isinstance(idle, dict)
    # 2-6 s between blinks (one in eight doubled): 10-35 in a minute; a few degrees of sway.
    assert 10 <= idle["blinks"] <= 35 and 0.01 < idle["maxYaw"] <= 0.0701
