"""The page's wire units run in Node (the same ES modules the browser loads) against the Python
ones: frames byte-identical to ParamFrame.encode (float16 rounding included), ctl messages
parsed by protocol.ctl both ways, the SAS equal to peer.connection's, the blendshape order
equal to protocol.blendshapes'. Fast and browser-free; the Chromium call test covers the rest."""

from __future__ import annotations

import json
import math
import random
import shutil
import subprocess

import pytest

import web
from peer.connection import short_auth_string
from protocol import ctl
from protocol.blendshapes import BLENDSHAPE_NAMES
from protocol.frame import Emotion, FrameFlags, ParamFrame

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="needs node to run the page's modules")

SCRIPT = """
import { encodeFrame, decodeFrame, halfBits } from "./frame.js";
import { encodeCtl, decodeCtl } from "./ctl.js";
import { shortAuthString, sha256Fallback } from "./sas.js";
import { BLENDSHAPE_NAMES } from "./blendshapes.js";
const input = JSON.parse(process.argv[1]);
const hex = (b) => Buffer.from(b).toString("hex");
const out = { frames: [], ctl: [], decodedCtl: [], sas: [], decodedFrames: [] };
for (const f of input.frames) {
  out.frames.push(hex(encodeFrame({ ...f, blendshapes: Uint8Array.from(f.blendshapes) })));
}
for (const h of input.pyFrames) {
  const f = decodeFrame(Buffer.from(h, "hex"));
  out.decodedFrames.push({ ...f, blendshapes: Array.from(f.blendshapes) });
}
for (const [kind, values] of input.ctl) out.ctl.push(hex(encodeCtl(kind, values)));
for (const h of input.pyCtl) out.decodedCtl.push(decodeCtl(Buffer.from(h, "hex")));
for (const [a, b] of input.sas) out.sas.push(await shortAuthString(a, b));
out.fallback = hex(sha256Fallback(new TextEncoder().encode("abc")));
out.names = BLENDSHAPE_NAMES;
out.halfOfThird = halfBits(1 / 3);
console.log(JSON.stringify(out));
"""


def run_node(payload: dict[str, object]) -> dict[str, object]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", SCRIPT, json.dumps(payload)],
        cwd=web.ROOT, capture_output=True, text=True, timeout=30, check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _frames() -> list[ParamFrame]:
    rng = random.Random(18)
    edge = [0.0, -0.0, 1e-8, 3e-8, 6.1e-5, 2**-24 * 1.5, 0.1, 1 / 3, 0.5 + 2**-12, math.pi,
            -4.0, 999.9, 2000.0, 1.0009765625 + 2**-11]
    frames = []
    for i in range(60):
        rot = tuple(rng.choice(edge) if i % 3 == 0 else rng.uniform(-3.5, 3.5) for _ in range(3))
        tr = tuple(rng.choice(edge) if i % 4 == 0 else rng.uniform(-1100, 1100) for _ in range(3))
        frames.append(ParamFrame(
            seq=rng.choice([0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, rng.randrange(2**32)]),
            timestamp_us=rng.choice([0, 1, 10**6, 2**32, 2**53 - 1, rng.randrange(2**40)]),
            flags=FrameFlags(rng.randrange(64)),
            head_rotation=rot,  # type: ignore[arg-type]
            head_translation=tr,  # type: ignore[arg-type]
            blendshapes=bytes(rng.randrange(256) for _ in range(52)),
            emotion=Emotion(rng.randrange(5)) if i % 2 else None,
            emotion_weight=rng.random(),
        ))
    return frames


def _js_frame(f: ParamFrame) -> dict[str, object]:
    return {
        "seq": f.seq, "timestampUs": f.timestamp_us, "flags": int(f.flags),
        "rotation": list(f.head_rotation), "translation": list(f.head_translation),
        "blendshapes": list(f.blendshapes),
        "emotion": None if f.emotion is None else [int(f.emotion), round(f.emotion_weight * 255)],
    }


