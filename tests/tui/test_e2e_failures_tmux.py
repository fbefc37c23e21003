"""End to end at 80x24, as people meet failures: a room that is full and a relay that is down.

Each runs ``avatarchat-tui`` in a private tmux server (the helpers of ``test_e2e_tmux.py``),
reads the screen with ``capture-pane`` and checks that the app ends up on the home screen with
one sentence saying what happened, and no child process of the app left running.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import ClientConnection, connect

from protocol.signaling import Join, new_room_code

from .test_e2e_tmux import REPO, STEP_TIMEOUT_S, Tmux, alive, app_env, descendants

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

WIDTH, HEIGHT = 80, 24
#: Start-up of the tracker and the networking process on a loaded 2-core box.
END_TIMEOUT_S = 60.0


class SmallTmux(Tmux):
    def start(self, name: str, command: str, env: dict[str, str]) -> None:
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        shell = (
            f"cd {shlex.quote(str(REPO))} && env -i {exports} {command}; "
            "echo APP-EXITED-$?; sleep 60"
        )
        self.run("new-session", "-d", "-s", name, "-x", str(WIDTH), "-y", str(HEIGHT), shell)


@pytest.fixture
def tmux() -> Iterator[SmallTmux]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    server = SmallTmux(f"avatarchat-e2e-fail-{os.getpid()}")
    try:
        yield server
    finally:
        server.run("kill-server")


def _flat(screen: str) -> str:
    """The screen as one line: a sentence wrapped at 80 columns reads whole again, also when it
    wraps inside a bordered box (the box's side borders, "│ │" between two of its lines, go)."""
    return " ".join(screen.translate(_SIDE_BORDERS).split())


#: Vertical box and toast edges Textual draws beside wrapped text.
_SIDE_BORDERS = str.maketrans(dict.fromkeys("│┃▌▐▕▏", " "))


def _app_children(tmux: Tmux, name: str) -> list[str]:
    """The app's live children (the pane runs a shell, which runs the app)."""
    procs = descendants(tmux.pane_pid(name))
    return [
        " ".join(p.cmdline()) for p in procs if alive(p) and "-m tui" not in " ".join(p.cmdline())
    ]


def _no_children_soon(tmux: Tmux, name: str) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while _app_children(tmux, name) and time.monotonic() < deadline:
        time.sleep(0.2)  # another process's children: there is no event to await
    assert _app_children(tmux, name) == [] or _app_children(tmux, name) == ["sleep 60"]


def test_room_full_at_80x24(tmux: SmallTmux, tmp_path: Path, relay_url: str) -> None:
    room = new_room_code()
    with contextlib.ExitStack() as fillers:
        for i in range(2):
            ws: ClientConnection = fillers.enter_context(connect(f"{relay_url}/ws?room={room}"))
            ws.send(Join(room=room, client=f"filler/{i}", create=True).to_json())
            assert '"joined"' in str(ws.recv(10))
        tui = f"{shlex.quote(sys.executable)} -m tui"
        tmux.start(
            "third",
            f"{tui} --relay {relay_url} --join {room} --name Third --source synthetic --no-window",
            app_env(tmp_path, "third", ""),
        )
        screen = tmux.wait_for(
            "third",
            lambda s: "is full" in s and "Create room" in s,
            END_TIMEOUT_S,
            "home with the reason",
        )
        assert f"Room {room} is full: two people are already in it." in _flat(screen)
        assert "Traceback" not in screen and "exited with code" not in screen
        _no_children_soon(tmux, "third")
        tmux.keys("third", "C-c")
        tmux.wait_for("third", lambda s: "APP-EXITED-0" in s, STEP_TIMEOUT_S, "a clean exit")


def test_relay_down_at_80x24(tmux: SmallTmux, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tui = f"{shlex.quote(sys.executable)} -m tui"
    env = {**app_env(tmp_path, "host", ""), "AVATARCHAT_RELAY_GIVE_UP_S": "3"}
    tmux.start(
        "host",
        f"{tui} --relay ws://127.0.0.1:{port} --create --name Host --source synthetic --no-window",
        env,
    )
    tmux.wait_for("host", lambda s: f"127.0.0.1:{port}" in s, END_TIMEOUT_S, "a retry line")
    reason = (
        f"The relay at 127.0.0.1:{port} cannot be reached. Is it running? Check the relay "
        "address in Settings."
    )
    # The whole reason, not its first line: the notice grows to its second line one layout
    # pass after its text is set, and a capture in between showed it cut after "Check the".
    tmux.wait_for(
        "host",
        lambda s: reason in _flat(s) and "Create room" in s,
        END_TIMEOUT_S,
        "home with the whole reason",
    )
    _no_children_soon(tmux, "host")


def test_wrong_code_at_80x24(tmux: SmallTmux, tmp_path: Path, relay_url: str) -> None:
    """A code nobody is behind is said at once; Back returns home with the reason, and no
    child of the app is left."""
    room = new_room_code()
    tui = f"{shlex.quote(sys.executable)} -m tui"
    tmux.start(
        "joiner",
        f"{tui} --relay {relay_url} --join {room} --name Jo --source synthetic --no-window",
        app_env(tmp_path, "joiner", ""),
    )
    screen = tmux.wait_for(
        "joiner", lambda s: "Wait for them" in s, END_TIMEOUT_S, "the no-one-here question"
    )
    assert f"No one is in room {room}." in _flat(screen)
    tmux.keys("joiner", "Escape")
    screen = tmux.wait_for("joiner", lambda s: "Create room" in s, END_TIMEOUT_S, "back home")
    assert f"No one was in room {room}: check the code" in _flat(screen)
    _no_children_soon(tmux, "joiner")
