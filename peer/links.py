"""Performing what the negotiation decides, on aiortc links: the action half of the
networking process's driver (:class:`peer.app.PeerApp` mixes it in).

:mod:`peer.negotiation` decides (who offers, which answer counts, when a link is given up);
:class:`LinkActions` does: it builds and replaces :class:`~peer.connection.PeerLink` s, runs
offer/answer creation as owned tasks and reports their outcome back to the state machine,
sends descriptions through the relay, and wires a link that came up to the frame pump, the
control handler and the status line. Kept apart from :mod:`peer.app` (process lifecycle,
relay signaling, commands, stats) because this is the part that touches aiortc objects and
it reads best next to the state machine it serves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, assert_never

from protocol import signaling as sig
from protocol.events import Event
from protocol.events import Status as StatusEvent

from .connection import PeerLink, build_configuration, turn_problem
from .errors import NegotiationError
from .negotiation import (
    Action,
    ApplyAnswer,
    CheckTurn,
    CreateAnswer,
    CreateOffer,
    DropLink,
    Error,
    LinkUp,
    NewLink,
    Note,
    SendAnswer,
    SendOffer,
    Status,
)

if TYPE_CHECKING:
    import asyncio

    from aiortc import RTCIceServer

    from .clock import ClockSync
    from .ctl_handler import CtlHandler
    from .frames import FramePump
    from .negotiation import Negotiation
    from .options import PeerOptions
    from .signaling import SignalingClient
    from .stats import CallStats
    from .voice import Voice

log = logging.getLogger(__name__)


class LinkActions:
    """The negotiation's actions on links; see the module docstring. Needs the attributes and
    methods declared below from the class it is mixed into."""

    if TYPE_CHECKING:
        opts: PeerOptions
        link: PeerLink | None
        neg: Negotiation
        pump: FramePump | None
        voice: Voice | None
        ctl: CtlHandler
        stats: CallStats
        clock: ClockSync
        signaling: SignalingClient
        state: str
        _quit: asyncio.Event

        def _start(self, coro: Coroutine[Any, Any, Any]) -> None: ...
        def _ice_servers(self) -> list[RTCIceServer]: ...
        def set_state(self, state: str, message: str) -> None: ...
        def emit(self, event: Event) -> None: ...
        def error(self, message: str, *, fatal: bool = False, once: bool = False) -> None: ...

    def _apply(self, actions: list[Action]) -> None:
        """Perform what :class:`Negotiation` decided, in order; async work becomes owned tasks
        that report their outcome back to it."""
        for action in actions:
            match action:
                case NewLink(gen=gen):
                    self._replace_link(self._new_link(gen))
                case DropLink():
                    self._replace_link(None)
                case CreateOffer(gen=gen):
                    self._start(self._create_offer(gen))
                case CreateAnswer(gen=gen, sdp=sdp):
                    self._start(self._create_answer(gen, sdp))
                case ApplyAnswer(gen=gen, sdp=sdp):
                    self._start(self._apply_answer(gen, sdp))
                case SendOffer() | SendAnswer():
                    self._send_description(action)
                case LinkUp():
                    self._link_up(action)
                case CheckTurn(gen=gen):
                    if (link := self._link_of(gen)) is not None and link.local_sdp:
                        self._check_turn(link.local_sdp)
                case Status(state=state, message=message):
                    self.set_state(state, message)
                case Note(message=message):
                    self.emit(StatusEvent(state=self.state, message=message))
                case Error(message=message):
                    self.error(message)
                case _:
                    assert_never(action)

    def _link_of(self, gen: int) -> PeerLink | None:
        """The current link if it is generation ``gen`` (a task may outlive its link)."""
        link = self.link
        return link if link is not None and link.gen == gen else None

    def _new_link(self, gen: int) -> PeerLink:
        return PeerLink(
            gen,
            build_configuration(self._ice_servers(), turn_only=self.opts.turn_only),
            on_params=self._on_params,
            on_ctl=self.ctl.handle,
            on_open=self._on_link_open,
            on_failed=self._on_link_failed,
            voice=self.voice.link_parts() if self.voice is not None else None,
        )

    def _replace_link(self, link: PeerLink | None) -> None:
        old, self.link = self.link, link
        if self.pump is not None:
            self.pump.attach(None, lambda: 0)
        if old is not None:
            if self.voice is not None:
                self.voice.drop_link(old.voice)
            self._start(old.close())  # bounded by PeerLink.close's own timeout

    async def _create_offer(self, gen: int) -> None:
        if (link := self._link_of(gen)) is None:
            return
        try:
            await link.create_offer()
        except NegotiationError as e:
            self._apply(self.neg.negotiation_failed(gen, str(e)))
            return
        self._apply(self.neg.offer_created(gen, time.monotonic()))

    async def _create_answer(self, gen: int, offer_sdp: str) -> None:
        if (link := self._link_of(gen)) is None:
            return
        try:
            await link.accept_offer(offer_sdp)
        except NegotiationError as e:
            self._apply(self.neg.negotiation_failed(gen, str(e)))
            return
        self._apply(self.neg.answer_created(gen))

    async def _apply_answer(self, gen: int, answer_sdp: str) -> None:
        if (link := self._link_of(gen)) is None:
            return
        try:
            await link.accept_answer(answer_sdp)
        except NegotiationError as e:
            self._apply(self.neg.negotiation_failed(gen, str(e)))

    def _send_description(self, action: SendOffer | SendAnswer) -> None:
        link = self._link_of(action.gen)
        if link is None or link.local_sdp is None:
            return
        sdp = link.local_sdp
        self._check_turn(sdp)
        if isinstance(action, SendOffer):
            self._start(self._relay_send(sig.Offer(sdp=sdp, gen=action.gen)))
        else:
            self._start(self._relay_send(sig.Answer(sdp=sdp, gen=action.gen)))

    async def _relay_send(self, message: sig.Offer | sig.Answer) -> None:
        if not await self.signaling.send(message):
            log.info("%s %d not sent: relay not connected", message.TYPE, message.gen)

    def _check_turn(self, sdp: str) -> None:
        problem = turn_problem(self._ice_servers(), sdp, turn_only=self.opts.turn_only)
        if problem is not None:
            self.error(problem, once=True)

    # -- link events -----------------------------------------------------------------------
    def _on_link_open(self, link: PeerLink) -> None:
        if link is self.link:
            self._apply(self.neg.link_open(link.gen))

    def _link_up(self, action: LinkUp) -> None:
        link = self._link_of(action.gen)
        if link is None:
            return
        if action.reconnect:
            self.stats.reconnects += 1
        self.clock.reset()
        self.stats.reset_sequence()
        assert self.pump is not None
        params, ctl_channel = link.params, link.ctl
        self.pump.attach(params.send, lambda: int(params.bufferedAmount))
        self.pump.last_rx = time.monotonic()
        self.ctl.attach(link.send_ctl, lambda: int(ctl_channel.bufferedAmount))
        pair = link.candidate_pair()
        self.set_state(
            "connected",
            f"connected ({pair['type'] if pair else 'unknown'} path), SAS {link.sas() or '?'}",
        )

    def _on_link_failed(self, link: PeerLink, reason: str) -> None:
        if link is self.link and not self._quit.is_set():
            self._apply(self.neg.link_failed(link.gen, reason, time.monotonic()))

    def _on_params(self, data: bytes) -> None:
        if self.pump is not None:
            self.pump.on_params(data)
