"""One real call carries both directions of what a Python peer and the page add to the face:
a Python peer's raised arm reaches the page's picture (and goes back to hanging when the arm
leaves the sender's picture), and the page's own 2D pack reaches the Python peer.

Real relay, a real ``python -m peer`` networking process (aiortc) and Debian's Chromium. The
test is the Python side's tracker: it writes parameter frames with a body (protocol/body.py,
keys 8-12) into the peer's local ring, as ``python -m tracking --body on`` does, so the pose is
known exactly: first a face with no body (arms at their idle rest), then the user's left arm
raised (the hand beside the head), then frames with the torso only (the arm left the picture).
Checked on the page's pixels: the region where the raised hand is drawn differs from the rest
picture while the arm is up and matches it again once the arm has eased back, the other arm
stays where it was; and on the drawn parameters (the raised angle is the frame's).

The page brings its own pack: a .zip picked on the join form is checked with pack.js's rules (a
broken one is refused with the reason, a good one named), drawn in the self-view, announced in
the hello with its content hash and sent over ctl when the Python peer asks (outbox.js: 16 KiB
chunks, paced, as peer/ctl_handler.py sends one). The Python peer checks the hash, installs it
and tells its window to draw it: what it installed is the pack the user zipped (same content
hash) and avatars.compose draws it.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
import shutil
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from avatars.compose import compose
from avatars.pack import load_pack
from protocol.body import ArmPose, BodyPose, HandShape, normalized
from protocol.frame import FrameFlags, ParamFrame
from protocol.ring import ShmRing
from protocol.signaling import ROOM_ENV, new_room_code, web_link

from ..peer.helpers import relay_running
from .browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium

if TYPE_CHECKING:  # playwright is a test extra: the module must import without it
    from playwright.async_api import FilePayload

pytestmark = [pytest.mark.slow, pytest.mark.asyncio, needs_chromium]

#: The user's left arm up and out, forearm up, palm to the camera.
RAISED = ArmPose(normalized((0.9, 0.4, 0.2)), normalized((0.3, 0.9, 0.3)), (0.0, 1.0, 0.0),
                 (0.0, 0.0, 1.0))
UP_ANGLE = math.atan2(RAISED.upper_arm[0], -RAISED.upper_arm[1])  # segment_angle, ~2 rad

#: Draw the peer view and copy its canvas in the same task (WebGL keeps no drawing buffer past
#: it): keep it as `name`, or return the share of a canvas box's pixels that differ from copy
#: `name` by more than 60 in some channel, least over shifts of up to 6 px (idle life sways a
#: resting arm and breathes by a few pixels; a raised hand is a different picture). Also says
#: how much of the copy is drawn at all and the canvas size, so a failure tells a blank or
#: resized canvas from an avatar that did not move.
PIXELS = """([op, name, box]) => {
  const v = window.avatarchat.view;
  v.draw();
  const c = document.createElement("canvas");
  c.width = v.canvas.width; c.height = v.canvas.height;
  const g = c.getContext("2d");
  g.drawImage(v.canvas, 0, 0);
  window.shots ??= {};
  const img = g.getImageData(0, 0, c.width, c.height);
  let opaque = 0;
  for (let i = 3; i < img.data.length; i += 4) if (img.data[i] > 0) opaque++;
  const info = { drawn: opaque / (c.width * c.height), size: [c.width, c.height] };
  if (op === "keep") { window.shots[name] = img; return { share: 0, ...info }; }
  const ref = window.shots[name].data, now = img.data;
  if (window.shots[name].width !== c.width) return { share: -1, ...info };
  const S = 6, W = c.width;
  const x0 = Math.max(S, Math.floor(box.x)), y0 = Math.max(S, Math.floor(box.y));
  const x1 = Math.min(W - S, Math.ceil(box.x + box.w));
  const y1 = Math.min(c.height - S, Math.ceil(box.y + box.h));
  if (x1 - x0 < 4 || y1 - y0 < 4) return { share: -1, ...info };
  const all = (x1 - x0) * (y1 - y0);
  let best = all;
  for (let dy = -S; dy <= S; dy += 2) for (let dx = -S; dx <= S; dx += 2) {
    let n = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
      const i = 4 * (y * W + x), j = 4 * ((y + dy) * W + x + dx);
      if (Math.abs(now[i] - ref[j]) > 60 || Math.abs(now[i + 1] - ref[j + 1]) > 60
          || Math.abs(now[i + 2] - ref[j + 2]) > 60) n++;
    }
    best = Math.min(best, n);
  }
  return { share: best / all, ...info };
}"""
STATE = """() => {
  const v = window.avatarchat.view;
  return { weights: v.motion.bodyWeights, up: v.param("upperArmAngleLeft"),
           right: v.param("upperArmAngleRight"), frames: v.motion.framesReceived,
           hand: v.renderer.layerBox("hand_left"),
           rightArm: v.renderer.layerBox("upper_arm_right") };
}"""


class Sender:
    """The Python side's tracker: 30 frames a second into the ring, with ``body`` as set."""

    def __init__(self, ring: ShmRing) -> None:
        self.writer = ring.writer()
        self.body: BodyPose | None = None
        self.seq = 0

    async def run(self) -> None:
        while True:
            now = time.monotonic_ns()
            frame = ParamFrame(seq=self.seq, timestamp_us=now // 1000,
                               flags=FrameFlags.FACE_PRESENT, head_translation=(0.0, 0.0, -50.0),
                               blendshapes=bytes(52), body=self.body)
            self.writer.write(frame.encode(), now)
            self.seq += 1
            await asyncio.sleep(1 / 30)


