"""The negotiation state machine, one transition at a time: fake times, no network, no sleeps.

Each test drives :class:`peer.negotiation.Negotiation` with the inputs the networking process
feeds it and checks the actions it returns and the state it lands in.
"""

from __future__ import annotations

import pytest

from peer.negotiation import (
    LOST_AFTER_S,
    NEGOTIATION_TIMEOUT_S,
    OFFER_RETRY_S,
    SECOND_OFFER_DELAY_S,
    TURN_HINT_AFTER_S,
    UNSCHEDULED_OFFER_DELAY_S,
    Action,
    ApplyAnswer,
    CheckTurn,
    CreateAnswer,
    CreateOffer,
    DropLink,
    Error,
    LinkProbe,
    LinkUp,
    Negotiation,
    NewLink,
    Note,
    Phase,
    SendAnswer,
    SendOffer,
    Status,
)

T0 = 1000.0


def tick(
    neg: Negotiation,
    now: float,
    *,
    relay: bool = True,
    last_rx: float | None = None,
    ice: str = "new",
    closed: bool = False,
    local_sdp: bool = True,
) -> list[Action]:
    """A tick as the driver makes it: the current link's probe, the peer heard at ``last_rx``."""
    probe = (
        None
        if neg.link_gen is None
        else LinkProbe(neg.link_gen, ice, closed=closed, has_local_sdp=local_sdp)
    )
    return neg.tick(
        now, relay_connected=relay, last_rx=now if last_rx is None else last_rx, probe=probe
    )


def phase(neg: Negotiation) -> Phase:
    """The phase, read through a call (mypy keeps an earlier ``is`` narrowing otherwise)."""
    return neg.phase


def offers(actions: list[Action]) -> list[int]:
    return [a.gen for a in actions if isinstance(a, CreateOffer)]


def states(actions: list[Action]) -> list[str]:
    return [a.state for a in actions if isinstance(a, Status)]


def joined(position: int, peer_present: bool, now: float = T0) -> Negotiation:
    neg = Negotiation()
    neg.relay_up()
    neg.joined(position, peer_present, now)
    return neg


def offering(position: int = 2, now: float = T0) -> Negotiation:
    """We joined second (position 2) and our first offer is being created."""
    neg = joined(position, True, now)
    assert offers(tick(neg, now)) == [1]
    return neg


def offer_sent(position: int = 2, now: float = T0) -> Negotiation:
    neg = offering(position, now)
    assert neg.offer_created(1, now) == [SendOffer(1)]
    return neg


def connected(position: int = 2, now: float = T0) -> Negotiation:
    neg = offer_sent(position, now)
    assert neg.answer_received(1, "answer-sdp") == [ApplyAnswer(1, "answer-sdp")]
    assert neg.link_open(1) == [LinkUp(1, reconnect=False)]
    assert neg.phase is Phase.CONNECTED
    return neg


# -- joining and who offers first ------------------------------------------------------------
def test_joining_a_room_with_the_peer_present_offers_at_once() -> None:
    neg = Negotiation()
    assert neg.relay_up() == [Status("signaling", "connected to the relay; joining")]
    assert neg.joined(2, True, T0) == [Status("connecting", "peer is here; sending an offer")]
    actions = tick(neg, T0)
    assert actions == [NewLink(1), Status("connecting", "sending offer 1"), CreateOffer(1)]
    assert neg.phase is Phase.OFFERING and neg.gen == 1 and neg.link_gen == 1


def test_joining_an_empty_room_waits() -> None:
    neg = Negotiation()
    assert neg.joined(1, False, T0) == [Status("waiting", "in the room (position 1); waiting")]
    assert tick(neg, T0 + 60) == []  # nobody to offer to
    assert neg.phase is Phase.IDLE


def test_waiting_side_answers_and_offers_only_after_the_second_offer_delay() -> None:
    neg = Negotiation()
    neg.joined(1, False, T0)
    assert neg.peer_joined(T0 + 1) == [Status("connecting", "peer joined; negotiating")]
    assert tick(neg, T0 + 1 + SECOND_OFFER_DELAY_S - 0.1) == []
    assert offers(tick(neg, T0 + 1 + SECOND_OFFER_DELAY_S)) == [1]


