"""A child run on its own (a quiet channel) logs its events for the person at the terminal;
an event's text may quote a peer or a relay, so the log line holds it printable: no escape
sequence, no second line, no bidi override."""

from __future__ import annotations

import logging

import pytest

from protocol.channel import ChildChannel
from protocol.events import Error, Status

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

HOSTILE = "peer says \x1b[2J\nfake line \u202eevil 안녕"


@pytest.mark.parametrize("event", [Status(state="connected", message=HOSTILE), Error(HOSTILE)])
def test_a_quiet_channel_logs_event_text_printable(
    event: Status | Error, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="protocol.channel")
    ChildChannel(commands_in=[], quiet=True).emit(event)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "protocol.channel"]
    assert line == f"{event.KIND}: peer says \ufffd[2J\ufffdfake line \ufffdevil 안녕"
