"""Bring your own avatar in the TUI (issue 19): the 3D built-in listed with its preview, and a
file picker that checks a .vrm/.glb or pack path in full before the picker takes it.

Pilot at 80x24 (the smallest supported terminal) and 120x40; the checks run the real loaders
(avatars.gltf, the pack validator) on real files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, Input, Label, OptionList

from avatars.avatar3d import builtin3d_dir
from tests.avatars.packkit import write_valid_pack
from tui.app import AvatarChatApp
from tui.screens.avatar_file import AvatarFileScreen
from tui.screens.home import HomeScreen
from tui.widgets.avatar_picker import AvatarPicker

from .steps import open_call, settle

pytestmark = [pytest.mark.asyncio, pytest.mark.beside]

MakeApp = Callable[..., AvatarChatApp]
SIZES = [(80, 24), (120, 40)]


def _labels(options: OptionList) -> list[str]:
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def _open_file_dialog(app: AvatarChatApp, pilot: Any) -> AvatarFileScreen:
    home = app.screen
    assert isinstance(home, HomeScreen)
    button = home.query_one("#avatar-file", Button)
    button.scroll_visible(animate=False)
    await pilot.pause()
    button.press()
    await settle(pilot)
    dialog = app.screen
    assert isinstance(dialog, AvatarFileScreen)
    assert dialog.query_one("#avatar-file-path", Input).has_focus
    return dialog


async def _submit(pilot: Any, dialog: AvatarFileScreen, path: str) -> str:
    field = dialog.query_one("#avatar-file-path", Input)
    field.value = path
    await pilot.press("enter")
    await settle(pilot)
    if not dialog.is_attached:  # taken: the dialog closed
        return ""
    return str(dialog.query_one("#avatar-file-error", Label).render())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_3d_built_in_is_listed_with_its_preview(
    make_app: MakeApp, size: tuple[int, int]
) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        options = home.query_one("#avatar-list", OptionList)
        labels = _labels(options)
        nova = next(i for i, label in enumerate(labels) if label.startswith("nova"))
        assert "3D" in labels[nova] and all("3D" not in label for label in labels[:nova])
        options.focus()
        options.highlighted = nova
        await settle(pilot)
        assert home._avatar == "nova"
        preview = home.query_one("#avatar-preview")
        image = preview.image  # type: ignore[attr-defined]
        assert image is not None and image.size == (384, 384)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_own_vrm_is_checked_then_chosen(
    make_app: MakeApp, size: tuple[int, int], tmp_path: Path
) -> None:
    good = tmp_path / "me.vrm"
    good.write_bytes((builtin3d_dir() / "nova.vrm").read_bytes())
    broken = tmp_path / "broken.vrm"
    broken.write_bytes(good.read_bytes()[:3000])
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        dialog = await _open_file_dialog(app, pilot)
        assert "No such file" in await _submit(pilot, dialog, str(tmp_path / "nope.vrm"))
        why = await _submit(pilot, dialog, str(broken))
        assert "Not a usable 3D avatar" in why and "truncated" in why
        why = await _submit(pilot, dialog, str(tmp_path))  # a folder that is no pack
        assert "Not a valid avatar pack" in why and "avatar.toml" in why
        (tmp_path / "notes.txt").write_text("hi")
        assert "Not an avatar" in await _submit(pilot, dialog, str(tmp_path / "notes.txt"))
        assert app.screen is dialog  # still open: nothing was taken
        assert await _submit(pilot, dialog, str(good)) == ""
        home = app.screen
        assert isinstance(home, HomeScreen)
        assert home._avatar == str(good)
        picker = home.query_one(AvatarPicker)
        options = home.query_one("#avatar-list", OptionList)
        assert options.highlighted is not None
        assert options.get_option_at_index(options.highlighted).id == str(good)
        assert "3D" in _labels(options)[options.highlighted]
        assert picker.avatar == str(good)
        # The call would start with it: the request carries the path.
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.screen.request.avatar == str(good)  # type: ignore[attr-defined]


async def test_own_2d_pack_folder_is_taken_and_escape_cancels(
    make_app: MakeApp, tmp_path: Path
) -> None:
    pack = write_valid_pack(tmp_path / "mypack")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        dialog = await _open_file_dialog(app, pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        dialog = await _open_file_dialog(app, pilot)
        assert await _submit(pilot, dialog, str(pack)) == ""
        home = app.screen
        assert isinstance(home, HomeScreen)
        assert home._avatar == str(pack.resolve())
        assert home.query_one("#avatar-preview").image is not None  # type: ignore[attr-defined]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_windows_3d_fallback_reason_is_shown_in_korean(
    make_app: MakeApp, size: tuple[int, int]
) -> None:
    """The window's ``error`` event (its sentence translated there: the window runs in the
    TUI's language) is shown in the call screen's events, whole and unescaped-safe."""
    from textual.widgets import RichLog

    import i18n
    from render_window.view import fell_back_3d  # the window's own sentence, not a copy

    from .events import post

    i18n.set_language("ko")
    message = fell_back_3d("me[bold]", "gltf3d: warm-up 41.0 ms/frame is over the 20 ms budget")
    app = make_app()
    async with app.run_test(size=size) as pilot:
        call = await open_call(pilot)
        post(call, child="render", event="error", message=message, fatal=False)
        await settle(pilot)
        lines = [line.text for line in call.query_one("#events", RichLog).lines]
    text = "".join("".join(lines).split())  # wrapped lines, spaces aside
    assert "3D아바타'me[bold]'" in text and "2D아바타를표시합니다" in text
    assert "warm-up41.0ms" in text
