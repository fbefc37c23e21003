"""The page's tracking maths (web/tracking.js) runs in Node against the Python tracker's own
functions: the pose from a transformation matrix (conventions and signs), mirroring, the One
Euro smoothing per channel group, and the face-lost hold, down to the quantised frame bytes.
Also: web/blendshapes.js is exactly what scripts/gen_web_blendshapes.py makes from
protocol/blendshapes.py. Fast and browser-free; test_browser_tracking.py runs MediaPipe."""

from __future__ import annotations

import importlib.util
import math
import random
from pathlib import Path

import numpy as np
import pytest

import web
from protocol.blendshapes import BLENDSHAPE_NAMES
from protocol.frame import FrameFlags, ParamFrame
from tracking.params import RawParams
from tracking.pipeline import Tracker
from tracking.pose import matrix_from_pose, pose_from_matrix

from .node_module import needs_node, run_module

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import { poseFromMatrix, mirrorParams, rawFromResult, FacePipeline } from "./tracking.js";
import { encodeFrame } from "./frame.js";
import { readFileSync } from "node:fs";
const input = JSON.parse(readFileSync(0, "utf8"));
const hex = (b) => Buffer.from(b).toString("hex");
const out = { poses: [], mirrored: [], frames: [] };
const params = (r) => ({ ...r, weights: Float64Array.from(r.weights) });
for (const m of input.matrices) out.poses.push(poseFromMatrix(m));
for (const r of input.raws) {
  const m = mirrorParams(params(r));
  out.mirrored.push({ ...m, weights: Array.from(m.weights) });
}
const pipeline = new FacePipeline();
input.steps.forEach((s, i) => {
  const raw = s.raw && params(s.raw);
  out.frames.push(hex(encodeFrame({ seq: i + 1, ...pipeline.process(raw, s.us, s.t) })));
});
// A result as tasks-vision gives it, in order, reversed (mapped by name), and faceless.
const cats = input.raws[0].weights.map((score, i) => ({ score, categoryName: input.names[i] }));
const result = (categories, face = true) => ({
  faceBlendshapes: face ? [{ categories }] : [],
  facialTransformationMatrixes: face ? [{ data: input.matrices[0] }] : [],
});
out.fromResult = [
  rawFromResult(result(cats)),
  rawFromResult(result([...cats].reverse())),
  rawFromResult(result(cats, false)),
  rawFromResult(result(cats.slice(1))),
].map((r) => r && { ...r, weights: Array.from(r.weights) });
console.log(JSON.stringify(out));
"""


def run_node(payload: dict[str, object]) -> dict[str, list[object]]:
    result: dict[str, list[object]] = run_module(SCRIPT, payload)
    return result


def _raw(rng: random.Random, t: float) -> RawParams:
    """A moving face: smooth pose and weights plus jitter (exercises the adaptive cutoff)."""
    weights = np.array([0.5 + 0.45 * math.sin(t * (1 + i % 7) + i) + rng.uniform(-0.03, 0.03)
                        for i in range(52)]).clip(0, 1)
    rotation = np.array([0.3 * math.sin(t * 1.3), 0.6 * math.sin(t * 0.7), 0.2 * math.cos(t)])
    translation = np.array([3 * math.sin(t), -2 + math.cos(t * 2), -45 + 5 * math.sin(t * 0.5)])
    return RawParams(weights, rotation + rng.uniform(-0.01, 0.01), translation)


def _js_raw(r: RawParams) -> dict[str, list[float]]:
    return {"weights": r.weights.tolist(), "rotation": r.rotation.tolist(),
            "translation": r.translation.tolist()}


@needs_node
def test_tracking_maths_match_the_python_tracker() -> None:
    rng = random.Random(18)
    # Poses: random rotations (away from gimbal lock) and their 4x4 matrices, column by column
    # as the web API hands them out (the browser test checks that layout on a real result).
    poses = [((rng.uniform(-1.4, 1.4), rng.uniform(-3, 3), rng.uniform(-3, 3)),
              (rng.uniform(-20, 20), rng.uniform(-20, 20), rng.uniform(-90, -20)))
             for _ in range(40)]
    matrices = [matrix_from_pose(r, t) for r, t in poses]
    raws = [_raw(rng, i * 0.37) for i in range(5)]
    # A tracked stretch at an uneven ~30 FPS (one duplicated timestamp), a face lost for 0.3 s
    # (held), then for 0.7 s (neutral, filters reset), then back.
    steps: list[tuple[float, RawParams | None]] = []
    t = 0.0
    for i in range(120):
        t += 0 if i == 40 else rng.uniform(0.025, 0.045)
        lost = 60 <= i < 69 or 80 <= i < 101
        steps.append((t, None if lost else _raw(rng, t)))
    out = run_node({
        "matrices": [m.T.reshape(-1).tolist() for m in matrices],
        "raws": [_js_raw(r) for r in raws],
        "names": list(BLENDSHAPE_NAMES),
        # Python's clocks are integer ns: the page gets the same instants.
        "steps": [{"t": round(t * 1e9) / 1e9, "us": round(t * 1e9) // 1000,
                   "raw": None if r is None else _js_raw(r)} for t, r in steps],
    })
    for m, (rotation, _), js in zip(matrices, poses, out["poses"], strict=True):
        py_rot, py_tr = pose_from_matrix(m)
        assert isinstance(js, dict)
        assert js["rotation"] == pytest.approx(py_rot, abs=1e-9)
        assert js["rotation"] == pytest.approx(rotation, abs=1e-9)  # the round trip, signs kept
        assert js["translation"] == pytest.approx(py_tr, abs=1e-9)
    for r, js in zip(raws, out["mirrored"], strict=True):
        m = r.mirrored()
        assert isinstance(js, dict)
        assert js["weights"] == m.weights.tolist()
        assert js["rotation"] == pytest.approx(m.rotation.tolist(), abs=0)
        assert js["translation"] == pytest.approx(m.translation.tolist(), abs=0)
    # A FaceLandmarkerResult: the first face's weights (by name if reordered) and pose; None
    # without a face or with a category missing (as tracking.params.RawParams.from_result).
    in_order, by_name, faceless, short = out["fromResult"]
    py_rot, py_tr = pose_from_matrix(matrices[0])
    for got in (in_order, by_name):
        assert isinstance(got, dict)
        assert got["weights"] == raws[0].weights.tolist()
        assert got["rotation"] == pytest.approx(py_rot, abs=1e-9)
        assert got["translation"] == pytest.approx(py_tr, abs=1e-9)
    assert faceless is None and short is None
    # The whole per-frame path: the page's bytes are the Python tracker's bytes.
    tracker = Tracker(load_model=False)
    flags = []
    for (t, raw), js in zip(steps, out["frames"], strict=True):
        py = tracker.process_raw(raw, round(t * 1e9), round(t * 1e9))
        assert js == py.encode().hex(), (t, raw is None)
        flags.append(ParamFrame.decode(bytes.fromhex(str(js))).flags)
    assert flags[59] == FrameFlags.FACE_PRESENT and flags[60] == FrameFlags.HELD
    assert flags[68] == FrameFlags.HELD and flags[69] == FrameFlags.FACE_PRESENT
    assert FrameFlags(0) in flags[80:101] and flags[101] == FrameFlags.FACE_PRESENT


def test_web_blendshapes_module_is_generated_from_protocol() -> None:
    script = REPO / "scripts" / "gen_web_blendshapes.py"
    spec = importlib.util.spec_from_file_location("gen_web_blendshapes", script)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (web.ROOT / "blendshapes.js").read_text(encoding="utf-8") == gen.render(), (
        "web/blendshapes.js is stale: run python scripts/gen_web_blendshapes.py")
