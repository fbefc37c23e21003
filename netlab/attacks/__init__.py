"""The standing attack suite: what issue 15's attacker did, kept as code that runs again.

Each attack runs against real parts (a relay process on a real port, a real ``avatarchat call``
client, real aiortc peers) for a given number of seconds and returns an :class:`AttackResult`:
whether the target held, and the figures that say so. The test suite runs every attack briefly
(``tests/attack``); ``scripts/attack.py`` runs them longer and prints what held.
"""

from __future__ import annotations

from .base import ATTACKS, Attack, AttackResult, attack
from .suite import run_attacks

__all__ = ["ATTACKS", "Attack", "AttackResult", "attack", "run_attacks"]