def test_waiting_side_answers_the_joiners_offer_and_does_not_offer_itself() -> None:
    neg = Negotiation()
    neg.joined(1, False, T0)
    neg.peer_joined(T0)
    actions = neg.offer_received(1, "offer-sdp", T0 + 0.2)
    assert actions == [
        NewLink(1),
        Status("connecting", "answering offer 1"),
        CreateAnswer(1, "offer-sdp"),
    ]
    assert neg.phase is Phase.ANSWERING
    assert neg.answer_created(1) == [SendAnswer(1)]
    assert phase(neg) is Phase.CONNECTING
    # Past the second-offer delay, the exchanged link is given time to open: no offer.
    assert tick(neg, T0 + SECOND_OFFER_DELAY_S + 1) == []
    assert neg.link_open(1) == [LinkUp(1, reconnect=False)]
    assert phase(neg) is Phase.CONNECTED and neg.offer_not_before is None


def test_no_offer_while_the_relay_is_down_or_the_peer_is_absent() -> None:
    neg = joined(2, True)
    assert tick(neg, T0, relay=False) == []
    neg.peer_left("gone")
    assert tick(neg, T0 + 30) == []
    assert neg.phase is Phase.IDLE


# -- offer / answer --------------------------------------------------------------------------
def test_offer_created_sends_it_and_waits_for_the_answer() -> None:
    neg = offering()
    assert neg.offer_created(1, T0 + 0.1) == [SendOffer(1)]
    assert neg.phase is Phase.OFFER_SENT and neg.offer_sent_at == T0 + 0.1


def test_answer_to_the_outstanding_offer_is_applied() -> None:
    neg = offer_sent()
    assert neg.answer_received(1, "sdp") == [ApplyAnswer(1, "sdp")]
    assert neg.phase is Phase.CONNECTING


@pytest.mark.parametrize("gen", [0, 2, 7])
def test_stale_answer_is_ignored(gen: int) -> None:
    neg = offer_sent()
    assert neg.answer_received(gen, "sdp") == []
    assert neg.phase is Phase.OFFER_SENT and neg.link_gen == 1


def test_answer_without_an_outstanding_offer_is_ignored() -> None:
    for neg in (joined(2, True), offering(), connected()):
        phase = neg.phase
        assert neg.answer_received(1, "sdp") == []
        assert neg.phase is phase
    neg = offer_sent()
    neg.answer_received(1, "sdp")
    assert neg.answer_received(1, "sdp") == []  # a duplicate: already applied
    assert neg.phase is Phase.CONNECTING


def test_completion_for_a_replaced_link_is_refused() -> None:
    """Our offer was still being created when the peer's offer replaced the link."""
    neg = offering(position=2)
    neg.offer_received(1, "peer-offer", T0 + 0.1)
    assert neg.offer_created(1, T0 + 0.2) == []  # link 1 is now the answering one
    assert neg.phase is Phase.ANSWERING
    assert neg.negotiation_failed(5, "late failure") == []
    assert neg.link_open(5) == []
    assert neg.phase is Phase.ANSWERING


def test_invalid_inputs_are_refused_never_raised() -> None:
    neg = Negotiation()
    assert neg.answer_created(1) == []
    assert neg.offer_created(1, T0) == []
    assert neg.link_open(1) == []
    assert neg.link_failed(1, "x", T0) == []
    assert neg.negotiation_failed(1, "x") == []
    assert neg.phase is Phase.IDLE
    neg = connected()
    assert neg.link_open(1) == []  # already open
    assert neg.negotiation_failed(1, "x") == []  # an open link is not failed negotiation
    assert neg.phase is Phase.CONNECTED


@pytest.mark.parametrize("setup", ["offering", "answering", "connecting"])
def test_negotiation_failure_drops_the_link_and_the_timer_retries(setup: str) -> None:
    if setup == "answering":
        neg = joined(1, False)
        neg.offer_received(1, "sdp", T0)
        timer = neg.offer_not_before
    else:
        neg = offering()
        timer = T0 + OFFER_RETRY_S
        if setup == "connecting":
            neg.offer_created(1, T0)
            neg.answer_received(1, "sdp")
    assert neg.negotiation_failed(1, "boom") == [Error("boom"), DropLink()]
    assert neg.phase is Phase.IDLE and neg.link_gen is None
    assert neg.offer_not_before == timer


