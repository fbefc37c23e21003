"""The whole chain with real processes: the TUI set to Korean starts a call, the avatar window
it starts (under Xvfb) reports Korean and draws the waiting banner in Hangul.

This is what a person sees on the first call: the TUI says "기다리는 중" and the window says
"상대가 들어오기를 기다리는 중…", not English and not empty boxes. The banner check is the
glyph-shape test from tests/render_window/test_korean_overlay.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from call import Call, CallConfig, CallEvent, EventCallback
from protocol.commands import TakeScreenshot
from protocol.events import OverlayShown, Ready, ScreenshotSaved
from tests.render_window.harness import load
from tests.render_window.test_korean_overlay import glyph_shapes
from tui.app import AppOptions, AvatarChatApp
from tui.invite import start_call
from tui.screens.call import CallScreen
from tui.screens.home import HomeScreen
from tui.settings import Settings

from .conftest import SOURCES
from .steps import wait_until
from .test_call_real import START_TIMEOUT_S

pytestmark = [pytest.mark.asyncio, pytest.mark.slow, pytest.mark.timeout(180)]


async def test_korean_tui_starts_a_korean_window(
    xvfb_display: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY", xvfb_display)
    events: list[tuple[str, CallEvent]] = []

    def factory(request: CallConfig, settings: Settings, on_event: EventCallback) -> Call:
        def tee(source: str, event: CallEvent) -> None:
            events.append((source, event))
            on_event(source, event)

        return start_call(request, settings, tee)

    def seen(kind: type[Any], **fields: Any) -> Any:
        for source, event in events:
            matches = all(getattr(event, k, None) == v for k, v in fields.items())
            if source == "render" and isinstance(event, kind) and matches:
                return event
        return None

    app = AvatarChatApp(
        AppOptions(create=True, window=True, source="synthetic", name="지민"),
        Settings(language="ko"),
        sources=SOURCES,
        persist_settings=False,
        controller_factory=factory,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, CallScreen), 10, "the call")
        call = app.screen
        assert isinstance(call, CallScreen)
        await wait_until(pilot, lambda: seen(Ready) is not None, START_TIMEOUT_S, "the window")
        info = seen(Ready).info
        assert info["language"] == "ko"
        if info["banner_font"] is None:
            pytest.skip("no font with Hangul is installed (Debian fonts-nanum: system-deps.sh)")
        await wait_until(
            pilot,
            lambda: seen(OverlayShown, state="waiting") is not None,
            START_TIMEOUT_S,
            "the waiting banner",
        )
        assert "기다리는 중" in str(call.query_one("#call-state").render())
        controller = call.controller
        assert controller is not None
        shot = tmp_path / "window.png"
        assert controller.send("render", TakeScreenshot(path=str(shot)))
        await wait_until(pilot, lambda: seen(ScreenshotSaved) is not None, 30, "the screenshot")
        shapes = glyph_shapes(load(shot))
        assert len(shapes) >= 8, f"{len(shapes)} distinct glyph shapes: boxes instead of text?"
        await pilot.press("f10")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen), 30, "hang-up")
