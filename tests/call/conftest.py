"""Fixtures shared by the call tests."""

from __future__ import annotations

import pytest

from call import Call, CallConfig
from protocol.commands import Command

from .routed import Routed


@pytest.fixture
def call(monkeypatch: pytest.MonkeyPatch) -> Routed:
    """A call routed in-process (see :mod:`tests.call.routed`), its relay never dialled."""
    sent: list[tuple[str, Command]] = []
    c = Call(CallConfig(room="routingRoom0123456789", relay="ws://127.0.0.1:1", window=True))

    def send(child: str, command: Command) -> bool:
        sent.append((child, command))
        return True

    monkeypatch.setattr(c, "send", send)
    return c, sent
