"""The page's body keys (frame keys 8-12) run in Node against the Python code they port: the
decoder reads protocol/body.py's golden frame and random bodies to the values ParamFrame.decode
gives and refuses the same bad inputs; ``frameToVector`` fills the upper-body parameters as
render_window.params.frame_to_vector; and the motion layer eases each body group as
render_window.motion.Motion does (the same spring weights at the same times, the same tracked
arm while it is seen, and back to rest when it is no longer). Fast and browser-free; the
Chromium call in test_browser_body.py shows the arm drawn."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from avatars.params import PARAM_NAMES
from protocol.body import ArmPose, BodyPose, HandShape, normalized
from protocol.errors import DecodeError
from protocol.frame import FrameFlags, ParamFrame
from render_window.idle import IdleLife
from render_window.motion import Motion
from render_window.params import frame_to_vector

from ..protocol.test_frame import wire_with
from ..protocol.test_frame_body import GOLDEN_BODY, body_frame
from .node_module import needs_node, run_module

pytestmark = needs_node

SCRIPT = """
import { readFileSync } from "node:fs";
import { decodeFrame } from "./frame.js";
import { frameToVector, bodyPresence } from "./params.js";
import { Motion, IdleLife } from "./motion.js";
const input = JSON.parse(readFileSync(0, "utf8"));
const bytes = (h) => new Uint8Array(Buffer.from(h, "hex"));
const out = { decoded: [], vectors: [], presence: [], errors: [], samples: [] };
for (const h of input.frames) {
  const f = decodeFrame(bytes(h));
  out.decoded.push(f.body);
  out.vectors.push(Array.from(frameToVector(f)));
  out.presence.push(bodyPresence(f));
}
for (const h of input.bad) {
  try { decodeFrame(bytes(h)); out.errors.push(null); } catch (e) { out.errors.push(e.message); }
}
const motion = new Motion(new IdleLife(1));
for (const [kind, t, h] of input.events) {
  if (kind === "push") {
    const f = decodeFrame(bytes(h));
    motion.push(f, frameToVector(f), t);
  } else {
    const pose = motion.sample(t);
    out.samples.push({ weights: motion.bodyWeights, pose: Array.from(pose) });
  }
}
console.log(JSON.stringify(out));
"""


def _run(payload: dict[str, object]) -> dict[str, Any]:
    result: dict[str, Any] = run_module(SCRIPT, payload)
    return result


def _vec(rng: random.Random) -> tuple[float, float, float]:
    return normalized((rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1) + 0.01))


def _random_bodies() -> list[BodyPose]:
    rng = random.Random(17)
    bodies = []
    for i in range(40):
        arms = tuple(
            None if (i + k) % 3 == 0 else ArmPose(_vec(rng), _vec(rng), _vec(rng), _vec(rng))
            for k in range(2)
        )
        hands = tuple(
            None if (i + k) % 4 == 1
            else HandShape(tuple(rng.random() for _ in range(5)), rng.random())  # type: ignore[arg-type]
            for k in range(2)
        )
        bodies.append(BodyPose(
            shoulder_shrug=(rng.random(), rng.random()), torso_roll=rng.uniform(-1.6, 1.6),
            arms=arms, hands=hands,  # type: ignore[arg-type]
        ))
    return bodies


def _js_body(body: BodyPose | None) -> object:
    """Python's decoded body in the page's shape (what decodeFrame returns)."""
    if body is None:
        return None
    return {
        "shrug": list(body.shoulder_shrug), "torsoRoll": body.torso_roll,
        "arms": [None if a is None else {
            "upperArm": list(a.upper_arm), "forearm": list(a.forearm), "hand": list(a.hand),
            "palmNormal": list(a.palm_normal)} for a in body.arms],
        "hands": [None if h is None else {"curls": list(h.curls), "spread": h.spread}
                  for h in body.hands],
    }


def _close(got: object, want: object) -> bool:
    if isinstance(want, dict):
        return isinstance(got, dict) and got.keys() == want.keys() and all(
            _close(got[k], want[k]) for k in want)
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(
            _close(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, float | int) and not isinstance(want, bool):
        return isinstance(got, float | int) and math.isclose(got, want, abs_tol=1e-12)
    return got == want


BAD = [
    (wire_with(body_frame(), k8=[0, 0, 0]), "torso must be a byte string"),
    (wire_with(body_frame(), k8=b"\x00\x00"), "torso: expected 3 bytes, got 2"),
    (wire_with(body_frame(), k9=b"\x00" * 11), "left arm: expected 12 bytes, got 11"),
    (wire_with(body_frame(), k10="x" * 12), "right arm must be a byte string"),
    (wire_with(body_frame(), k11=b"\x00" * 7), "left hand: expected 6 bytes, got 7"),
    (wire_with(body_frame(), k12=None), "right hand must be a byte string"),
    (wire_with(body_frame(), k9=bytes(12)), "direction (0, 0, 0) is not a unit vector"),
    (wire_with(body_frame(), k10=bytes([10, 10, 10]) + bytes(9)), "is not a unit vector"),
    (wire_with(body_frame(), k8=...), "arm or hand keys without the torso key 8"),
]

RAISED = ArmPose(normalized((0.9, 0.4, 0.2)), normalized((0.3, 0.9, 0.3)), (0.0, 1.0, 0.0),
                 (0.0, 0.0, 1.0))
HAND = HandShape((1.0, 0.9, 0.8, 0.7, 0.6), 0.5)


def _events() -> list[tuple[str, float, str]]:
    """1.5 s of frames at 30 Hz with the left arm raised and the hand seen, 1.5 s with the torso
    only (the arm left the picture), then 1 s of nothing; samples at 60 Hz throughout."""
    events: list[tuple[str, float, str]] = []
    for i in range(90):
        t = 1.0 + i / 30
        body = BodyPose(
            shoulder_shrug=(0.3, 0.0), torso_roll=0.1 * math.sin(i / 5),
            arms=(RAISED, None) if i < 45 else (None, None),
            hands=(HAND, None) if i < 45 else (None, None),
        )
        frame = ParamFrame(seq=i, timestamp_us=round(t * 1e6), flags=FrameFlags.FACE_PRESENT,
                           blendshapes=bytes(52), body=body)
        events.append(("push", t + 0.02, frame.encode().hex()))
    for k in range(240):
        events.append(("sample", 1.0 + k / 60 + 0.005, ""))
    events.sort(key=lambda e: e[1])
    return events


def test_page_reads_body_keys_and_eases_them_as_the_python_window() -> None:
    bodies = _random_bodies()
    frames = [GOLDEN_BODY, *(body_frame(b).encode() for b in bodies), body_frame(None).encode()]
    events = _events()
    out = _run({"frames": [f.hex() for f in frames], "bad": [d.hex() for d, _ in BAD],
                "events": events})

    # The golden frame and every random body decode to Python's values; a face-only frame to
    # null (and presence all false).
    for data, got in zip(frames, out["decoded"], strict=True):
        want = _js_body(ParamFrame.decode(data).body)
        assert _close(got, want), (got, want)
    assert out["decoded"][-1] is None and out["presence"][-1] == [False] * 5
    assert out["presence"][0] == [True] * 5
    # The upper-body parameters are render_window's, name by name.
    for data, got_vec in zip(frames, out["vectors"], strict=True):
        want_vec = frame_to_vector(ParamFrame.decode(data)).tolist()
        for name, g, w in zip(PARAM_NAMES, got_vec, want_vec, strict=True):
            assert math.isclose(g, w, abs_tol=1e-9), (name, g, w)
    # Bad bodies are refused, each with the Python decoder's reason.
    for (data, message), err in zip(BAD, out["errors"], strict=True):
        with pytest.raises(DecodeError):  # the Python decoder refuses it too
            ParamFrame.decode(data)
        assert isinstance(err, str) and message in err, (message, err)

    # Motion: the same body weights as the Python window's at every sample ...
    py = Motion(IdleLife(seed=1))
    samples = out["samples"]
    arm = [PARAM_NAMES.index(n) for n in PARAM_NAMES if n.endswith("Left") and (
        "Arm" in n or "forearm" in n or n.startswith(("hand", "palm")) or "Curl" in n)]
    k = 0
    tracked = rested = 0
    for kind, t, h in events:
        if kind == "push":
            py.push(ParamFrame.decode(bytes.fromhex(h)), t)
            continue
        want = py.sample(t)
        got = samples[k]
        k += 1
        assert isinstance(got, dict)
        for group, w in py.body_weights.items():
            assert math.isclose(got["weights"][group], w, abs_tol=1e-9), (t, group)
        # ... the same tracked arm and hand while they are seen (up to the idle pose's share,
        # which differs: each side's idle life has its own random phases) ...
        w_arm = max(py.body_weights["armLeft"], py.body_weights["handLeft"])
        if w_arm < 0.01:
            tracked += 1
            for i in arm:
                assert abs(got["pose"][i] - want.params[i]) <= 4 * w_arm + 1e-9, (
                    t, PARAM_NAMES[i])
        # ... and the arm hanging at rest once it left the picture (the stream still flowing).
        if t < 3.98 and py.body_weights["armLeft"] > 0.995:
            rested += 1
            up = got["pose"][PARAM_NAMES.index("upperArmAngleLeft")]
            assert -0.05 < up < 0.2, (t, up)  # idle: a little outward, swaying
    assert tracked > 20 and rested > 10, (tracked, rested)
    # Mid-way the arm was raised in the page too (the spring had settled on the tracked pose).
    raised = max(s["pose"][PARAM_NAMES.index("upperArmAngleLeft")] for s in samples)
    assert raised == pytest.approx(math.atan2(RAISED.upper_arm[0], -RAISED.upper_arm[1]), abs=0.02)
    last = samples[-1]["weights"]
    assert (last["armLeft"], last["handLeft"], last["armRight"]) == (1.0, 1.0, 1.0)
    assert last["torso"] > 0.9  # the stream stopped 0.5 s ago: the torso eases to rest too
