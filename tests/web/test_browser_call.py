"""A real Chromium calls a real headless Python peer through the real relay, which also serves
the page: frames both ways (the browser's decoded by protocol.frame and byte-equal to what the
page sent), chat both ways in Korean, the same SAS, hang-up seen by the other side; the page is
served with its CSP and asks nothing of any other origin."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

import pytest

from protocol.frame import ParamFrame
from protocol.signaling import new_room_code, web_link

from ..peer.helpers import RingTap, relay_running
from .browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium, python_peer

pytestmark = [pytest.mark.slow, pytest.mark.asyncio, needs_chromium]

BROWSER_NAME = "브라우저 Kim"


@pytest.mark.timeout(90)
async def test_browser_and_python_peer_call(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    room = new_room_code()
    async with relay_running() as relay, python_peer(relay.url, room) as (session, log):
        tap: RingTap | None = None
        try:
            assert session.remote is not None
            tap = RingTap(session.remote.name)
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = await browser.new_page(viewport={"width": 600, "height": 900})
                requests: list[str] = []
                page.on("request", lambda r: requests.append(r.url))
                origin = f"http://127.0.0.1:{relay.port}"
                link = web_link(relay.url, room)  # what `avatarchat call` and the TUI hand out
                assert link == f"{origin}/#room={room}"
                response = await page.goto(link)
                assert response is not None and response.status == 200
                csp = response.headers["content-security-policy"]
                assert "default-src 'self'" in csp and "connect-src 'self'" in csp
                assert "unsafe-inline" not in csp and "unsafe-eval'" not in csp.replace(
                    "wasm-unsafe-eval'", "")
                assert await page.input_value("#room") == room  # from the fragment
                await page.fill("#name", BROWSER_NAME)
                await page.click("#join")

                await page.wait_for_function(
                    "() => window.avatarchat.state === 'connected'"
                    " && window.avatarchat.framesReceived > 30",
                    timeout=30_000,
                )
                await log.wait_for(
                    lambda: session.state == "connected"
                    and ((log.last_stats() or {}).get("recv_hz") or 0) > 0,
                    20, "the Python peer connected and receiving",
                )
                # The browser's frames, as the Python networking process received them.
                await log.wait_for(lambda: len(tap.frames) >= 30, 10, "30 browser frames")
                sent: dict[str, str] = await page.evaluate("window.avatarchat.sent")
                common = sorted(set(tap.frames) & {int(k) for k in sent})
                assert len(common) >= 20
                for seq in common:
                    assert tap.frames[seq].hex() == sent[str(seq)]  # byte for byte
                frames = [ParamFrame.decode(tap.frames[s]) for s in common]
                jaw = {f.weight("jawOpen") for f in frames}
                assert max(jaw) - min(jaw) > 0.2  # the page's mouth moves
                assert all(f.face_present for f in frames)
                assert all(len(tap.frames[s]) <= 128 for s in common)

                # The Python peer's frames, as the page decoded them.
                last = await page.evaluate("window.avatarchat.lastFrame")
                assert len(last["blendshapes"]) == 52 and len(last["rotation"]) == 3

                # Hello both ways; SAS equal; clock sync runs (the page answers pings).
                hello = await log.wait_for(lambda: log.of("peer_hello"), 10, "browser hello")
                assert hello[-1]["name"] == BROWSER_NAME and hello[-1]["avatar_id"] == "aria"
                # The page joined second, so it offered (the Python side offers too if none came
                # in 3 s: a loaded machine), with m=audio since its voice is on by default; the
                # Python peer, voice off, answered that section inactive (peer/connection.py).
                kind, local, remote = await page.evaluate(
                    "[window.avatarchat.call.pc.localDescription.type,"
                    " window.avatarchat.call.pc.localDescription.sdp,"
                    " window.avatarchat.call.pc.remoteDescription.sdp]")
                assert "m=video" not in local + remote
                if kind == "offer":
                    assert "m=audio" in local and "m=audio" in remote and "a=inactive" in remote
                assert await page.evaluate("window.avatarchat.call.audioAgreed") is False
                await page.wait_for_function(
                    "() => window.avatarchat.peerHello && window.avatarchat.rttMs !== null "
                    "&& window.avatarchat.sas", timeout=10_000)
                assert (await page.evaluate("window.avatarchat.peerHello.name")) == "파이썬"
                stats = await log.wait_for(
                    lambda: (s := log.last_stats()) and s.get("clock_offset_ms") is not None
                    and s.get("sas") and s, 10, "Python stats with clock sync")
                page_sas = await page.evaluate("window.avatarchat.sas")
                assert stats["sas"] == page_sas
                assert await page.inner_text("#sas") == page_sas
                assert stats["bad_frames"] == 0

                # Chat both ways, Korean included; peer text is shown as text, never HTML.
                assert session.chat("안녕하세요 <b>bold?</b>")
                await page.wait_for_function(
                    "() => window.avatarchat.chats.some(c => c.from === 'peer')", timeout=10_000)
                assert await page.locator("#chat-log li").last.inner_text() == (
                    "파이썬: 안녕하세요 <b>bold?</b>")
                assert await page.locator("#chat-log b").count() == 0
                await page.fill("#chat-input", "반가워요 👋")
                await page.press("#chat-input", "Enter")
                chat = await log.wait_for(lambda: log.of("chat"), 10, "chat from the browser")
                assert chat[-1]["text"] == "반가워요 👋" and chat[-1]["sender"] == BROWSER_NAME

                # The avatar drawn from those frames (WebGL, the real packs) and its mouth and
                # eyes following the Python side's face: tests/web/test_browser_avatars.py.
                shot_dir = Path(os.environ.get("AVATARCHAT_SCREENSHOT_DIR", tmp_path))
                await page.screenshot(path=str(shot_dir / "browser_call.png"))

                # Emotion presets: a button and a key (0-4) reach the Python peer over ctl.
                await page.click("#emotions button[data-preset='1']")
                emo = await log.wait_for(lambda: log.of("peer_emotion"), 10, "emotion")
                assert (emo[-1]["preset"], emo[-1]["weight"]) == (1, 1.0)
                await page.keyboard.press("4")
                emo = await log.wait_for(
                    lambda: [e for e in log.of("peer_emotion") if e["preset"] == 4], 10, "key 4")
                assert emo[-1]["weight"] == 1.0

                # Hang-up from the page reaches the Python peer.
                await page.click("#hangup")
                bye = await log.wait_for(lambda: log.of("peer_bye"), 10, "bye at the Python peer")
                assert bye[-1]["reason"] == "hangup"
                await page.wait_for_function(
                    "() => window.avatarchat.state === 'ended'", timeout=5000)

                # The page comes back (a reload): it offers, the Python peer answers; then the
                # Python side hangs up and the page says so.
                again = await browser.new_page()
                again.on("request", lambda r: requests.append(r.url))
                await again.goto(f"{origin}/#room={room}")
                await again.fill("#name", BROWSER_NAME)
                await again.click("#join")
                await again.wait_for_function(
                    "() => window.avatarchat.state === 'connected'"
                    " && window.avatarchat.framesReceived > 5", timeout=20_000)
                assert session.hangup()
                await again.wait_for_function(
                    "() => window.avatarchat.peerBye === 'hangup'", timeout=10_000)
                assert await again.evaluate("window.avatarchat.state") == "ended"

                # Nothing left the origin (the WebSocket included).
                hosts = {urllib.parse.urlsplit(u).netloc for u in requests}
                assert hosts == {f"127.0.0.1:{relay.port}"}, requests
                await browser.close()
        finally:
            if tap is not None:
                tap.close()
