"""Commands from the parent (:mod:`protocol.commands`), carried out on the networking process.

``quit`` (also: EOF on stdin), ``hangup`` (say bye to the peer, then quit), ``chat``,
``emotion``, ``avatar``, ``set_mute``, ``set_deafen``, ``set_sync_hold``, ``send_gesture``.
They arrive through :class:`protocol.channel.ChildChannel`, whose reader thread hands each one
to the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from protocol.commands import (
    Command,
    Hangup,
    OpenRoom,
    Quit,
    SendChat,
    SendGesture,
    SetAvatar,
    SetDeafen,
    SetEmotion,
    SetMute,
    SetSyncHold,
)
from protocol.events import ChatSent

from .ctl_handler import load_local_avatar

if TYPE_CHECKING:
    from .app import PeerApp

log = logging.getLogger(__name__)


async def apply_command(app: PeerApp, cmd: Command) -> None:
    """Carry out one parent command on the networking process."""
    if isinstance(cmd, Quit):
        app.quit()
    elif isinstance(cmd, Hangup):
        if app.link is not None and app.link.opened:
            app.ctl.bye("hangup")
        app.quit()
    elif isinstance(cmd, SendChat):
        if app.ctl.chat(cmd.text):
            app.emit(ChatSent(text=cmd.text))
        else:
            app.error("chat not sent: not connected")
    elif isinstance(cmd, SetEmotion):
        app.ctl.emotion(cmd.preset, cmd.weight)
    elif isinstance(cmd, SendGesture):
        app.ctl.gesture(cmd.name, cmd.side)  # not connected: a gesture is not worth queueing
    elif isinstance(cmd, OpenRoom):
        await app.signaling.open_room()
    elif isinstance(cmd, SetAvatar):
        avatar = await asyncio.to_thread(load_local_avatar, cmd.ref)
        app.ctl.switch_avatar(avatar)
    elif isinstance(cmd, SetMute | SetDeafen | SetSyncHold):
        if app.voice is None:
            log.info("ignoring %s: voice is off", cmd.KIND)
        elif isinstance(cmd, SetMute):
            app.voice.set_muted(cmd.muted)
        elif isinstance(cmd, SetDeafen):
            app.voice.set_deafened(cmd.deafened)
        else:
            app.voice.set_sync_hold(cmd.hold_ms)
    else:
        log.warning("ignoring %s: not a networking command", cmd.KIND)
