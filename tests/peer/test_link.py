"""PeerLink on its own: two real aiortc connections on this host, no relay."""

from __future__ import annotations

import asyncio

from aiortc import RTCConfiguration

from peer.connection import PeerLink

CONNECT_TIMEOUT_S = 20.0  # generous: 2-core CI, ICE over host candidates only


def test_candidate_pair_survives_close() -> None:
    """Stats written while a call tears down still name the path the call used.

    aioice clears its nominated pair on close; before PeerLink kept the last pair, the final
    stats of some soak calls said ``None`` instead of ``host``.
    """

    async def scenario() -> None:
        both_open = asyncio.Event()
        opened: list[PeerLink] = []

        def on_open(link: PeerLink) -> None:
            opened.append(link)
            if len(opened) == 2:
                both_open.set()

        def make(gen: int) -> PeerLink:
            return PeerLink(
                gen,
                RTCConfiguration(iceServers=[]),
                on_params=lambda _b: None,
                on_ctl=lambda _b: None,
                on_open=on_open,
                on_failed=lambda _link, _reason: None,
            )

        offerer, answerer = make(1), make(1)
        try:
            assert offerer.candidate_pair() is None  # nothing nominated yet
            answer = await answerer.accept_offer(await offerer.create_offer())
            await offerer.accept_answer(answer)
            await asyncio.wait_for(both_open.wait(), CONNECT_TIMEOUT_S)
            live = offerer.candidate_pair()
            assert live is not None and live["type"] == "host"
        finally:
            await offerer.close()
            await answerer.close()
        assert offerer.candidate_pair() == live

    asyncio.run(scenario())
