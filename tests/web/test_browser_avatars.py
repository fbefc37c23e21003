"""The page draws the real avatar packs with WebGL, as the Python side does.

* The page's WebGL drawing of a built-in matches ``avatars.compose`` (the software reference
  the Python window is held to) pose for pose: rest, mouth open and eyes shut, head turned
  and an arm raised and foreshortened; drawn from several atlas pages it is the same picture,
  and an unchanged pose is not drawn again.
* A received pack: the page's pack inbox takes a real deterministic zip (``pack_bytes``) in
  16 KiB chunks, checks its content hash and draws it; a zip under the wrong hash, a pack that
  breaks the format and a malformed transfer are refused with a clear message.
* A real call (Python peer with its own custom pack, page voice on): the page receives and
  draws the Python peer's pack, offers voice that the Python peer agrees to, and the drawn
  mouth and eyes change with the Python side's known synthetic face (jaw at 0.7 Hz, blinks).
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from avatars.compose import compose
from avatars.pack import load_pack
from avatars.transfer import pack_bytes
from protocol.signaling import new_room_code, web_link

from ..peer.helpers import relay_running
from .browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium, python_peer

pytestmark = [pytest.mark.slow, pytest.mark.asyncio, needs_chromium]

#: Draw a built-in at given parameters on a canvas the pack's size (fill 1: the pack's canvas
#: maps onto it pixel for pixel, as compose() draws it) and return it as a PNG data URL.
DRAW = """async ([id, params]) => {
  const { builtinIndex, loadBuiltin } = await import("./pack.js");
  const { PackRenderer } = await import("./render.js");
  window.testPacks ??= {};
  window.testPacks[id] ??= loadBuiltin((await builtinIndex()).find((p) => p.id === id));
  const pack = await window.testPacks[id];
  const canvas = document.createElement("canvas");
  [canvas.width, canvas.height] = pack.canvas;
  document.body.append(canvas);
  const r = new PackRenderer(canvas);
  r.fill = 1;
  await r.setPack(pack);
  r.draw((name) => params[name] ?? 0);
  const url = canvas.toDataURL("image/png");
  canvas.remove();
  return [url, pack.hash];
}"""

#: The same pose drawn with the pack's images in one atlas page and spread over several (a GL
#: with small textures), and whether draw(..., {ifMoved}) skips an unchanged pose and draws a
#: moved one.
PAGES = """async ([id, params]) => {
  const { PackRenderer } = await import("./render.js");
  const pack = await window.testPacks[id];
  const shot = async (max) => {
    const canvas = document.createElement("canvas");
    [canvas.width, canvas.height] = pack.canvas;
    const r = new PackRenderer(canvas);
    r.fill = 1; r.atlasMax = max;
    await r.setPack(pack);
    r.draw((name) => params[name] ?? 0);
    return [canvas.toDataURL("image/png"), r.pages.length, r];
  };
  const [one, onePages] = await shot(4096);
  const [many, manyPages, r] = await shot(512);
  const same = r.draw((name) => params[name] ?? 0, { ifMoved: true });
  const moved = r.draw((name) => (name === "headYaw" ? 0.2 : params[name] ?? 0), { ifMoved: true });
  return { one, many, onePages, manyPages, same, moved };
}"""

#: Feed a zip to a fresh PackInbox in 16 KiB chunks, as ctl avatar_chunk messages would.
RECEIVE = """async ([id, digest, b64, tamper]) => {
  const { PackInbox, AVATAR_CHUNK_BYTES } = await import("./inbox.js");
  const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const sent = [];
  const result = await new Promise((resolve) => {
    const inbox = new PackInbox({
      send: (kind, values) => { sent.push(kind); return true; },
      onPack: (pack) => resolve(
        { ok: true, id: pack.id, hash: pack.hash, layers: pack.layers.length }),
      onRefused: (message) => resolve({ ok: false, message }),
    });
    inbox.request(id, digest);
    const total = Math.ceil(data.length / AVATAR_CHUNK_BYTES);
    for (let index = 0; index < total; index++) {
      const chunk = data.slice(index * AVATAR_CHUNK_BYTES, (index + 1) * AVATAR_CHUNK_BYTES);
      const at = tamper === "order" && index === 0 && total > 1 ? 1 : index;
      inbox.chunk({ hash: digest, index: at, total, size: data.length, data: chunk });
    }
  });
  return { ...result, sent };
}"""

#: What the peer view shows now: parameters drawn, and pixels of the mouth and eye colours
#: inside those layers' boxes as drawn (the boxes follow the head).
MEASURE = """([mouth, white]) => {
  const v = window.avatarchat.view;
  const c = document.createElement("canvas");
  c.width = v.canvas.width; c.height = v.canvas.height;
  const g = c.getContext("2d");
  g.drawImage(v.canvas, 0, 0);
  const count = (id, rgb, tol) => {
    const b = v.renderer.layerBox(id);
    if (!b) return -1;
    const x = Math.max(0, Math.floor(b.x) - 2), y = Math.max(0, Math.floor(b.y) - 2);
    const w = Math.min(c.width - x, Math.ceil(b.w) + 4);
    const h = Math.min(c.height - y, Math.ceil(b.h) + 4);
    if (w <= 0 || h <= 0) return 0;
    const d = g.getImageData(x, y, w, h).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] > 200 && Math.abs(d[i] - rgb[0]) <= tol && Math.abs(d[i + 1] - rgb[1]) <= tol
          && Math.abs(d[i + 2] - rgb[2]) <= tol) n++;
    }
    return n;
  };
  return {
    jaw: v.param("jawOpen"), blink: (v.param("eyeBlinkLeft") + v.param("eyeBlinkRight")) / 2,
    mouth: count("mouth_inner", mouth, 40),
    eyes: count("eye_left", white, 30) + count("eye_right", white, 30),
  };
}"""


def _png(url: str) -> np.ndarray:
    import base64

    img = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA")
    return np.asarray(img, dtype=np.float64)


def _over_black(rgba: np.ndarray) -> np.ndarray:
    return rgba[..., :3] * (rgba[..., 3:4] / 255.0)


def _layer_rgb(pack: str, layer: str) -> list[int]:
    """The mean colour of a layer's opaque pixels (what to look for on the screen)."""
    a = np.asarray(Image.open(load_pack(pack).root / "layers" / f"{layer}.png").convert("RGBA"))
    opaque = a[a[..., 3] > 200][:, :3]
    return [int(v) for v in opaque.mean(axis=0).round()]


