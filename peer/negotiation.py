"""Who offers, when, and which answer counts: the call's negotiation as one state machine.

Why a pure state machine: the rules below used to be spread over the networking process's
callbacks (relay messages, aiortc events, a watchdog loop), each reading and writing the same
handful of fields. Here one object owns them all; every input is a method that takes the time
as an argument (``now``, monotonic seconds) and returns the actions to perform, so each rule is
a unit test without a network or a wall clock. :class:`peer.app.PeerApp` is the driver: it
feeds inputs in (relay messages, link events, a 10 Hz tick) and performs the actions (aiortc,
the relay, status lines). An input that makes no sense in the current state is refused: logged
and ignored, never raised, because it usually means a late event from a link already replaced.

Rules (who offers, deterministically):

- A client that joins a room where the peer is already present offers (``gen`` = its last + 1).
  The one that was waiting answers (and offers itself only if no offer came within
  :data:`SECOND_OFFER_DELAY_S`). An offer always replaces the current link (aiortc has no ICE
  restart), so a restarted peer's offer is accepted whatever our ``gen``.
- Answers are applied only if their ``gen`` is that of our outstanding offer; stale ones are
  ignored. Glare (both offered): the side in relay position 1 keeps its offer (unless the
  peer's ``gen`` is higher), position 2 answers.
- Liveness: no params frame and no ctl message for :data:`LOST_AFTER_S` -> ``peer_lost``; the
  dead link is dropped and a new one negotiated through the relay: position 1 offers at once,
  position 2 after :data:`SECOND_OFFER_DELAY_S` (only if no offer came), retrying every
  :data:`OFFER_RETRY_S` while the peer is in the room. We never wait for aiortc's 30 s consent
  timeout.
- An offer unanswered for :data:`OFFER_RETRY_S` (lost with a relay restart), or a link whose
  descriptions were exchanged but which has not opened in :data:`NEGOTIATION_TIMEOUT_S`, or
  whose ICE failed, is replaced by a new offer.
- The relay going away does not touch a working link; a client that re-joins the relay with a
  healthy link does not renegotiate. After the peer said bye we never offer; we answer if it
  comes back and offers.

States (:class:`Phase`) and transitions; every state but IDLE has exactly one current link::

           +----------------- tick: offer due, gen + 1 ------------------+
           |                                                             v
         IDLE ----- offer_received -----> ANSWERING                  OFFERING
           ^                                  |                          |
           |                            answer_created             offer_created
           |                             (SendAnswer)               (SendOffer)
           |                                  v                          v
           |                              CONNECTING <-- answer_received -- OFFER_SENT
           |                                  |          (its gen only)
           |                              link_open
           |                                  v
           +-- link_failed, tick: silence -- CONNECTED

Also: from any state, ``peer_bye`` -> IDLE, and ``offer_received`` -> ANSWERING with the
peer's gen, unless glare keeps ours (position 1 in OFFERING/OFFER_SENT, peer's gen not
higher). From any state but CONNECTED, ``negotiation_failed`` (creating our offer/answer or
applying the answer raised) -> IDLE, and a tick that gives up on the current link
(unanswered for OFFER_RETRY_S, not open after NEGOTIATION_TIMEOUT_S, ICE failed) once the
offer timer is due -> OFFERING. OFFERING and ANSWERING are never interrupted by a tick.
Relay up/down, ``joined``, ``peer_joined`` and ``peer_left`` change no phase: they set the
flags (position, peer present) and the offer timer, and say so.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: No frame and no ctl message for this long = the peer is gone (pings are 1 Hz).
LOST_AFTER_S = 2.5
#: Position 2 gives position 1 this long to (re-)offer before offering itself.
SECOND_OFFER_DELAY_S = 3.0
#: An offer unanswered this long is retried (so is the offer timer's next due time).
OFFER_RETRY_S = 6.0
#: A link whose offer was answered gets this long to open before it is replaced.
NEGOTIATION_TIMEOUT_S = 15.0
#: After this long with ICE still checking and TURN configured, check for a relay candidate and
#: say why there is none.
TURN_HINT_AFTER_S = 5.0
#: A negotiation that died with no offer scheduled: position 2 waits this long, so position 1
#: (which offers at once) normally wins and there is no glare.
UNSCHEDULED_OFFER_DELAY_S = 1.0


class Phase(enum.Enum):
    """Where the current link stands (see the module docstring's diagram)."""

    IDLE = "idle"  # no link
    OFFERING = "offering"  # our link exists; its offer is being created
    OFFER_SENT = "offer_sent"  # our offer went to the relay; waiting for its answer
    ANSWERING = "answering"  # the peer's offer was accepted; our answer is being created
    CONNECTING = "connecting"  # offer and answer exchanged; waiting for the channels to open
    CONNECTED = "connected"  # both channels open; liveness watched


# -- actions (what the driver performs) -----------------------------------------------------
@dataclass(frozen=True, slots=True)
class NewLink:
    """Replace the current link (closing it) by a fresh one numbered ``gen``."""

    gen: int


@dataclass(frozen=True, slots=True)
class DropLink:
    """Close the current link (if any); none takes its place."""


@dataclass(frozen=True, slots=True)
class CreateOffer:
    """Create the offer of link ``gen``; report :meth:`Negotiation.offer_created` or failure."""

    gen: int


@dataclass(frozen=True, slots=True)
class SendOffer:
    """Send link ``gen``'s offer through the relay."""

    gen: int


@dataclass(frozen=True, slots=True)
class CreateAnswer:
    """Apply the peer's offer ``sdp`` to link ``gen`` and create our answer; report back."""

    gen: int
    sdp: str


@dataclass(frozen=True, slots=True)
class SendAnswer:
    """Send link ``gen``'s answer through the relay."""

    gen: int


@dataclass(frozen=True, slots=True)
class ApplyAnswer:
    """Apply the peer's answer ``sdp`` to link ``gen``; report a failure back."""

    gen: int
    sdp: str


@dataclass(frozen=True, slots=True)
class LinkUp:
    """Link ``gen`` opened: bind the channels and say ``connected``; ``reconnect`` counts one."""

    gen: int
    reconnect: bool


@dataclass(frozen=True, slots=True)
class CheckTurn:
    """Link ``gen`` is still checking: say why if TURN is configured but no relay candidate."""

    gen: int


@dataclass(frozen=True, slots=True)
class Status:
    """Change the process's state and say so."""

    state: str
    message: str


@dataclass(frozen=True, slots=True)
class Note:
    """Say something without changing the state."""

    message: str


@dataclass(frozen=True, slots=True)
class Error:
    """Report a (non-fatal) error to the parent."""

    message: str


Action = (
    NewLink
    | DropLink
    | CreateOffer
    | SendOffer
    | CreateAnswer
    | SendAnswer
    | ApplyAnswer
    | LinkUp
    | CheckTurn
    | Status
    | Note
    | Error
)


@dataclass(frozen=True, slots=True)
class LinkProbe:
    """What the driver sees of the current link at a tick (facts only aiortc knows)."""

    gen: int
    ice_state: str
    closed: bool = False
    has_local_sdp: bool = False


class Negotiation:
    """The negotiation state of one networking process; see the module docstring.

    Not thread-safe and never awaits: the driver calls it from the event loop only.
    """

    def __init__(self) -> None:
        self.phase = Phase.IDLE
        #: The highest generation seen or used: our next offer is ``gen + 1``.
        self.gen = 0
        #: The generation of the current link (None in IDLE).
        self.link_gen: int | None = None
        #: When the current link was created (monotonic s).
        self.link_started = 0.0
        #: When our outstanding offer was sent (OFFER_SENT only).
        self.offer_sent_at: float | None = None
        #: Earliest time of our next offer; None = none scheduled.
        self.offer_not_before: float | None = None
        self.position = 0
        self.peer_present = False
        self.peer_said_bye = False
        self.ever_connected = False

    @property
    def connected(self) -> bool:
        return self.phase is Phase.CONNECTED

    def _refuse(self, what: str, why: str) -> list[Action]:
        log.info("negotiation: ignoring %s in %s: %s", what, self.phase.value, why)
        return []

    def _negotiating_state(self) -> str:
        return "reconnecting" if self.ever_connected else "connecting"

    # -- relay ------------------------------------------------------------------------------
    def relay_up(self) -> list[Action]:
        if self.connected:
            return []
        return [Status("signaling", "connected to the relay; joining")]

    def relay_retry(self, reason: str, delay: float) -> list[Action]:
        if self.connected:
            return []
        return [Status("signaling", f"{reason}; retrying in {delay:.1f} s")]

    def relay_down(self, reason: str) -> list[Action]:
        if self.connected:
            return [Note(f"{reason}; call continues peer-to-peer")]
        return [Status("signaling", f"{reason}; reconnecting to the relay")]

    def joined(self, position: int, peer_present: bool, now: float) -> list[Action]:
        """We are (again) in the room; the one who joins second offers at once."""
        self.position = position
        self.peer_present = peer_present
        if self.connected:
            return [Note("re-registered with the relay")]
        if peer_present:
            self.offer_not_before = now
            return [Status("connecting", "peer is here; sending an offer")]
        return [Status("waiting", f"in the room (position {position}); waiting")]

    def peer_joined(self, now: float) -> list[Action]:
        """The peer joined after us: it offers; we only if it has not within the delay."""
        self.peer_present = True
        if self.connected:
            return []
        self.offer_not_before = now + SECOND_OFFER_DELAY_S
        return [Status("connecting", "peer joined; negotiating")]

    def peer_left(self, reason: str) -> list[Action]:
        """The peer's relay connection is gone; a working link carries on without it."""
        self.peer_present = False
        self.offer_not_before = None
        if self.connected:
            return [Note("peer lost its relay connection; call continues peer-to-peer")]
        if self.peer_said_bye:
            return [Status("waiting", "peer hung up; waiting for them to come back")]
        if self.ever_connected:
            return [Status("peer_lost", f"peer left ({reason or 'disconnected'})")]
        return [Status("waiting", "waiting for the peer to join")]

    # -- offer / answer ---------------------------------------------------------------------
    def offer_received(self, gen: int, sdp: str, now: float) -> list[Action]:
        """The peer's offer replaces whatever link we have, except when glare keeps ours."""
        ours = self.phase in (Phase.OFFERING, Phase.OFFER_SENT)
        if ours and self.position == 1 and gen <= self.gen:
            log.info("glare: keeping our offer %d over the peer's %d", self.gen, gen)
            return []
        actions: list[Action] = []
        if self.connected:
            # A new offer while our link looks fine: the peer lost it (e.g. restarted).
            actions.append(Status("peer_lost", "the peer restarted its connection"))
        self.gen = max(self.gen, gen)
        self._new_link(gen, Phase.ANSWERING, now)
        actions += [
            NewLink(gen),
            Status(self._negotiating_state(), f"answering offer {gen}"),
            CreateAnswer(gen, sdp),
        ]
        return actions

    def answer_created(self, gen: int) -> list[Action]:
        if self.phase is not Phase.ANSWERING or gen != self.link_gen:
            return self._refuse(f"our answer {gen}", f"link is {self.link_gen}")
        self.phase = Phase.CONNECTING
        return [SendAnswer(gen)]

    def offer_created(self, gen: int, now: float) -> list[Action]:
        if self.phase is not Phase.OFFERING or gen != self.link_gen:
            return self._refuse(f"our offer {gen}", f"link is {self.link_gen}")
        self.phase = Phase.OFFER_SENT
        self.offer_sent_at = now
        return [SendOffer(gen)]

    def answer_received(self, gen: int, sdp: str) -> list[Action]:
        """Only the answer to our outstanding offer counts."""
        if self.phase is not Phase.OFFER_SENT or gen != self.link_gen:
            log.info("ignoring stale answer %d", gen)
            return []
        self.phase = Phase.CONNECTING
        self.offer_sent_at = None
        return [ApplyAnswer(gen, sdp)]

    def negotiation_failed(self, gen: int, message: str) -> list[Action]:
        """Creating our offer/answer or applying the peer's answer failed for link ``gen``.

        The link is dropped; the offer timer (already set when we offered) brings the next try.
        """
        if gen != self.link_gen or self.connected:
            return self._refuse(f"failure of link {gen} ({message})", f"link is {self.link_gen}")
        self._drop()
        return [Error(message), DropLink()]

    # -- link events ------------------------------------------------------------------------
    def link_open(self, gen: int) -> list[Action]:
        if gen != self.link_gen or self.connected:
            return self._refuse(f"open of link {gen}", f"link is {self.link_gen}")
        reconnect = self.ever_connected
        self.ever_connected = True
        self.phase = Phase.CONNECTED
        self.offer_not_before = None
        self.offer_sent_at = None
        self.peer_said_bye = False  # a new link's ctl starts afresh
        return [LinkUp(gen, reconnect)]

    def link_failed(self, gen: int, reason: str, now: float) -> list[Action]:
        """An open link failed underneath us; one not open yet is left to the tick's rules."""
        if gen != self.link_gen or not self.connected:
            return self._refuse(f"failure of link {gen} ({reason})", "not the open link")
        return self._lost(reason, now)

    def peer_bye(self, reason: str) -> list[Action]:
        """The peer hung up: drop the link and never offer until it offers again."""
        self.peer_said_bye = True
        self._drop()
        return [DropLink(), Status("waiting", f"peer hung up ({reason or 'bye'})")]

    # -- time -------------------------------------------------------------------------------
    def tick(
        self, now: float, *, relay_connected: bool, last_rx: float, probe: LinkProbe | None
    ) -> list[Action]:
        """Liveness of an open link; otherwise TURN hints and (re-)offers when due.

        ``last_rx``: when the peer was last heard (params or ctl); ``probe``: the current link
        as aiortc sees it.
        """
        if self.connected:
            silent = now - last_rx
            if silent > LOST_AFTER_S and not self.peer_said_bye:
                return self._lost(f"no frames or messages from the peer for {silent:.1f} s", now)
            return []
        if probe is not None and probe.gen != self.link_gen:
            log.debug("probe of link %d while link is %s", probe.gen, self.link_gen)
            probe = None
        actions: list[Action] = []
        age = now - self.link_started
        if (
            self.link_gen is not None
            and probe is not None
            and age > TURN_HINT_AFTER_S
            and probe.has_local_sdp
            and probe.ice_state == "checking"
        ):
            actions.append(CheckTurn(self.link_gen))
        if self.peer_said_bye or not relay_connected or not self.peer_present:
            return actions
        if self.phase in (Phase.OFFERING, Phase.ANSWERING):
            return actions  # a description is being created; give it time
        if self.link_gen is not None and not self._give_up(probe, age):
            return actions  # an offer/answer in progress
        if self.offer_not_before is None:
            delay = 0.0 if self.position == 1 else UNSCHEDULED_OFFER_DELAY_S
            self.offer_not_before = now + delay
        if now >= self.offer_not_before:
            self.offer_not_before = now + OFFER_RETRY_S
            actions += self._offer(now)
        return actions

    def _give_up(self, probe: LinkProbe | None, age: float) -> bool:
        """Whether the current, not yet open link should be replaced by a new offer.

        An unanswered offer may have been lost (relay restart): retry after OFFER_RETRY_S. A link
        whose ICE checks are running (over TURN on a loaded machine they can take seconds) gets
        NEGOTIATION_TIMEOUT_S, and one whose ICE failed is replaced at once.
        """
        if probe is not None and (probe.closed or probe.ice_state in ("failed", "closed")):
            return True
        if self.phase is Phase.OFFER_SENT:
            return age >= OFFER_RETRY_S
        return age >= NEGOTIATION_TIMEOUT_S

    # -- internals --------------------------------------------------------------------------
    def _offer(self, now: float) -> list[Action]:
        self.gen += 1
        self._new_link(self.gen, Phase.OFFERING, now)
        return [
            NewLink(self.gen),
            Status(self._negotiating_state(), f"sending offer {self.gen}"),
            CreateOffer(self.gen),
        ]

    def _lost(self, reason: str, now: float) -> list[Action]:
        self._drop()
        self.offer_not_before = now + (0.0 if self.position == 1 else SECOND_OFFER_DELAY_S)
        return [DropLink(), Status("peer_lost", reason)]

    def _new_link(self, gen: int, phase: Phase, now: float) -> None:
        self.phase = phase
        self.link_gen = gen
        self.link_started = now
        self.offer_sent_at = None

    def _drop(self) -> None:
        self.phase = Phase.IDLE
        self.link_gen = None
        self.offer_sent_at = None
