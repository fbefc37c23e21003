"""The TUI setting "also send my tracking to VMC at ...": off by default, says that it leaves
the call's privacy, refuses an address that is not HOST:PORT with the reason (keeping the old
settings), and a saved address reaches the next call's configuration (the VMC sender child)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.widgets import Input, Label

from tui.app import AvatarChatApp
from tui.screens.call import CallScreen
from tui.screens.home import HomeScreen
from tui.settings import Settings, load_settings, save_settings

from .steps import open_settings, press_for, settle

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

MakeApp = Callable[..., AvatarChatApp]
SIZE = (80, 24)


def test_off_by_default() -> None:
    assert Settings().vmc_to == ""


@pytest.mark.parametrize("value", ["localhost", "127.0.0.1:0", "host:99999", ":39539", "a b:1"])
@pytest.mark.asyncio
async def test_a_bad_vmc_address_is_refused_with_the_reason(make_app: MakeApp, value: str) -> None:
    old = Settings(display_name="Ana")
    save_settings(old)
    app = make_app(settings=load_settings())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_settings(pilot)
        notes = " ".join(str(label.render()) for label in screen.query(Label))
        assert "VMC leaves the call's privacy" in notes and "not encrypted" in notes
        screen.query_one("#set-vmc", Input).value = value
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        error = str(screen.query_one("#settings-error", Label).render())
        assert "must look like HOST:PORT" in error
        assert screen.focused is screen.query_one("#set-vmc")
    assert load_settings() == old


@pytest.mark.asyncio
async def test_a_saved_vmc_address_goes_to_the_next_call(make_app: MakeApp) -> None:
    save_settings(Settings(display_name="Ana"))
    app = make_app(settings=load_settings())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_settings(pilot)
        screen.query_one("#set-vmc", Input).value = " 127.0.0.1:39539 "
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        call = await press_for(pilot, "ctrl+n", CallScreen)
        assert call.request.vmc_to == "127.0.0.1:39539"
    assert load_settings().vmc_to == "127.0.0.1:39539"
