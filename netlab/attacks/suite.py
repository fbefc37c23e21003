"""Run registered attacks one after another (each starts and stops its own targets)."""

from __future__ import annotations

import logging

from . import fuzz, peer_attacks, relay_attacks  # noqa: F401 - registers the attacks
from .base import ATTACKS, AttackResult

log = logging.getLogger(__name__)


async def run_attacks(seconds: float, only: list[str] | None = None) -> list[AttackResult]:
    """Every attack (or those named in ``only``) for ``seconds`` each; an attack that raises
    did not hold (the exception is its detail)."""
    results: list[AttackResult] = []
    for name, run in ATTACKS.items():
        if only and name not in only:
            continue
        try:
            result = await run(seconds)
        except Exception as e:
            log.exception("attack %s raised", name)
            result = AttackResult(name, False, f"the attack itself failed: {type(e).__name__}: {e}")
        results.append(result)
    return results