# -- glare ---------------------------------------------------------------------------------
@pytest.mark.parametrize("ours", [Phase.OFFERING, Phase.OFFER_SENT])
def test_glare_position_1_keeps_its_offer(ours: Phase) -> None:
    neg = offering(position=1) if ours is Phase.OFFERING else offer_sent(position=1)
    assert neg.offer_received(1, "peer-offer", T0 + 0.1) == []
    assert neg.phase is ours and neg.link_gen == 1


@pytest.mark.parametrize("ours", [Phase.OFFERING, Phase.OFFER_SENT])
def test_glare_position_2_answers(ours: Phase) -> None:
    neg = offering(position=2) if ours is Phase.OFFERING else offer_sent(position=2)
    actions = neg.offer_received(1, "peer-offer", T0 + 0.1)
    assert actions == [
        NewLink(1),
        Status("connecting", "answering offer 1"),
        CreateAnswer(1, "peer-offer"),
    ]
    assert neg.phase is Phase.ANSWERING
    # Our own offer's answer, should one still come, is stale now.
    assert neg.answer_received(1, "late") == []


def test_glare_position_1_takes_a_newer_generation() -> None:
    neg = offer_sent(position=1)
    assert neg.offer_received(2, "newer", T0 + 0.1)[-1] == CreateAnswer(2, "newer")
    assert neg.gen == 2 and neg.link_gen == 2


def test_glare_resolves_into_one_link_both_ways() -> None:
    """Both sides offer gen 1 at once; exactly one link results, position 1's."""
    one, two = offer_sent(position=1), offer_sent(position=2)
    assert one.offer_received(1, "two's offer", T0 + 0.1) == []
    assert two.offer_received(1, "one's offer", T0 + 0.1)[-1] == CreateAnswer(1, "one's offer")
    assert two.answer_created(1) == [SendAnswer(1)]
    assert one.answer_received(1, "two's answer") == [ApplyAnswer(1, "two's answer")]
    assert one.link_open(1) and two.link_open(1)
    assert one.phase is two.phase is Phase.CONNECTED


# -- a restarted peer ----------------------------------------------------------------------
@pytest.mark.parametrize("position", [1, 2])
def test_restarted_peer_offer_is_accepted_whatever_our_gen(position: int) -> None:
    neg = connected(position)
    neg.gen = 7  # many renegotiations ago
    actions = neg.offer_received(1, "fresh", T0 + 50)
    assert actions == [
        Status("peer_lost", "the peer restarted its connection"),
        NewLink(1),
        Status("reconnecting", "answering offer 1"),
        CreateAnswer(1, "fresh"),
    ]
    assert neg.phase is Phase.ANSWERING and neg.link_gen == 1 and neg.gen == 7
    neg.answer_created(1)
    assert neg.link_open(1) == [LinkUp(1, reconnect=True)]
    assert offers(tick(neg, T0 + 60)) == []  # healthy again: nothing to do
    neg.link_failed(1, "gone", T0 + 61)
    if position == 1:
        assert offers(tick(neg, T0 + 61)) == [8]  # our next offer continues from our gen


# -- liveness and recovery -----------------------------------------------------------------
def test_silence_longer_than_lost_after_is_peer_lost() -> None:
    neg = connected()
    assert tick(neg, T0 + 10, last_rx=T0 + 10 - LOST_AFTER_S) == []  # not longer yet
    actions = tick(neg, T0 + 10, last_rx=T0 + 10 - LOST_AFTER_S - 0.1)
    assert actions == [
        DropLink(),
        Status("peer_lost", f"no frames or messages from the peer for {LOST_AFTER_S + 0.1:.1f} s"),
    ]
    assert neg.phase is Phase.IDLE and neg.link_gen is None


