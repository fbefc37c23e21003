"""Failures end cleanly (issue 16): what can be checked is refused on the home screen before
anything starts; a call the relay refuses (room full) or cannot be reached ends by itself, back
on the home screen with one sentence, no child left running and no ring left in /dev/shm; and
the TUI's local relay outlives a hang-up on the same port.

The refusals on the home screen use the fake-free app with no controller (nothing could start
anyway); the rest run the real children through the default controller factory.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from typing import Any

import psutil
import pytest
from textual.widgets import Input, Label, Select

from tui.app import AppOptions, AvatarChatApp
from tui.devices import Source
from tui.screens.call import CallScreen
from tui.screens.home import HomeScreen
from tui.settings import Settings

from .conftest import ROOM, SOURCES
from .steps import settle, wait_until

pytestmark = pytest.mark.asyncio
MakeApp = Callable[..., AvatarChatApp]
#: Children start in a few seconds; MediaPipe on a loaded 2-core box takes longer.
START_TIMEOUT_S = 60.0


def _home_error(app: AvatarChatApp) -> str:
    return str(app.screen.query_one("#home-error", Label).render())


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _our_children(besides: frozenset[int] = frozenset()) -> list[psutil.Process]:
    """This test's live child processes, other than ``besides`` (a fixture's relay)."""
    mine = psutil.Process().children(recursive=True)
    return [p for p in mine if p.pid not in besides and _alive(p.pid)]


def _pids() -> frozenset[int]:
    """Children alive before the test's app starts (the relay fixture's, another test's Xvfb)."""
    return frozenset(p.pid for p in _our_children())


def _rings() -> set[str]:
    return {n for n in os.listdir("/dev/shm") if n.startswith("avatarchat")}


# -- refused on the home screen before anything starts ------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("relay", "http//relay.example", "must look like ws://HOST:PORT"),
        ("relay", "ws://relay.example:99999", "relay URL"),
        ("source", "/no/such/clip.mp4", "no such clip: /no/such/clip.mp4"),
        ("source", "/dev/video97", "no camera at /dev/video97"),
    ],
)
async def test_what_cannot_work_is_refused_on_the_home_screen(
    make_app: MakeApp, field: str, value: str, expected: str
) -> None:
    sources = [*SOURCES, Source("Gone", "/no/such/clip.mp4", "clip"),
               Source("Unplugged (/dev/video97)", "/dev/video97", "camera")]  # fmt: skip
    app = make_app(sources=sources)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        if field == "relay":
            home.query_one("#relay", Input).value = value
        else:
            home.query_one("#source", Select).value = value
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.screen is home  # no call screen, no room, no process
        assert "Cannot start the call" in _home_error(app) and expected in _home_error(app)
        if field == "relay":  # joining checks it too
            home.query_one("#join-code", Input).value = ROOM
            home.query_one("#join-code", Input).focus()
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen is home and expected in _home_error(app)


async def test_a_refusal_is_cleared_by_the_next_call(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        home.query_one("#relay", Input).value = "relay.example"
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert _home_error(app)
        home.query_one("#relay", Input).value = ""
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, CallScreen) and not _home_error(home)  # type: ignore[arg-type]


# -- real children: refused, unreachable, and the relay that stays -----------------------------
def _real_app(options: AppOptions, **kwargs: Any) -> AvatarChatApp:
    return AvatarChatApp(options, Settings(), sources=SOURCES, persist_settings=False, **kwargs)


async def _fill_room(relay_url: str, room: str) -> list[Any]:
    """Two clients in ``room`` (the relay's limit), as two people already in a call."""
    from websockets.asyncio.client import connect

    from protocol.signaling import Join

    clients = []
    for i in range(2):
        ws = await connect(f"{relay_url}/ws?room={room}")
        await ws.send(Join(room=room, client=f"filler/{i}", create=True).to_json())
        assert '"joined"' in str(await asyncio.wait_for(ws.recv(), 10))
        clients.append(ws)
    return clients


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_full_room_ends_on_the_home_screen_with_one_sentence(relay_url: str) -> None:
    before = _pids()
    clients = await _fill_room(relay_url, ROOM)
    app = _real_app(AppOptions(join=ROOM, relay=relay_url, window=False, source="synthetic",
                               name="Third"))  # fmt: skip
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: app.call_screens() != [], 10, "the call screen")
            call = app.call_screens()[0]
            await wait_until(pilot, lambda: call.controller is not None, 10, "the controller")
            assert call.controller is not None
            ctrl = call.controller
            await wait_until(pilot, lambda: "peer" in ctrl.children, 20, "the children")
            pids = [c.pid for c in ctrl.children.values() if c.pid is not None]
            assert ctrl.local is not None and ctrl.remote is not None
            rings = {ctrl.local.name, ctrl.remote.name}  # /dev/shm is shared with other tests
            await wait_until(
                pilot, lambda: isinstance(app.screen, HomeScreen), START_TIMEOUT_S, "home"
            )
            message = _home_error(app)
            assert message == (
                f"Room {ROOM} is full: two people are already in it. Ask for a new code, "
                "or create a room."
            )
            assert not app._notifications  # no pop-up with a raw log line
            assert not [pid for pid in pids if _alive(pid)]
            assert not _our_children(before)
            assert not rings & _rings()
    finally:
        for ws in clients:
            await ws.close()


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_an_unreachable_relay_is_named_and_given_up_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AVATARCHAT_RELAY_GIVE_UP_S", "2")
    before = _pids()
    address = f"127.0.0.1:{_dead_port()}"
    app = _real_app(AppOptions(create=True, relay=f"ws://{address}", window=False,
                               source="synthetic", name="Host"))  # fmt: skip
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.call_screens() != [], 10, "the call screen")
        call = app.call_screens()[0]
        await wait_until(pilot, lambda: address in call.status_message, 30, "a retry line")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen), START_TIMEOUT_S, "home")
        assert _home_error(app) == (
            f"The relay at {address} cannot be reached. Is it running? "
            "Check the relay address in Settings."
        )
        assert not _our_children(before)


async def _waiting_call(pilot: Any, app: AvatarChatApp) -> CallScreen:
    await wait_until(pilot, lambda: app.call_screens() != [], 10, "the call screen")
    call = app.call_screens()[0]
    await wait_until(pilot, lambda: call.state == "waiting", START_TIMEOUT_S, "the room")
    return call


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_the_local_relay_outlives_a_hang_up_on_the_same_port() -> None:
    before = _pids()
    app = _real_app(AppOptions(create=True, window=False, source="synthetic", name="Host"))
    async with app.run_test(size=(80, 24)) as pilot:
        ports, relay_pids = [], []
        for _ in range(2):
            call = await _waiting_call(pilot, app)
            assert call.share_url.startswith("ws://127.0.0.1:")
            ports.append(int(call.share_url.rsplit(":", 1)[1]))
            relay_pids.append(app.relay.pid())
            call.action_hangup()
            await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen), 30, "hang-up")
            assert relay_pids[-1] is not None and _alive(relay_pids[-1])  # the call is over
            assert [p.pid for p in _our_children(before)] == [relay_pids[-1]]
            await pilot.press("ctrl+n")
        assert ports[0] == ports[1] and relay_pids[0] == relay_pids[1]
        await _waiting_call(pilot, app)
        await app.action_quit()
    relay_pid = relay_pids[0]
    assert relay_pid is not None
    assert not _alive(relay_pid)
    assert not _our_children(before)
