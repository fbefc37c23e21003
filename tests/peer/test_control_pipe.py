"""The networking process fed garbage on its control pipe keeps running and keeps obeying."""

from __future__ import annotations

import subprocess
import sys

import pytest

from protocol.events import Bye, Error, Ready, parse_event
from protocol.ring import ShmRing


@pytest.mark.timeout(60)
def test_peer_survives_garbage_commands() -> None:
    local, remote = ShmRing.create("local"), ShmRing.create("remote")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "peer", "--relay", "ws://127.0.0.1:9", "--room=" + "g" * 22,
             "--local-ring", local.name, "--remote-ring", remote.name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        assert isinstance(parse_event(proc.stdout.readline()), Ready)
        garbage = [
            "\x1b]52;c;ZXZpbA==\x07",
            "{" * 5000,
            '{"cmd": "chat"}',
            '{"cmd": "emotion", "preset": "x"}',
            '{"cmd": "teleport", "to": "mars"}',
            "\x00\xff",
        ]
        proc.stdin.write("\n".join(garbage) + '\n{"cmd": "chat", "text": "still there?"}\n')
        proc.stdin.flush()
        errors: list[str] = []
        while not any("chat not sent" in e for e in errors):
            event = parse_event(proc.stdout.readline())
            if isinstance(event, Error):
                assert not event.fatal
                errors.append(event.message)
        assert "ignored a bad command line" in errors[0]
        proc.stdin.close()  # EOF = quit
        rest = [parse_event(line) for line in proc.stdout]
        assert proc.wait(20) == 0 and rest[-1] == Bye()
    finally:
        local.close()
        remote.close()