POSES: list[dict[str, float]] = [
    {},
    {"jawOpen": 1.0, "mouthOpen": 1.0, "eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0, "smile": 0.8},
    {"headYaw": 0.5, "headPitch": -0.3, "headRoll": 0.3, "upperArmAngleLeft": 1.2,
     "forearmAngleLeft": 2.2, "forearmForwardLeft": 0.7, "indexCurlLeft": 1.0, "breath": 1.0,
     "gazeX": 0.8, "torsoRoll": -0.2},
]


def _custom_pack(tmp_path: Path) -> Path:
    """A pack no client has built in: fox's art under another id (so another content hash)."""
    dest = tmp_path / "myfox"
    shutil.copytree(load_pack("fox").root, dest)
    toml = dest / "avatar.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('id = "fox"', 'id = "myfox"', 1), encoding="utf-8"
    )
    return dest


@pytest.mark.timeout(90)
async def test_page_draws_packs_as_the_python_compositor_and_checks_received_ones(
    tmp_path: Path,
) -> None:
    import base64

    from playwright.async_api import async_playwright

    async with relay_running() as relay, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(web_link(relay.url, new_room_code()))

        drawn: list[np.ndarray] = []
        for pack_id, pose in [("aria", POSES[0]), ("aria", POSES[1]), ("fox", POSES[2])]:
            url, digest = await page.evaluate(DRAW, [pack_id, pose])
            pack = load_pack(pack_id)
            assert digest == pack.content_hash  # the page's content hash is avatars'
            got = _over_black(_png(url))
            drawn.append(got)
            want = _over_black(np.asarray(compose(pack, dict(pose)), dtype=np.float64))
            diff = np.abs(got - want).max(axis=2)
            # Bilinear (GPU) against bicubic (PIL) resampling and mesh-against-per-pixel warps
            # differ along edges only (seen: mean 0.02-1.1, under 0.02 % of pixels off by
            # more than 96); a wrong transform, binding or alpha moves or tints whole parts.
            assert diff.mean() < 1.5, (pack_id, pose, diff.mean())
            assert (diff > 96).mean() < 0.002, (pack_id, pose, (diff > 96).mean())

        # One draw call over an atlas: the images spread over several pages draw the same
        # picture; an unchanged pose is not drawn again, a turned head is.
        pages = await page.evaluate(PAGES, ["aria", POSES[1]])
        assert pages["onePages"] == 1 and pages["manyPages"] > 2, pages["manyPages"]
        assert np.abs(_png(pages["one"]) - _png(pages["many"])).max() <= 1
        assert (pages["same"], pages["moved"]) == (False, True)

        # A rest pose and an open mouth differ where the mouth is (the check above can fail).
        assert (np.abs(drawn[0] - drawn[1]).max(axis=2) > 96).sum() > 500

        # A received pack: the real zip a Python peer sends, chunked, hash-checked, parsed.
        custom = load_pack(str(_custom_pack(tmp_path)))
        data = pack_bytes(custom)
        b64 = base64.b64encode(data).decode()
        ok = await page.evaluate(RECEIVE, ["myfox", custom.content_hash, b64, ""])
        assert ok["ok"] is True, ok
        assert (ok["id"], ok["hash"]) == ("myfox", custom.content_hash)
        assert ok["sent"] == ["avatar_request"] and ok["layers"] == len(custom.layers)

        wrong = await page.evaluate(RECEIVE, ["myfox", "ab" * 32, b64, ""])
        assert wrong["ok"] is False and "does not match the announced" in wrong["message"]

        bad_dir = _custom_pack(tmp_path / "bad")
        toml = bad_dir / "avatar.toml"
        toml.write_text(toml.read_text(encoding="utf-8").replace(
            'param = "jawOpen"', 'param = "jawOpenWide"', 1), encoding="utf-8")
        from avatars.source import content_hash, read_dir
        from avatars.transfer import zip_source

        src = read_dir(bad_dir)
        bad_digest = content_hash(src.files.items())
        bad = await page.evaluate(
            RECEIVE, ["myfox", bad_digest, base64.b64encode(zip_source(src.files)).decode(), ""])
        assert bad["ok"] is False and "unknown parameter \"jawOpenWide\"" in bad["message"], bad

        shuffled = await page.evaluate(RECEIVE, ["myfox", custom.content_hash, b64, "order"])
        assert shuffled["ok"] is False and "malformed" in shuffled["message"]

        not_zip = base64.b64encode(b"PK\x03\x04 not really a zip" * 10).decode()
        junk = await page.evaluate(RECEIVE, ["myfox", "cd" * 32, not_zip, ""])
        assert junk["ok"] is False and "zip" in junk["message"]
        # A browser without WebGL (headless Firefox has none): the view says why and draws
        # nothing, and nothing throws, so the call goes on without avatars.
        no_gl = await page.evaluate("""async () => {
          const { AvatarView } = await import("./avatar.js");
          const canvas = document.createElement("canvas");
          canvas.getContext = () => null;
          const view = new AvatarView(canvas);
          view.update({ seq: 0, timestampUs: 1, flags: 1, rotation: [0, 0, 0],
                        translation: [0, 0, 60], blendshapes: new Uint8Array(52), emotion: null });
          view.draw();
          await view.setPack(await window.testPacks.aria);
          view.draw();
          return [view.error, view.frames];
        }""")
        assert no_gl == ["WebGL is not available in this browser", 2]
        assert errors == []
        await browser.close()


