"""A real Firefox (Debian's firefox-esr, headless) calls a real headless Python peer through the
real relay, which serves the page: the same SAS on both sides, frames both ways (the page's
decoded by protocol.frame and byte-equal to what it sent), Opus voice both ways, chat both ways
in Korean, an emotion key, hang-up seen by the other side, and nothing requested outside the
page's origin. Chromium's version of this call is test_browser_call.py; Firefox's is the second
WebRTC stack nobody here wrote.

One Firefox, relay and Python call for the module (starting Firefox is most of the time); the
tests read what they need from it, in file order, the hang-up last. Headless Firefox has no WebGL
(web/README.md, "Firefox"): the page then draws no avatars and does not track its camera, says
so, and the call goes on with its synthetic face, which is what it should do there."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from call import Call
from protocol.frame import ParamFrame
from protocol.signaling import new_room_code, web_link

from ..peer.helpers import EventLog, RingTap, relay_running
from .browser import python_peer
from .firefox import DriverError, FirefoxPage, firefox_page, needs_firefox

pytestmark = [pytest.mark.slow, needs_firefox, pytest.mark.asyncio(loop_scope="module")]

BROWSER_NAME = "여우 FF"


@dataclass
class FirefoxCall:
    origin: str
    session: Call
    log: EventLog
    tap: RingTap
    page: FirefoxPage
    csp: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ff(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FirefoxCall]:
    """Both sides connected, the page receiving frames and the Python peer too."""
    room = new_room_code()
    # Voice on at the Python side (a silent microphone, no speaker): Opus both ways between
    # Firefox's WebRTC and aiortc, the page's microphone being Firefox's fake tone.
    voice = {"voice": True, "mic": "silence", "speaker": "none", "echo_cancel": False}
    async with relay_running() as relay, python_peer(relay.url, room, **voice) as (session, log):
        assert session.remote is not None
        tap = RingTap(session.remote.name)
        try:
            async with firefox_page() as page:
                await page.viewport(600, 900)
                origin = f"http://127.0.0.1:{relay.port}"
                response = await page.goto(web_link(relay.url, room))
                assert response["status"] == 200
                assert await page.evaluate("document.querySelector('#room').value") == room
                await page.type("#name", BROWSER_NAME)
                await page.click("#join")
                try:
                    await page.wait_for(
                        "window.avatarchat.state === 'connected'"
                        " && window.avatarchat.framesReceived > 30", timeout=30)
                except DriverError as e:
                    seen = await page.evaluate(
                        "({state: window.avatarchat.state, detail: window.avatarchat.detail,"
                        " frames: window.avatarchat.framesReceived,"
                        " sent: Object.keys(window.avatarchat.sent).length})")
                    errors = await page.errors()
                    raise AssertionError(f"Firefox did not connect: {seen}, {errors}") from e
                await log.wait_for(
                    lambda: session.state == "connected"
                    and ((log.last_stats() or {}).get("recv_hz") or 0) > 0,
                    20, "the Python peer connected and receiving")
                yield FirefoxCall(origin, session, log, tap, page,
                                  response["headers"]["content-security-policy"])
                shots = Path(os.environ.get("AVATARCHAT_SCREENSHOT_DIR")
                             or tmp_path_factory.mktemp("firefox"))
                await page.screenshot(shots / "firefox_call.png")
        finally:
            tap.close()


async def test_same_sas_and_hello_both_ways(ff: FirefoxCall) -> None:
    page, log = ff.page, ff.log
    hello = await log.wait_for(lambda: log.of("peer_hello"), 10, "the page's hello")
    assert hello[-1]["name"] == BROWSER_NAME and hello[-1]["avatar_id"] == "aria"
    await page.wait_for("window.avatarchat.peerHello && window.avatarchat.sas", timeout=10)
    assert await page.evaluate("window.avatarchat.peerHello.name") == "파이썬"
    stats = await log.wait_for(
        lambda: (s := log.last_stats()) and s.get("sas") and s, 10, "the Python side's SAS")
    page_sas = await page.evaluate("window.avatarchat.sas")
    assert stats["sas"] == page_sas
    assert await page.evaluate("document.querySelector('#sas').textContent") == page_sas
    # Clock sync runs over Firefox's DataChannel too (the page answers pings and sends them).
    await page.wait_for("window.avatarchat.rttMs !== null", timeout=10)
    await log.wait_for(lambda: (log.last_stats() or {}).get("clock_offset_ms") is not None,
                       10, "clock sync at the Python side")


async def test_frames_flow_both_ways_and_decode(ff: FirefoxCall) -> None:
    page, log, tap = ff.page, ff.log, ff.tap
    # The page's frames, as the Python networking process received them: byte for byte what
    # Firefox sent, decoded by protocol.frame.
    await log.wait_for(lambda: len(tap.frames) >= 30, 10, "30 frames from Firefox")
    sent: dict[str, str] = await page.evaluate("window.avatarchat.sent")
    common = sorted(set(tap.frames) & {int(k) for k in sent})
    assert len(common) >= 20
    for seq in common:
        assert tap.frames[seq].hex() == sent[str(seq)]
    frames = [ParamFrame.decode(tap.frames[s]) for s in common]
    assert all(len(tap.frames[s]) <= 128 for s in common)
    assert [f.seq for f in frames] == common
    assert (log.last_stats() or {}).get("bad_frames") == 0
    # The Python peer's frames, as the page decoded them (and keeps receiving).
    before = await page.evaluate("window.avatarchat.framesReceived")
    last = await page.evaluate("window.avatarchat.lastFrame")
    assert len(last["blendshapes"]) == 52 and len(last["rotation"]) == 3
    await page.wait_for(f"window.avatarchat.framesReceived > {before + 10}", timeout=10)


async def test_without_webgl_the_page_says_so_and_sends_its_synthetic_face(
    ff: FirefoxCall,
) -> None:
    # Headless Firefox has no WebGL: no avatars drawn, and no face tracking (tasks-vision needs
    # WebGL even on its CPU delegate); the page says why, before opening the camera, and the
    # call goes on with its labelled synthetic face, whose mouth moves.
    page = ff.page
    if not await page.evaluate("window.avatarchat.avatarNote"):
        pytest.skip("this Firefox has WebGL when headless: the page tracks its fake camera")
    assert "WebGL" in await page.evaluate("window.avatarchat.avatarNote")
    problem = await page.wait_for("window.avatarchat.face.problem", timeout=10)
    assert problem == "WebGL is not available in this browser"
    assert await page.evaluate("window.avatarchat.face.tracking") is None
    note = await page.evaluate("document.querySelector('#placeholder-note').textContent")
    assert "WebGL" in note and "synthetic" in note
    jaw = {ParamFrame.decode(f).weight("jawOpen") for f in list(ff.tap.frames.values())[-30:]}
    assert max(jaw) - min(jaw) > 0.2


INBOUND_AUDIO_PACKETS = """(async () => {
  let n = 0;
  (await window.avatarchat.call.pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") n += s.packetsReceived;
  });
  return n;
})()"""


async def test_voice_flows_both_ways(ff: FirefoxCall) -> None:
    page, log = ff.page, ff.log
    # The page offered (it joined second) m=audio with its microphone; the Python side, voice
    # on, answered with its own: Opus from Firefox decoded by aiortc, and back.
    local = await page.evaluate("window.avatarchat.call.pc.localDescription.sdp")
    remote = await page.evaluate("window.avatarchat.call.pc.remoteDescription.sdp")
    assert "opus/48000" in local and "m=video" not in local + remote
    assert await page.evaluate("window.avatarchat.call.audioAgreed") is True
    voice = await log.wait_for(
        lambda: (v := (log.last_stats() or {}).get("voice") or {})
        and v.get("agreed") and (v.get("packets_received") or 0) > 50 and v,
        20, "Opus packets from Firefox at the Python peer")
    assert voice["agreed"] is True
    assert await page.wait_for(INBOUND_AUDIO_PACKETS, timeout=10) > 0


async def test_chat_both_ways_in_korean(ff: FirefoxCall) -> None:
    page, log, session = ff.page, ff.log, ff.session
    assert session.chat("안녕하세요 <b>여우</b>")
    await page.wait_for("window.avatarchat.chats.some(c => c.from === 'peer')", timeout=10)
    assert await page.evaluate(
        "document.querySelector('#chat-log li:last-child').textContent") == (
        "파이썬: 안녕하세요 <b>여우</b>")
    assert await page.evaluate("document.querySelectorAll('#chat-log b').length") == 0
    await page.type("#chat-input", "반가워요 🦊")
    await page.press("Enter", "#chat-input")
    chat = await log.wait_for(lambda: log.of("chat"), 10, "chat from Firefox")
    assert chat[-1]["text"] == "반가워요 🦊" and chat[-1]["sender"] == BROWSER_NAME


async def test_emotion_key_reaches_python(ff: FirefoxCall) -> None:
    await ff.page.click("#sas")  # out of the chat field, where digits are text
    await ff.page.press("3")
    emotion = await ff.log.wait_for(
        lambda: [e for e in ff.log.of("peer_emotion") if e["preset"] == 3], 10, "emotion 3")
    assert emotion[-1]["weight"] == 1.0


async def test_served_with_csp_nothing_leaves_the_origin_and_no_page_error(
    ff: FirefoxCall,
) -> None:
    assert "default-src 'self'" in ff.csp and "connect-src 'self'" in ff.csp
    requests = await ff.page.requests()
    # Firefox reports index.html's empty icon (`data:,`) as a request; it never leaves the page.
    fetched = [u for u in requests if not u.startswith("data:")]
    assert len(fetched) > 10
    hosts = {urllib.parse.urlsplit(u).netloc for u in fetched}
    assert hosts == {urllib.parse.urlsplit(ff.origin).netloc}, requests
    # The one report Firefox logs: cbor-x probing whether it may compile decoders (the CSP
    # says no; it falls back). Anything else is a page error in Firefox.
    errors = [e for e in await ff.page.errors()
              if not ("blocked a JavaScript eval" in e and "unsafe-eval" in e)]
    assert errors == []


async def test_hangup_from_firefox_reaches_python(ff: FirefoxCall) -> None:
    page, log = ff.page, ff.log
    await page.click("#hangup")
    bye = await log.wait_for(lambda: log.of("peer_bye"), 10, "bye at the Python peer")
    assert bye[-1]["reason"] == "hangup"
    await page.wait_for("window.avatarchat.state === 'ended'", timeout=5)
