"""An attack's result and the registry every attack module adds itself to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class AttackResult:
    """``held``: the target survived as it should (cut the attacker off, refused, counted);
    ``figures``: what was measured; ``detail``: one line a person reads."""

    name: str
    held: bool
    detail: str
    figures: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        mark = "held " if self.held else "BROKE"
        figures = ", ".join(f"{k}={v}" for k, v in self.figures.items())
        return f"{mark}  {self.name:<24} {self.detail}" + (f"  [{figures}]" if figures else "")


#: An attack: ``seconds`` is its budget (short in the tests, longer in the script).
Attack = Callable[[float], Awaitable[AttackResult]]
#: Every attack by name, in the order they are defined (relay, peer, fuzzers).
ATTACKS: dict[str, Attack] = {}


def attack(name: str) -> Callable[[Attack], Attack]:
    """Register an attack under ``name``."""

    def register(fn: Attack) -> Attack:
        if name in ATTACKS:
            raise ValueError(f"attack {name!r} registered twice")
        ATTACKS[name] = fn
        return fn

    return register
