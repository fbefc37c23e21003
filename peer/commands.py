"""Commands from the parent on stdin (one JSON line each, :mod:`protocol.control`).

``quit`` (also: EOF on stdin), ``hangup`` (say bye to the peer, then quit), ``chat`` {text},
``emotion`` {preset, weight}, ``avatar`` {ref}.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from protocol.control import MAX_CONTROL_LINE, parse_line
from protocol.errors import DecodeError

from .ctl_handler import load_local_avatar

if TYPE_CHECKING:
    from .app import PeerApp

log = logging.getLogger(__name__)


async def read_commands(
    on_command: Callable[[dict[str, Any]], Awaitable[None]],
    *,
    on_eof: Callable[[], None],
    on_bad: Callable[[str], None],
) -> None:
    """Read command lines from stdin until EOF; a bad line is reported, never fatal."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_CONTROL_LINE)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (ValueError, OSError) as e:  # stdin closed, or a regular file
        log.debug("no stdin commands: %s", e)
        return
    while True:
        try:
            line = await reader.readline()
        except ValueError:  # longer than MAX_CONTROL_LINE: the rest of it was discarded
            on_bad("command line too long")
            continue
        if not line:
            on_eof()  # EOF means quit (child contract)
            return
        try:
            cmd = parse_line(line, "cmd")
        except DecodeError as e:
            on_bad(str(e))
            continue
        await on_command(cmd)


async def apply_command(app: PeerApp, cmd: dict[str, Any]) -> None:
    """Carry out one parent command on the networking process."""
    name = cmd["cmd"]
    if name == "quit":
        app.quit()
    elif name == "hangup":
        if app.link is not None and app.link.opened:
            app.ctl.bye("hangup")
        app.quit()
    elif name == "chat":
        text = str(cmd.get("text", ""))
        if app.ctl.chat(text):
            app.emit("chat_sent", text=text)
        else:
            app.error("chat not sent: not connected")
    elif name == "emotion":
        try:
            app.ctl.emotion(int(cmd.get("preset", 0)), float(cmd.get("weight", 1.0)))
        except (TypeError, ValueError):
            app.error("emotion needs an integer preset and a numeric weight")
    elif name == "avatar":
        avatar = await asyncio.to_thread(load_local_avatar, str(cmd.get("ref", "")))
        app.ctl.switch_avatar(avatar)
    else:
        app.error(f"unknown command {name!r}", once=True)
