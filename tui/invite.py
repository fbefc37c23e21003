"""What the person who created a room gives the other person: one line to paste.

When ``AVATARCHAT_ROOM_FILE`` is set, the app also writes ``{room, relay, join_command,
web_link}`` (``web_link``: the browser peer's page on that relay, room code in the fragment)
there once a room exists, so scripts and the end-to-end test can hand the code to the other
side without scraping the screen.
"""

from __future__ import annotations

import json
import os

import i18n
from call import Call, CallConfig, EventCallback
from protocol.signaling import web_link

from .settings import Settings, state_dir

ROOM_FILE_ENV = "AVATARCHAT_ROOM_FILE"
DEFAULT_AVATAR = "aria"


def join_command(relay_url: str, room: str) -> str:
    """The one line the other person pastes into their terminal."""
    return f"avatarchat-tui --relay {relay_url} --join {room}"


def write_room_file(room: str, relay_url: str) -> None:
    path = os.environ.get(ROOM_FILE_ENV)
    if not path:
        return
    data = {
        "room": room,
        "relay": relay_url,
        "join_command": join_command(relay_url, room),
        "web_link": web_link(relay_url, room),
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def start_call(request: CallConfig, settings: Settings, on_event: EventCallback) -> Call:
    """The :class:`call.Call` for a request from the home screen, with the user's settings
    (TURN server, mirror, smoothing, voice and sound devices) and the app's log directory
    filled in."""
    log_dir = state_dir() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    request.ice_servers = [settings.turn_url] if settings.turn_url else []
    request.turn_user = settings.turn_username or None
    request.turn_pass = settings.turn_credential or None
    request.mirror = settings.mirror
    request.smoothing = settings.smoothing
    # Voice: the setting can only turn it off (a request made without voice stays without).
    request.voice = request.voice and settings.voice
    request.echo_cancel = settings.echo_cancel
    request.mic = settings.mic
    request.speaker = settings.speaker
    request.log_dir = str(log_dir)
    # The children (the avatar window's banners) speak the language the app speaks.
    request.env = i18n.child_env(request.env)
    # No choice made on the home screen (an empty catalogue, a fresh config): the default.
    request.avatar = request.avatar or DEFAULT_AVATAR
    return Call(request, on_event)
