"""The page in Korean, in a real Chromium started with ``--lang=ko`` and a ko-KR context: the
join form and the call view (waiting in a room on the real relay) speak Korean, the text fits at
1280x720 and in a 400-px-wide window, the language switch takes effect at once (the notices
and buttons the page set itself included, both ways) and is remembered, and an English browser
gets the English page without fetching the Korean texts.
Screenshots for a person to look at: /tmp/K_ko.png (call view), /tmp/K_ko_join.png,
/tmp/K_ko_400.png (narrow call view)."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol.signaling import new_room_code, web_link

from ..peer.helpers import relay_running
from .browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium

pytestmark = [pytest.mark.slow, pytest.mark.asyncio, needs_chromium]

SHOTS = Path("/tmp")
#: Every visible element's box inside the window, no text clipped in its own box and every
#: button on one line (a label or button whose Korean is wider than its English shows here).
OVERFLOW = """() => {
  const out = [];
  const width = document.documentElement.clientWidth;
  const page = document.documentElement.scrollWidth;
  if (page > width) out.push(`page ${page} > ${width}`);
  for (const el of document.querySelectorAll("main *")) {
    const r = el.getBoundingClientRect();
    if (!r.width || el.closest("[hidden]")) continue;
    if (r.right > width + 0.5) out.push(`${el.tagName}#${el.id} right ${r.right} > ${width}`);
    const boxed = ["BUTTON", "LABEL", "DT", "SPAN", "LEGEND"].includes(el.tagName);
    if (boxed && el.scrollWidth > el.clientWidth + 1)
      out.push(`${el.tagName}#${el.id} "${el.textContent}" clipped`);
    if (el.tagName === "BUTTON") {  // one line: a Korean label broken syllable by syllable
      const style = getComputedStyle(el);
      const pad = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
      const inner = el.clientHeight - pad;
      if (inner > parseFloat(style.fontSize) * 1.8) out.push(`button "${el.textContent}" wraps`);
    }
  }
  return out;
}"""


# Over 5 s (about 6-8 s quiet, 16 s on a loaded 2-core box): one Chromium start, three pages,
# a real room join and the call view's first stats tick (1 s); one test so they are paid once.
@pytest.mark.timeout(60)
async def test_korean_page_join_form_and_call_view() -> None:
    from playwright.async_api import async_playwright

    async with relay_running() as relay, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM,
                                           args=[*CHROMIUM_ARGS, "--lang=ko"])
        link = web_link(relay.url, new_room_code())
        ko = await browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 720})
        page = await ko.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(link)
        await page.wait_for_function("() => document.documentElement.lang === 'ko'")

        # The join form.
        assert await page.inner_text("#join") == "참여"
        form = await page.inner_text("#join-form")
        for text in ("이름", "방 코드 또는 링크", "내 아바타", "카메라", "마이크",
                     "음성 (마이크 켜기)"):
            assert text in form, text
        assert "Your name" not in form and "Join" not in form
        assert await page.get_attribute("#chat-input", "placeholder") == "메시지"
        assert await page.get_attribute("#peer", "aria-label") == "상대의 아바타"
        assert await page.input_value("#lang") == "ko"
        assert await page.evaluate(OVERFLOW) == []
        await page.screenshot(path=str(SHOTS / "K_ko_join.png"))
        # The no-WebGL notice (a canvas that already has a 2D context gives no WebGL one).
        no_gl = await page.evaluate("""async () => {
          const { AvatarView } = await import("./avatar.js");
          const canvas = document.createElement("canvas");
          canvas.getContext("2d");
          return new AvatarView(canvas).error;
        }""")
        assert no_gl == "이 브라우저에서는 WebGL을 쓸 수 없습니다"
        # The switch names itself in both languages (found by someone who reads no Korean).
        assert await page.get_attribute("#lang", "aria-label") == "언어 (Language)"

        # The call view, waiting in the room (the relay is real; nobody else joins).
        await page.fill("#name", "김민지")
        await page.click("#join")
        await page.wait_for_function(
            "() => document.getElementById('state').textContent.includes('기다리는 중')")
        assert await page.inner_text("#mute") == "음소거"
        assert await page.inner_text("#hangup") == "끊기"
        stats = await page.inner_text("#stats")
        for text in ("수신", "송신", "추적", "렌더링", "왕복 시간", "지연", "바이트/프레임",
                     "음성"):
            assert text in stats, text
        assert await page.inner_text("#emotions button[data-preset='1']") == "1 기쁨"
        assert await page.inner_text("#chat-form button") == "보내기"
        # The page's own notice: no camera here (Chromium has none), in Korean around the
        # browser's own English reason.
        await page.wait_for_function(
            "() => document.getElementById('placeholder-note').textContent"
            ".includes('합성 애니메이션')")
        await page.wait_for_function(  # the stats tick once a second
            "() => ['꺼짐', '켜짐', '음소거됨']"
            ".includes(document.getElementById('stat-voice').textContent)")
        assert await page.evaluate(OVERFLOW) == []
        await page.wait_for_function(  # both avatars drawn, for the screenshot
            "() => window.avatarchat.view.pack && window.avatarchat.selfView.pack"
            " && window.avatarchat.renderFrames > 2")
        await page.screenshot(path=str(SHOTS / "K_ko.png"))
        await page.set_viewport_size({"width": 400, "height": 800})
        assert await page.evaluate(OVERFLOW) == []
        await page.screenshot(path=str(SHOTS / "K_ko_400.png"), full_page=True)

        # Muted: the button says so in Korean.
        await page.click("#mute")
        muted_ko = await page.inner_text("#mute")
        assert muted_ko not in ("음소거", "Unmute", "Mute"), muted_ko
        note_ko = await page.inner_text("#placeholder-note")

        # The switch: English at once, remembered for the next visit. The texts the page set
        # itself (the tracking notice with the browser's reason in it, the mute button) are
        # said again in English too, not left in Korean until they next change.
        await page.select_option("#lang", "en")
        await page.wait_for_function(
            "() => document.getElementById('hangup').textContent === 'Hang up'")
        assert await page.inner_text("#mute") == "Unmute"
        assert await page.inner_text("#state") == "in the room; waiting for the peer"
        assert await page.inner_text("#chat-form button") == "Send"
        note_en = await page.inner_text("#placeholder-note")
        head, tail = "No face tracking (", "): your side sends a synthetic animation."
        assert note_en.startswith(head) and note_en.endswith(tail), note_en
        reason = note_en[len(head) : -len(tail)]
        assert reason and reason in note_ko  # the browser's own words, as they were
        await page.select_option("#lang", "ko")
        await page.wait_for_function(
            "() => document.getElementById('hangup').textContent === '끊기'")
        assert await page.inner_text("#placeholder-note") == note_ko
        assert await page.inner_text("#mute") == muted_ko
        await page.select_option("#lang", "en")
        await page.wait_for_function(
            "() => document.getElementById('hangup').textContent === 'Hang up'")
        again = await ko.new_page()
        await again.goto(link)
        await again.wait_for_function(
            "() => window.avatarchat && document.getElementById('lang').value === 'en'")
        assert await again.inner_text("#join") == "Join"
        # A join error shown in English is said again in Korean on the switch.
        await again.fill("#name", "Kim")
        await again.fill("#room", "not a room")
        await again.click("#join")
        assert (await again.inner_text("#join-error")).startswith("That is not a room code")
        await again.select_option("#lang", "ko")
        await again.wait_for_function(
            "() => document.getElementById('join').textContent === '참여'")
        error_ko = await again.inner_text("#join-error")
        assert error_ko and "room code" not in error_ko and "22-64" in error_ko, error_ko
        await ko.close()

        # An English browser: the English page, the Korean texts never fetched.
        en = await browser.new_context(locale="en-US")
        page = await en.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        await page.goto(link)
        await page.wait_for_function("() => document.getElementById('lang').value === 'en'")
        assert await page.inner_text("#join") == "Join"
        assert "Your name" in await page.inner_text("#join-form")
        assert not [u for u in requests if "/i18n/" in u]
        await page.screenshot(path=str(SHOTS / "K_en_join.png"))
        await browser.close()
        assert errors == []
