"""Voice between the page and the Python peer: when the Python side offers ``m=audio`` (it joins
second, so it offers), the page answers with its microphone (Chromium's fake device, a beep) as
an Opus track, and Opus flows both ways between Chromium's WebRTC and aiortc. Never video."""

from __future__ import annotations

import re

import pytest

from protocol.signaling import new_room_code, web_link

from ..peer.helpers import relay_running
from .browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium, python_peer

pytestmark = [pytest.mark.slow, pytest.mark.asyncio, needs_chromium]

INBOUND_AUDIO_PACKETS = """async () => {
  const pc = window.avatarchat.call.pc;
  if (!pc) return 0;
  let n = 0;
  (await pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") n += s.packetsReceived;
  });
  return n;
}"""


@pytest.mark.timeout(90)
async def test_python_offers_voice_and_the_page_answers_with_its_microphone() -> None:
    from playwright.async_api import async_playwright

    room = new_room_code()
    async with relay_running() as relay, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await page.goto(web_link(relay.url, room))
        await page.fill("#name", "web")
        await page.click("#join")
        await page.wait_for_function("() => window.avatarchat.state === 'waiting'")
        try:
            async with python_peer(relay.url, room, name="py", voice=True, mic="silence",
                                   speaker="none", echo_cancel=False) as (_, log):
                await page.wait_for_function(
                    "() => window.avatarchat.state === 'connected'", timeout=30_000)
                remote = await page.evaluate("window.avatarchat.call.pc.remoteDescription.sdp")
                local = await page.evaluate("window.avatarchat.call.pc.localDescription.sdp")
                assert sorted(re.findall(r"(?m)^m=(\w+)", remote)) == ["application", "audio"]
                assert "m=video" not in local and "opus/48000" in local
                # The Python peer hears the page's microphone, and the page receives Opus.
                voice = await log.wait_for(
                    lambda: (v := (log.last_stats() or {}).get("voice") or {})
                    and v.get("agreed") and (v.get("packets_received") or 0) > 50 and v,
                    20, "Opus packets from the page at the Python peer",
                )
                assert voice["agreed"] is True
                await page.wait_for_function(INBOUND_AUDIO_PACKETS, timeout=10_000)
                assert await page.evaluate(INBOUND_AUDIO_PACKETS) > 0
        finally:
            await browser.close()
