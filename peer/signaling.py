"""Signaling client: one WebSocket to the relay, kept up with backoff for the whole call.

The relay is needed only to meet and to (re)negotiate; once the DataChannels are up the call is
peer-to-peer and survives the relay going away. So this client runs in the background:

- connect to ``<relay>/ws?room=<code>``, send ``join``, then dispatch every validated message to
  ``on_message(msg)``; ``on_connected()`` / ``on_disconnected(reason)`` report the link;
- when the connection drops (relay restarted, network blip) reconnect with exponential backoff
  (0.2 s doubling to 5 s, jittered) and join again -- "re-register";
- errors that retrying cannot fix (room full, bad room, unsupported version) end the loop with a
  :class:`~peer.errors.SignalingError` raised from :meth:`SignalingClient.run`;
- a relay that stays unreachable for :data:`GIVE_UP_AFTER_S` (counted from the first failed
  attempt, and only while ``may_give_up()`` says nothing else keeps the call alive) ends it too,
  with code :data:`RELAY_UNREACHABLE` and a message naming ``host:port`` and what to check: a
  dead relay (a joiner pointed at a host's relay that is gone) used to be retried forever;
- a JSON ``ping`` every 60 s keeps the relay's idle timeout (10 min) away while we wait; it is
  sent from the receive loop (a ``recv`` under a deadline; websockets documents cancelling
  ``recv`` as safe), so the client runs no task of its own and nothing outlives :meth:`run`.

Outgoing messages are dropped (with a False return) while disconnected; the caller renegotiates
after re-registering if it still needs to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import urllib.parse
from collections.abc import Callable

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidURI,
)

from protocol.signaling import (
    MAX_SIGNAL_BYTES,
    Error,
    ErrorCode,
    Join,
    Joined,
    Ping,
    SignalError,
    SignalMessage,
    parse_signal,
    relay_address,
)
from protocol.text import log_text

from .errors import SignalingError

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.2
BACKOFF_MAX_S = 5.0
#: Opening handshake deadline: a relay that accepts TCP but never answers counts as down.
OPEN_TIMEOUT_S = 5.0
#: JSON ping period: well inside the relay's 600 s idle timeout.
KEEPALIVE_S = 60.0
CLIENT_NAME = "avatarchat/0.1"
#: Stop retrying a relay that stays unreachable this long (then a fatal SignalingError). A
#: restarting relay is back within seconds; a minute of refusals means it is not coming back.
GIVE_UP_AFTER_S = 60.0
#: ``SignalingError.code`` when we gave up on an unreachable relay (the relay's own codes are
#: in :class:`protocol.signaling.ErrorCode`).
RELAY_UNREACHABLE = "relay_unreachable"
#: Relay errors after which reconnecting cannot help.
FATAL_CODES = frozenset({ErrorCode.ROOM_FULL, ErrorCode.BAD_ROOM, ErrorCode.UNSUPPORTED_VERSION})


def room_url(relay: str, room: str) -> str:
    """``ws://host:port`` or ``ws://host:port/ws`` (or http/https) -> the room's WebSocket URL."""
    parts = urllib.parse.urlsplit(relay)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise SignalingError(f"relay URL must start with ws:// or wss://, got {relay!r}")
    path = parts.path if parts.path not in ("", "/") else "/ws"
    query = urllib.parse.urlencode({"room": room})
    return urllib.parse.urlunsplit((scheme, parts.netloc, path, query, ""))