def test_lost_then_position_1_reoffers_at_once() -> None:
    neg = connected(position=1)
    lost_at = T0 + 10
    tick(neg, lost_at, last_rx=T0)
    actions = tick(neg, lost_at + 0.1)
    assert actions == [NewLink(2), Status("reconnecting", "sending offer 2"), CreateOffer(2)]


def test_lost_then_position_2_waits_the_second_offer_delay() -> None:
    neg = connected(position=2)
    lost_at = T0 + 10
    tick(neg, lost_at, last_rx=T0)
    assert tick(neg, lost_at + SECOND_OFFER_DELAY_S - 0.1) == []
    assert offers(tick(neg, lost_at + SECOND_OFFER_DELAY_S)) == [2]


def test_lost_then_position_2_answers_position_1_instead_of_offering() -> None:
    neg = connected(position=2)
    tick(neg, T0 + 10, last_rx=T0)
    neg.offer_received(2, "from position 1", T0 + 10.2)
    neg.answer_created(2)
    assert tick(neg, T0 + 10 + SECOND_OFFER_DELAY_S + 1) == []
    assert neg.link_open(2) == [LinkUp(2, reconnect=True)]


def test_link_failure_of_the_open_link_is_peer_lost() -> None:
    neg = connected(position=1)
    actions = neg.link_failed(1, "connection failed", T0 + 5)
    assert actions == [DropLink(), Status("peer_lost", "connection failed")]
    assert neg.offer_not_before == T0 + 5


def test_failure_of_a_link_not_open_is_left_to_the_tick() -> None:
    neg = offer_sent()
    assert neg.link_failed(1, "connection failed", T0 + 1) == []
    assert neg.phase is Phase.OFFER_SENT
    # ICE failed: replaced as soon as the offer timer allows, without waiting for a timeout.
    assert offers(tick(neg, T0 + OFFER_RETRY_S, ice="failed", local_sdp=False)) == [2]


def test_no_lost_while_the_peer_keeps_talking() -> None:
    neg = connected()
    for i in range(100):
        assert tick(neg, T0 + i, last_rx=T0 + i - 1) == []
    assert neg.phase is Phase.CONNECTED


# -- retries -------------------------------------------------------------------------------
def test_unanswered_offer_is_retried_every_offer_retry() -> None:
    neg = offer_sent(position=1)
    assert tick(neg, T0 + OFFER_RETRY_S - 0.1) == []
    actions = tick(neg, T0 + OFFER_RETRY_S)
    assert offers(actions) == [2] and NewLink(2) in actions
    neg.offer_created(2, T0 + OFFER_RETRY_S)
    assert tick(neg, T0 + 2 * OFFER_RETRY_S - 0.1) == []
    assert offers(tick(neg, T0 + 2 * OFFER_RETRY_S)) == [3]


def test_offer_timer_paces_retries_even_when_links_fail_at_once() -> None:
    neg = offer_sent(position=1)
    assert offers(tick(neg, T0 + 0.1, ice="failed")) == []  # the timer is not due yet
    assert offers(tick(neg, T0 + OFFER_RETRY_S, ice="failed")) == [2]


def test_answered_link_gets_the_negotiation_timeout_to_open() -> None:
    neg = offer_sent(position=1)
    neg.answer_received(1, "sdp")
    assert offers(tick(neg, T0 + NEGOTIATION_TIMEOUT_S - 0.1, ice="checking")) == []
    assert offers(tick(neg, T0 + NEGOTIATION_TIMEOUT_S, ice="checking")) == [2]


def test_being_answered_or_offering_is_never_interrupted() -> None:
    neg = offering(position=1)
    assert tick(neg, T0 + NEGOTIATION_TIMEOUT_S * 2) == []
    neg = joined(1, False)
    neg.peer_joined(T0)
    neg.offer_received(1, "sdp", T0)
    assert tick(neg, T0 + NEGOTIATION_TIMEOUT_S * 2) == []
    assert neg.phase is Phase.ANSWERING


