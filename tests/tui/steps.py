"""The steps the Pilot tests take again and again: let the app settle, open a screen by its key.

Each test file used to carry its own copy of these (wait for the workers, press Ctrl+N, check
the call screen came up); one copy keeps what "settled" means the same in every test.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from textual.screen import Screen

from tui.screens.call import CallScreen
from tui.screens.settings import SettingsScreen

S = TypeVar("S", bound=Screen[Any])


async def settle(pilot: Any) -> None:
    """Every worker done (starting a call, saving settings) and the messages they posted
    handled: what a person sees once the app stops moving."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def wait_until(pilot: Any, condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a condition the app reaches on its own time (a process, a ring, a screen pushed
    after the first refresh) while letting the app run; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.1)


async def press_for(pilot: Any, key: str, kind: type[S]) -> S:
    """Press ``key`` and return the screen it brought up, which must be a ``kind``."""
    await pilot.press(key)
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, kind), screen
    return screen


async def open_call(pilot: Any) -> CallScreen:
    """From the home screen as it starts: Ctrl+N, the call screen."""
    await settle(pilot)
    return await press_for(pilot, "ctrl+n", CallScreen)


async def open_settings(pilot: Any) -> SettingsScreen:
    """From the home screen as it starts: Ctrl+S, the settings screen."""
    await settle(pilot)
    return await press_for(pilot, "ctrl+s", SettingsScreen)