class SignalingClient:
    """Background relay connection; see the module docstring."""

    def __init__(
        self,
        relay: str,
        room: str,
        on_message: Callable[[SignalMessage], None],
        on_connected: Callable[[], None] = lambda: None,
        on_disconnected: Callable[[str], None] = lambda _r: None,
        on_retry: Callable[[str, float], None] = lambda _r, _d: None,
        *,
        create: bool = True,
        on_no_room: Callable[[str], None] = lambda _m: None,
        give_up_after_s: float = GIVE_UP_AFTER_S,
        may_give_up: Callable[[], bool] = lambda: True,
    ) -> None:
        self.url = room_url(relay, room)
        #: ``host:port`` of the relay, named in every "unreachable" line.
        self.address = relay_address(relay)
        self.give_up_after_s = give_up_after_s
        #: False while something else keeps the call alive (the peer-to-peer link is up: the
        #: relay is only needed to meet again), so the deadline does not run then.
        self._may_give_up = may_give_up
        self.room = room
        #: Whether our join may open an empty room. False until the first join succeeds when
        #: the user typed an invitation's code; a reconnect later always may (we were in it).
        self.create = create
        self._on_no_room = on_no_room
        self._on_message = on_message
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._on_retry = on_retry
        self._ws: ClientConnection | None = None
        self.connected = False
        self.connects = 0
        self._stop = False

    async def run(self) -> None:
        """Connect, join and dispatch until :meth:`close`; raises SignalingError when fatal."""
        backoff = BACKOFF_FIRST_S
        loop = asyncio.get_running_loop()
        down_since: float | None = None  # first failed attempt since we were last connected
        while not self._stop:
            reason = ""
            try:
                async with connect(
                    self.url,
                    open_timeout=OPEN_TIMEOUT_S,
                    max_size=MAX_SIGNAL_BYTES,
                    ping_interval=20,
                    ping_timeout=10,
                    close_timeout=1,
                ) as ws:
                    self._ws = ws
                    await ws.send(
                        Join(room=self.room, client=CLIENT_NAME, create=self.create).to_json()
                    )
                    self.connected = True
                    self.connects += 1
                    backoff = BACKOFF_FIRST_S
                    self._on_connected()
                    await self._receive(ws)
                    reason = f"relay {self.address} closed the connection"
            except SignalingError:
                raise
            except ConnectionClosed as e:
                code = e.rcvd.code if e.rcvd else "no close frame"
                reason = f"relay {self.address}: connection lost ({code})"
            except InvalidURI as e:
                raise SignalingError(f"bad relay URL {self.url!r}: {e}") from e
            except (OSError, InvalidHandshake, TimeoutError, websockets.WebSocketException) as e:
                reason = f"relay {self.address} unreachable: {e}"
            finally:
                self._ws = None
                was_connected = self.connected
                self.connected = False
            if self._stop:
                return
            if was_connected:
                self._on_disconnected(reason)
            now = loop.time()
            if was_connected or down_since is None or not self._may_give_up():
                down_since = now
            elif now - down_since >= self.give_up_after_s:
                last = reason.removeprefix(f"relay {self.address}").lstrip(": ")
                raise SignalingError(
                    f"relay {self.address} could not be reached for {now - down_since:.0f} s "
                    f"(last: {last}); gave up: is the relay running? Check the relay address",
                    RELAY_UNREACHABLE,
                )
            delay = backoff * (0.8 + 0.4 * random.random())
            log.info("%s; retrying in %.1f s", log_text(reason, 300), delay)
            self._on_retry(reason, delay)
            await asyncio.sleep(delay)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def open_room(self) -> None:
        """Join again, allowed to open the room this time (after ``no_such_room``); if the relay
        connection is down, the next connect does it."""
        self.create = True
        ws = self._ws
        if ws is not None:
            await ws.send(Join(room=self.room, client=CLIENT_NAME, create=True).to_json())

    def _dispatch(self, frame: str | bytes) -> None:
        try:
            message = parse_signal(frame)
        except SignalError as e:
            log.warning("ignoring a bad frame from the relay: %s", log_text(str(e)))
            return
        if isinstance(message, Joined):
            self.create = True
        if isinstance(message, Error) and message.code == ErrorCode.NO_SUCH_ROOM:
            self._on_no_room(message.message)
            return
        if isinstance(message, Error):
            log.warning(
                "relay error %s: %s", log_text(message.code, 32), log_text(message.message, 300)
            )
            if message.code in FATAL_CODES:
                raise SignalingError(
                    f"relay refused the join ({message.code}): {message.message}", message.code
                )
        self._on_message(message)

    async def _receive(self, ws: ClientConnection) -> None:
        """Dispatch frames until the relay closes normally; a keepalive ping every KEEPALIVE_S.

        An abnormal close raises ConnectionClosed (the caller names the code).
        """
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + KEEPALIVE_S
        while True:
            try:
                async with asyncio.timeout_at(next_ping):
                    frame = await ws.recv()
            except TimeoutError:
                next_ping = loop.time() + KEEPALIVE_S
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(Ping(t=int(loop.time() * 1000)).to_json())
                continue
            except ConnectionClosedOK:
                return
            self._dispatch(frame)

    async def send(self, message: SignalMessage) -> bool:
        """Send one message; False if the relay is not connected right now."""
        ws = self._ws
        if ws is None or not self.connected:
            return False
        try:
            await ws.send(message.to_json())
        except ConnectionClosed:
            return False
        return True

    async def close(self) -> None:
        self._stop = True
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