def test_unscheduled_offer_position_2_defers_to_position_1() -> None:
    for position, delay in ((1, 0.0), (2, UNSCHEDULED_OFFER_DELAY_S)):
        neg = connected(position)
        neg.peer_left("")
        neg.peer_present = True  # present again without a peer_joined (e.g. a relay restart)
        neg.offer_received(5, "sdp", T0 + 20)
        neg.answer_created(5)
        assert neg.offer_not_before is None
        assert offers(tick(neg, T0 + 20.1, ice="failed")) == ([] if delay else [6])
        if delay:
            assert offers(tick(neg, T0 + 20.1 + delay, ice="failed")) == [6]


# -- bye, the relay, TURN ------------------------------------------------------------------
def test_peer_bye_drops_the_link_and_we_never_offer() -> None:
    neg = connected(position=1)
    assert neg.peer_bye("hangup") == [DropLink(), Status("waiting", "peer hung up (hangup)")]
    assert neg.phase is Phase.IDLE
    assert tick(neg, T0 + 100) == []
    assert neg.peer_left("") == [Status("waiting", "peer hung up; waiting for them to come back")]
    neg.peer_joined(T0 + 101)
    assert tick(neg, T0 + 200) == []
    # It comes back and offers: we answer, and a new link's ctl clears the bye.
    neg.offer_received(1, "sdp", T0 + 201)
    neg.answer_created(1)
    assert neg.link_open(1) == [LinkUp(1, reconnect=True)]
    assert not neg.peer_said_bye


def test_peer_bye_without_reason_says_bye() -> None:
    assert Negotiation().peer_bye("")[-1] == Status("waiting", "peer hung up (bye)")


def test_relay_events_while_connected_only_note() -> None:
    neg = connected()
    assert neg.relay_down("relay connection lost (1006)") == [
        Note("relay connection lost (1006); call continues peer-to-peer")
    ]
    assert neg.relay_retry("relay unreachable", 0.4) == []
    assert neg.relay_up() == []
    assert neg.joined(2, True, T0 + 5) == [Note("re-registered with the relay")]
    assert neg.peer_left("") == [
        Note("peer lost its relay connection; call continues peer-to-peer")
    ]
    assert neg.peer_joined(T0 + 6) == []
    assert neg.phase is Phase.CONNECTED and offers(tick(neg, T0 + 30, last_rx=T0 + 30)) == []


def test_relay_events_while_not_connected_change_the_state() -> None:
    neg = Negotiation()
    assert neg.relay_retry("relay unreachable", 0.25) == [
        Status("signaling", "relay unreachable; retrying in 0.2 s")
    ]
    assert neg.relay_down("relay closed the connection") == [
        Status("signaling", "relay closed the connection; reconnecting to the relay")
    ]


def test_peer_left_before_and_after_a_call() -> None:
    neg = joined(1, True)
    assert neg.peer_left("") == [Status("waiting", "waiting for the peer to join")]
    neg = connected()
    tick(neg, T0 + 10, last_rx=T0)
    assert neg.peer_left("timeout") == [Status("peer_lost", "peer left (timeout)")]
    assert neg.peer_left("") == [Status("peer_lost", "peer left (disconnected)")]
    assert neg.offer_not_before is None


def test_turn_hint_while_ice_is_still_checking() -> None:
    neg = offer_sent()
    neg.answer_received(1, "sdp")
    assert tick(neg, T0 + TURN_HINT_AFTER_S, ice="checking") == []
    assert tick(neg, T0 + TURN_HINT_AFTER_S + 0.1, ice="checking") == [CheckTurn(1)]
    assert tick(neg, T0 + TURN_HINT_AFTER_S + 0.1, ice="completed") == []
    assert tick(neg, T0 + TURN_HINT_AFTER_S + 0.1, ice="checking", local_sdp=False) == []
    # The hint does not depend on the relay or the peer being there.
    neg.peer_left("")
    assert tick(neg, T0 + 6, ice="checking", relay=False) == [CheckTurn(1)]


def test_probe_of_another_link_is_ignored() -> None:
    neg = offer_sent()
    stale = LinkProbe(gen=9, ice_state="failed")
    assert neg.tick(T0 + 0.1, relay_connected=True, last_rx=T0, probe=stale) == []
    assert neg.phase is Phase.OFFER_SENT