class PeerEvents:
    """The networking process's JSON event lines (its stdout), as they come."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Event()

    async def read(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                continue
            self.changed.set()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == kind]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        try:
            async with asyncio.timeout(timeout):
                while not (found := predicate()):
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise AssertionError(f"no {what} within {timeout} s") from None
        return found


def _user_zip(folder: Path) -> bytes:
    """A pack as a person zips it: one top folder, the file manager's own order and times."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*"), reverse=True):
            zf.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return buf.getvalue()


def _payload(name: str, data: bytes) -> FilePayload:
    return {"name": name, "mimeType": "application/zip", "buffer": data}


def _own_pack(tmp_path: Path) -> tuple[str, bytes, bytes]:
    """(content hash, zip, a broken zip) of fox's art under the id myfox."""
    mine = tmp_path / "myfox"
    shutil.copytree(load_pack("fox").root, mine)
    toml = mine / "avatar.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('id = "fox"', 'id = "myfox"', 1),
                    encoding="utf-8")
    digest, good = load_pack(str(mine)).content_hash, _user_zip(mine)
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        'param = "jawOpen"', 'param = "jawOpenWide"', 1), encoding="utf-8")
    return digest, good, _user_zip(mine)


@pytest.mark.timeout(120)
async def test_python_peers_raised_arm_is_drawn_in_the_page_and_the_pages_pack_reaches_it(
    tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright

    digest, good, bad = _own_pack(tmp_path)
    room = new_room_code()
    local, remote = ShmRing.create("test"), ShmRing.create("test")
    sender = Sender(local)
    feeding = asyncio.create_task(sender.run())
    events = PeerEvents()
    async with relay_running() as relay, async_playwright() as pw:
        with (tmp_path / "peer.err").open("wb") as err:
            peer = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "peer", "--relay", relay.url, "--local-ring", local.name,
                "--remote-ring", remote.name, "--avatar", "aria", "--no-voice", "--name", "파이썬",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err,
                # Its own cache: nothing received in an earlier run spares the transfer.
                env={**os.environ, ROOM_ENV: room, "XDG_CACHE_HOME": str(tmp_path / "cache")},
            )
        assert peer.stdout is not None
        reading = asyncio.create_task(events.read(peer.stdout))
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 600, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(web_link(relay.url, room))
            # The page's own pack: a broken one is refused on the form with the reason ...
            await page.set_input_files("#pack-file", files=[_payload("bad.zip", bad)])
            await page.wait_for_function(
                "() => document.getElementById('pack-note').textContent.includes('cannot')")
            note = await page.inner_text("#pack-note")
            assert 'unknown parameter "jawOpenWide"' in note, note
            # ... a good one is named, and it is the choice (no built-in radio stays checked).
            await page.set_input_files("#pack-file", files=[_payload("myfox.zip", good)])
            await page.wait_for_function(
                "() => document.getElementById('pack-note').textContent.includes('myfox')")
            checked = "document.querySelectorAll('input[name=avatar]:checked').length"
            assert await page.evaluate(checked) == 0
            await page.fill("#name", "브라우저")
            await page.uncheck("#voice")
            await page.click("#join")
            await page.wait_for_function(
                "() => window.avatarchat.state === 'connected'"
                " && window.avatarchat.peerAvatar?.id === 'aria'"
                " && window.avatarchat.view.motion.framesReceived > 20", timeout=30_000)
            # The Python peer asked for the page's pack, received it in chunks, checked and
            # installed it, and named it to its window as the peer's avatar.
            shown = await events.wait_for(
                lambda: [e for e in events.of("peer_avatar")
                         if e.get("avatar_id") == "myfox" and not e.get("pending")],
                40, "the page's pack installed at the Python peer")
            hello = events.of("peer_hello")[-1]
            assert (hello["avatar_id"], hello["avatar_hash"]) == ("myfox", digest)
            installed = load_pack(shown[-1]["ref"])
            assert installed.id == "myfox" and installed.content_hash == digest
            picture = np.asarray(compose(installed, {}))
            assert (picture[..., 3] > 0).mean() > 0.1  # drawn as the window draws it
            sent = await page.evaluate(
                "({ sent: window.avatarchat.call.outbox.sent,"
                "   self: window.avatarchat.selfView.pack.id })")
            assert sent == {"sent": 1, "self": "myfox"}

            # A tracked face, no body: the arms hang at rest. Keep that picture.
            await page.wait_for_function(
                "() => window.avatarchat.view.motion.idleW === 0", timeout=10_000)
            rest = await page.evaluate(STATE)
            assert rest["weights"]["armLeft"] == 1.0 and abs(rest["up"]) < 0.2, rest
            kept = await page.evaluate(PIXELS, ["keep", "rest", None])
            assert kept["drawn"] > 0.3, kept  # the avatar is on the canvas

            sender.body = BodyPose(arms=(RAISED, None),
                                   hands=(HandShape((0.1, 0.0, 0.0, 0.0, 0.0), 0.3), None))
            # Tracked (its spring settled) and drawn at the frames' angle (the playout clock runs
            # a little behind the arrivals, more so on a loaded machine).
            await page.wait_for_function(
                "(up) => window.avatarchat.view.motion.bodyWeights.armLeft < 0.002"
                " && Math.abs(window.avatarchat.view.param('upperArmAngleLeft') - up) < 0.05",
                arg=UP_ANGLE, timeout=10_000)
            up = await page.evaluate(STATE)
            assert up["up"] == pytest.approx(UP_ANGLE, abs=0.05), up
            assert up["weights"]["armRight"] == 1.0  # never seen: still at rest
            hand, other = up["hand"], up["rightArm"]
            assert hand["y"] < rest["hand"]["y"] - 50, (hand, rest["hand"])  # raised on screen
            raised = await page.evaluate(PIXELS, ["diff", "rest", hand])
            other_arm = await page.evaluate(PIXELS, ["diff", "rest", other])
            raised_changed, other_changed = raised["share"], other_arm["share"]
            # The hand now covers hair and shoulder where it was not drawn at rest; the arm
            # that was not raised only breathes and sways a pixel or two.
            assert raised_changed > 0.25, (raised, hand)
            assert 0 <= other_changed < 0.1, (other_arm, other)

            # The arm leaves the sender's picture (the torso is still seen): after the 150 ms
            # grace it eases back to hanging, and the picture is the rest picture again.
            sender.body = BodyPose(shoulder_shrug=(0.0, 0.0))
            await page.wait_for_function(
                "() => window.avatarchat.view.motion.bodyWeights.armLeft === 1", timeout=10_000)
            back = await page.evaluate(STATE)
            assert abs(back["up"]) < 0.2, back
            after = await page.evaluate(PIXELS, ["diff", "rest", hand])
            assert 0 <= after["share"] < 0.1, after
            assert errors == []
        finally:
            await browser.close()
            feeding.cancel()
            reading.cancel()
            assert peer.stdin is not None
            peer.stdin.close()  # EOF = quit
            try:
                await asyncio.wait_for(peer.wait(), 15)
            except TimeoutError:
                peer.kill()
            local.close()
            remote.close()