def test_page_units_match_the_python_wire() -> None:
    frames = _frames()
    py_ctl = [
        ctl.Hello(name="파이썬", avatar_id="aria", avatar_version="1.0.0", avatar_hash="ab" * 32,
                  app_version="0.1.0"),
        ctl.Ping(seq=7, t1_us=2**40 + 5), ctl.Pong(seq=7, t1_us=1, t2_us=2**33, t3_us=2**33 + 9),
        ctl.Chat(msg_id=3, text="안녕 👋"), ctl.Bye(reason="hangup"),
    ]
    js_ctl = [
        ["hello", {"name": "브라우저", "avatar_id": "aria", "avatar_version": "",
                   "avatar_hash": "", "app_version": "avatarchat-web/0.1", "protocol": 1}],
        ["ping", {"seq": 1, "t1_us": 123_456_789_012}],
        ["pong", {"seq": 9, "t1_us": 2**40, "t2_us": 5, "t3_us": 6}],
        ["chat", {"msg_id": 1, "text": "반가워요 <b>"}],
        ["emotion", {"preset": 1, "weight": 0.5}],
        ["emotion", {"preset": 2, "weight": 1}],
        ["avatar_unavailable", {"hash": "ab" * 32, "reason": "none"}],
        ["bye", {"reason": "hangup"}],
    ]
    fps = [("AB:CD:EF", "01:02:03"), ("aa:bb", "AA:BC"), ("X" * 95, "Y" * 95)]
    out = run_node({
        "frames": [_js_frame(f) for f in frames],
        "pyFrames": [f.encode().hex() for f in frames],
        "ctl": js_ctl, "pyCtl": [m.encode().hex() for m in py_ctl], "sas": fps,
    })
    # Frames: the page's bytes are exactly what Python encodes for the same values.
    js_frames = out["frames"]
    assert isinstance(js_frames, list)
    for f, js in zip(frames, js_frames, strict=True):
        assert js == f.encode().hex(), f
        assert ParamFrame.decode(bytes.fromhex(js)).blendshapes == f.blendshapes
    # ... and the page decodes Python's frames to the same values.
    decoded = out["decodedFrames"]
    assert isinstance(decoded, list)
    for f, d in zip(frames, decoded, strict=True):
        back = ParamFrame.decode(f.encode())
        assert d["seq"] == back.seq and d["timestampUs"] == back.timestamp_us
        assert d["rotation"] == list(back.head_rotation)
        assert d["translation"] == list(back.head_translation)
        assert bytes(d["blendshapes"]) == back.blendshapes
    # ctl: Python parses every page message to the values the page meant ...
    js_ctl_hex = out["ctl"]
    assert isinstance(js_ctl_hex, list)
    parsed = [ctl.parse_ctl(bytes.fromhex(h)) for h in js_ctl_hex]
    assert parsed[0] == ctl.Hello(name="브라우저", avatar_id="aria",
                                  app_version="avatarchat-web/0.1")
    assert parsed[1] == ctl.Ping(seq=1, t1_us=123_456_789_012)
    assert parsed[2] == ctl.Pong(seq=9, t1_us=2**40, t2_us=5, t3_us=6)
    assert parsed[3] == ctl.Chat(msg_id=1, text="반가워요 <b>")
    assert parsed[4] == ctl.EmotionPreset(preset=1, weight=0.5)
    assert parsed[5] == ctl.EmotionPreset(preset=2, weight=1.0)
    assert parsed[6] == ctl.AvatarUnavailable(hash="ab" * 32, reason="none")
    assert parsed[7] == ctl.Bye(reason="hangup")
    # ... and the page reads Python's.
    dec = out["decodedCtl"]
    assert isinstance(dec, list)
    assert dec[0]["kind"] == "hello" and dec[0]["name"] == "파이썬"
    assert dec[1] == {"kind": "ping", "seq": 7, "t1_us": 2**40 + 5}
    assert dec[2] == {"kind": "pong", "seq": 7, "t1_us": 1, "t2_us": 2**33, "t3_us": 2**33 + 9}
    assert dec[3] == {"kind": "chat", "msg_id": 3, "text": "안녕 👋"}
    assert dec[4] == {"kind": "bye", "reason": "hangup"}
    # SAS: the same six digits as peer/ from the same fingerprints (SHA-256 fallback too).
    assert out["sas"] == [short_auth_string(a, b) for a, b in fps]
    assert out["fallback"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert out["names"] == list(BLENDSHAPE_NAMES)
    assert out["halfOfThird"] == 0x3555
