"""The standing attack suite, short: every attack in :mod:`netlab.attacks` for about a second
against real parts (``scripts/attack.py`` runs them longer). Each attack is one of issue 15's
reproduced defects (or an existing fuzzer); each must hold."""

from __future__ import annotations

import pytest

from netlab.attacks import ATTACKS, run_attacks

pytestmark = pytest.mark.slow

#: Seconds per attack here: long enough to trip every limit, short for the suite's budget.
SHORT_S = 1.5


def test_the_suite_covers_the_issue_defects() -> None:
    assert {
        "relay_continuation_flood",
        "relay_ping_flood",
        "relay_room_flood",
        "relay_connection_flood",
        "relay_hostile_messages",
        "peer_hostile_client",
        "peer_pack_push",
        "fuzz_decoders",
    } <= set(ATTACKS)


@pytest.mark.asyncio
@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(ATTACKS))
async def test_attack_holds(name: str) -> None:
    [result] = await run_attacks(SHORT_S, [name])
    assert result.held, result.line()
