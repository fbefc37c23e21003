"""A ``Call`` with no processes whose ``send`` records (child, command): the routing tests
feed ``Call._route`` events and read what the call would have told each child."""

from __future__ import annotations

from call import Call
from protocol.commands import Command

Routed = tuple[Call, list[tuple[str, Command]]]
