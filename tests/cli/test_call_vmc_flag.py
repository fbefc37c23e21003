"""``avatarchat call --vmc-to``: the call's VMC sender is one flag away, and a bad address is
refused before anything starts (no relay, no children), with the form it should take."""

from __future__ import annotations

import subprocess
import sys


def test_a_bad_vmc_address_is_refused_before_the_call_starts() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "call", "--vmc-to", "nonsense", "--source", "synthetic"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "VMC address 'nonsense' must look like HOST:PORT" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_flag_is_in_the_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "call", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert "--vmc-to HOST:PORT" in proc.stdout
