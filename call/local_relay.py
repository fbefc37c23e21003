"""The embedded relay: ``python -m relay`` on this machine, for one call or a front-end's life.

Used when no relay is configured (the TUI's first run, ``avatarchat demo``). ``avatarchat
call``/``demo`` start one per call (:class:`LocalRelay`, stopped with the call). The TUI keeps
one for as long as it runs (:class:`SharedRelay`): a host who hangs up and creates another room
keeps the same address, and an invitation sent earlier does not point at a relay that died
with the previous call. It binds port 0
(or the one asked for) and reports the port in its ``ready`` event, so there is no race between
picking a free port and binding it. It runs with ``--exit-on-stdin-eof``, so it ends with the
call's owner even if that process dies without cleaning up (the relay reads no commands
otherwise). Started only as a subprocess: :mod:`call` does not import :mod:`relay`.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from i18n import _
from protocol.events import Event, Ready

from .child import ChildProcess, module_argv
from .errors import RelayStartError, SupervisorError
from .events import CallEvent, EventCallback
from .netinfo import ALL_ADDRESSES, LOOPBACK, lan_ipv4

log = logging.getLogger(__name__)

#: The relay binds in well under a second; allow a slow CI box plenty.
RELAY_START_TIMEOUT_S = 20.0
#: Browser handshakes the embedded relay accepts, by Origin. A web page the user happens to
#: have open must not be able to open sockets to a relay on their machine (and lock them out
#: of it with the per-address cap), so the allowlist is on by default; native clients send no
#: Origin and are unaffected. No page is trusted yet: this one matches none. The browser peer,
#: served by us, will put its own origin here.
EMBEDDED_ALLOWED_ORIGINS = ("avatarchat-no-browser-pages",)


class LocalRelay:
    """One relay child. ``share_url`` is the address to give the other person (this machine's
    LAN address when it listens on all addresses, else loopback: only people on this machine
    can join); ``local_url`` is what our own networking process connects to."""

    def __init__(
        self,
        on_event: EventCallback,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        log_dir: Path | None = None,
    ) -> None:
        self.port = 0
        #: The address it listens on (ALL_ADDRESSES when shared on the LAN).
        self.host = host
        self.lan_host = lan_ipv4() if host == ALL_ADDRESSES else host
        self._on_event = on_event
        self.child = ChildProcess(
            "relay",
            module_argv(
                "relay",
                "--host",
                host,
                "--port",
                str(port),
                "--exit-on-stdin-eof",
                *[a for origin in EMBEDDED_ALLOWED_ORIGINS for a in ("--allowed-origin", origin)],
            ),
            self._event,
            log_path=log_dir / "relay.log" if log_dir is not None else None,
        )

    def _event(self, source: str, event: CallEvent | Event) -> None:
        if isinstance(event, Ready):
            port = event.info.get("port")
            if isinstance(port, int) and not isinstance(port, bool):
                self.port = port
        self._on_event(source, event)

    @property
    def local_url(self) -> str:
        return f"ws://{LOOPBACK}:{self.port}"

    @property
    def share_url(self) -> str:
        return f"ws://{self.lan_host}:{self.port}"

    async def start(self, timeout: float = RELAY_START_TIMEOUT_S) -> None:
        """Start it and wait until it listens (RelayStartError if it cannot)."""
        try:
            await self.child.start()
            await self.child.wait_ready(timeout)
        except SupervisorError as e:
            await self.child.stop()
            message = _("the local relay did not start: {error}").format(error=e)
            raise RelayStartError(message) from e
        if not self.port:
            await self.child.stop()
            raise RelayStartError(_("the local relay did not say which port it listens on"))
        log.info("local relay listening on port %d", self.port)

    async def stop(self) -> None:
        await self.child.stop()


class SharedRelay:
    """One :class:`LocalRelay` for a front-end's whole life (the TUI).

    Started by the first call that needs it (:meth:`acquire`), reused by every later call, and
    stopped by the front-end when it exits (:meth:`stop`); the relay child also ends by itself
    if the front-end dies (``--exit-on-stdin-eof``). Its port stays the same for the front-end's
    life: a relay that died, or one restarted because the LAN choice changed, comes back on the
    port it had. Events go to the call currently using it (none between calls).
    """

    def __init__(self) -> None:
        self.relay: LocalRelay | None = None
        #: The port of the first relay started; every restart asks for it again.
        self.port = 0
        self._listener: EventCallback | None = None
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self.relay is not None and self.relay.child.running

    def _event(self, source: str, event: CallEvent | Event) -> None:
        listener = self._listener
        if listener is not None:
            listener(source, event)

    async def acquire(
        self, on_event: EventCallback, *, lan: bool = False, log_dir: Path | None = None
    ) -> LocalRelay:
        """The running relay (started or restarted if needed, RelayStartError if it cannot);
        its events go to ``on_event`` until :meth:`release`."""
        host = ALL_ADDRESSES if lan else LOOPBACK
        async with self._lock:
            self._listener = on_event
            relay = self.relay
            if relay is not None and relay.child.running and relay.host == host:
                return relay
            if relay is not None:
                await relay.stop()
                self.relay = None
            relay = LocalRelay(self._event, host=host, port=self.port, log_dir=log_dir)
            try:
                await relay.start()
            except RelayStartError:
                if not self.port:
                    raise
                # Our port was taken meanwhile: any port beats no relay (a new invitation).
                log.warning("local relay port %d is taken; using another", self.port)
                relay = LocalRelay(self._event, host=host, port=0, log_dir=log_dir)
                await relay.start()
            self.relay, self.port = relay, relay.port
            return relay

    def release(self, on_event: EventCallback) -> None:
        """The call that acquired it is over: its events go nowhere (the relay keeps running)."""
        if self._listener is on_event:
            self._listener = None

    async def stop(self) -> None:
        """The front-end exits: stop the relay (safe to call more than once)."""
        async with self._lock:
            self._listener = None
            if self.relay is not None:
                await self.relay.stop()
                self.relay = None

    def pid(self) -> int | None:
        """For a synchronous last resort (the relay also exits when our stdin pipe closes)."""
        return self.relay.child.pid if self.running and self.relay is not None else None