@pytest.mark.timeout(120)
async def test_call_draws_the_python_peers_own_pack_moving_with_its_face(tmp_path: Path) -> None:
    """~15 s: one real call (relay, Python peer, Chromium) carries the pack transfer, the page's
    voice offer and the moving-avatar checks together."""
    from playwright.async_api import async_playwright

    custom = load_pack(str(_custom_pack(tmp_path)))
    mouth_rgb, white = _layer_rgb("fox", "mouth_inner"), _layer_rgb("fox", "eye_left")
    room = new_room_code()
    # The Python peer waits in the room first, so the page (joining second) offers, with
    # m=audio since its voice is on by default.
    async with (
        relay_running() as relay,
        async_playwright() as pw,
        python_peer(relay.url, room, avatar=str(custom.root), voice=True, mic="silence",
                    speaker="none", echo_cancel=False) as (_, log),
    ):
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 600, "height": 1000})
            await page.goto(web_link(relay.url, room))
            await page.check("input[value=mochi]")
            await page.fill("#name", "웹 브라우저")
            await page.click("#join")
            await page.wait_for_function(
                "() => window.avatarchat.state === 'connected'", timeout=30_000)
            hello = await log.wait_for(lambda: log.of("peer_hello"), 15, "the page's hello")
            assert hello[-1]["avatar_id"] == "mochi"
            assert hello[-1]["avatar_hash"] == load_pack("mochi").content_hash

            # The Python peer's own pack arrives over ctl and is drawn.
            await page.wait_for_function(
                "() => window.avatarchat.peerAvatar?.source === 'received'", timeout=30_000)
            shown = await page.evaluate("window.avatarchat.peerAvatar")
            assert shown == {"id": "myfox", "hash": custom.content_hash, "source": "received"}
            assert await page.evaluate("window.avatarchat.avatarNote") == ""

            # Voice the page offered: the Python peer agreed and hears Opus from it.
            local = await page.evaluate("window.avatarchat.call.pc.localDescription.sdp")
            assert "m=audio" in local and "m=video" not in local
            await log.wait_for(
                lambda: (v := (log.last_stats() or {}).get("voice") or {})
                and v.get("agreed") and (v.get("packets_received") or 0) > 20,
                20, "the page's voice at the Python peer")
            # Mute: the microphone's track stops sending sound, the button says so.
            await page.click("#mute")
            assert await page.evaluate(
                "window.avatarchat.call.mic.getAudioTracks()[0].enabled") is False
            assert await page.inner_text("#mute") == "Unmute"
            # The self-view draws our own choice.
            assert await page.evaluate("window.avatarchat.selfView.pack.id") == "mochi"

            # The drawn mouth and eyes follow the Python side's synthetic face.
            samples: list[dict[str, Any]] = []
            for _ in range(150):
                samples.append(await page.evaluate(MEASURE, [mouth_rgb, white]))
                closed = [s for s in samples if s["jaw"] < 0.05 and s["blink"] < 0.05]
                opened = [s for s in samples if s["jaw"] > 0.35]
                blinking = [s for s in samples if s["blink"] > 0.8]
                if closed and opened and blinking:
                    break
                await page.wait_for_timeout(50)
            summary = json.dumps(samples[-20:])
            assert closed and opened and blinking, summary
            assert min(s["mouth"] for s in opened) > 3 * max(1, max(s["mouth"] for s in closed))
            assert max(s["eyes"] for s in blinking) < 0.5 * min(s["eyes"] for s in closed)
            shot_dir = Path(os.environ.get("AVATARCHAT_SCREENSHOT_DIR", tmp_path))
            await page.screenshot(path=str(shot_dir / "browser_custom_pack.png"))
            assert math.isfinite(await page.evaluate("window.avatarchat.renderFrames"))
        finally:
            await browser.close()
