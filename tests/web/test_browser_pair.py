"""Browser <-> browser through the relay: two Chromium pages (separate contexts) join one room,
the second offers, frames flow both ways, the SAS matches and chat crosses in Korean."""

from __future__ import annotations

import pytest

from protocol.signaling import new_room_code, web_link

from ..peer.helpers import relay_running
from .browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium

pytestmark = [pytest.mark.slow, pytest.mark.asyncio, needs_chromium]


@pytest.mark.timeout(60)
async def test_two_browsers_call_each_other() -> None:
    from playwright.async_api import async_playwright

    room = new_room_code()
    async with relay_running() as relay, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = []
        for name in ("하나", "둘"):
            context = await browser.new_context()
            page = await context.new_page()
            await page.goto(web_link(relay.url, room))
            await page.fill("#name", name)
            await page.click("#join")
            pages.append(page)
        a, b = pages
        for page in pages:
            await page.wait_for_function(
                "() => window.avatarchat.state === 'connected'"
                " && window.avatarchat.framesReceived > 20 && window.avatarchat.sas"
                " && window.avatarchat.peerHello", timeout=30_000)
        assert await a.evaluate("window.avatarchat.sas") == await b.evaluate(
            "window.avatarchat.sas")
        assert await a.evaluate("window.avatarchat.peerHello.name") == "둘"
        assert await b.evaluate("window.avatarchat.peerHello.name") == "하나"
        await a.fill("#chat-input", "안녕")
        await a.press("#chat-input", "Enter")
        await b.wait_for_function(
            "() => window.avatarchat.chats.some(c => c.from === 'peer' && c.text === '안녕')",
            timeout=10_000)
        await b.click("#hangup")
        await a.wait_for_function("() => window.avatarchat.peerBye === 'hangup'", timeout=10_000)
        await browser.close()
