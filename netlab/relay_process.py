"""A relay process for the relay benchmarks (``scripts/bench_relay.py``, ``relay_rss.py``).

All their load comes from 127.0.0.1, so the per-address caps and rates (which exist to stop one
address hogging a public relay) are lifted; the port is the one the relay's ``ready`` event
reports. ``/metrics`` is read back with :func:`metric`.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import IO

from protocol.events import Ready, parse_event

REPO = Path(__file__).resolve().parent.parent
#: Every per-address and per-process limit out of the way of a load generator on loopback.
UNLIMITED = [
    "--max-conns-per-ip",
    "1000000",
    "--max-connections",
    "1000000",
    "--conn-rate",
    "1000000",
    "--conn-burst",
    "1000000",
    "--room-rate",
    "1000000",
    "--room-burst",
    "1000000",
    "--handshake-timeout",
    "60",
]


def start_relay(
    *extra: str, stderr: IO[str] | int = subprocess.DEVNULL
) -> tuple[subprocess.Popen[str], int]:
    """``python -m relay --port 0`` with :data:`UNLIMITED` and ``extra``; (process, port)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "relay", "--port", "0", *UNLIMITED, *extra],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    assert proc.stdout is not None
    ready = parse_event(proc.stdout.readline())
    if not isinstance(ready, Ready):
        raise SystemExit(f"relay did not start: {ready}")
    return proc, int(ready.info["port"])


def scrape(port: int) -> str:
    """The relay's Prometheus text."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as reply:
        return str(reply.read().decode())


def metric(port: int, name: str) -> int:
    """One unlabelled counter or gauge from ``/metrics``."""
    for line in scrape(port).splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    raise KeyError(name)
