#!/usr/bin/env python3
"""What the relay keeps after a crowd leaves: RSS after N clients connect, join and go.

Issue 15 (defect 12) saw 206 MB RSS after 5,000 clients left. This script measures it: a
``python -m relay`` process (all per-address rates off: the load is one address),
``--clients`` WebSockets opened, joined in pairs and closed, ``--rounds`` times, and the
relay's RSS held, one second after the crowd left, and ``--settle`` seconds later (after the
relay's own reclaim, relay/memory.py, which explains the figures).

    python scripts/relay_rss.py                  # 5,000 clients, 2 rounds
    python scripts/relay_rss.py --clients 2000 --rounds 1 --json out/relay_rss.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import secrets
import subprocess
import sys
import time
from pathlib import Path

import psutil
from websockets.asyncio.client import ClientConnection, connect

from netlab.relay_process import metric, start_relay

OPEN_CONCURRENCY = 200


async def crowd(port: int, clients: int) -> list[ClientConnection]:
    """Open ``clients`` connections joined in pairs; return them (held)."""
    sem = asyncio.Semaphore(OPEN_CONCURRENCY)
    held: list[ClientConnection] = []

    async def pair() -> None:
        code = secrets.token_urlsafe(16)
        async with sem:
            for _ in range(2):
                ws = await connect(f"ws://127.0.0.1:{port}/ws?room={code}", compression=None,
                                   ping_interval=None, open_timeout=60)
                held.append(ws)
                await ws.send(json.dumps({"v": 1, "type": "join", "room": code}))
                reply = json.loads(await ws.recv())
                if reply["type"] != "joined":
                    raise RuntimeError(reply)

    await asyncio.gather(*(pair() for _ in range(clients // 2)))
    return held


def wait_for_connections(port: int, want: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while metric(port, "avatarchat_relay_connections") != want:
        if time.monotonic() > deadline:
            raise RuntimeError(f"relay still has connections, wanted {want}")
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--settle", type=float, default=25.0,
                        help="seconds to wait after the crowd left (the relay reclaims after "
                        "two 10 s samples show it gone)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--relay-log", type=Path, help="write the relay's log here")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    relay_log = args.relay_log.open("w") if args.relay_log else subprocess.DEVNULL
    proc, port = start_relay(stderr=relay_log)
    relay = psutil.Process(proc.pid)

    def rss_mb() -> float:
        return round(float(relay.memory_info().rss) / 2**20, 1)

    results: dict[str, object] = {"clients": args.clients, "rss_mb_start": rss_mb()}

    async def rounds() -> None:
        for n in range(1, args.rounds + 1):
            held = await crowd(port, args.clients)
            await asyncio.to_thread(wait_for_connections, port, args.clients)
            results[f"rss_mb_held_{n}"] = rss_mb()
            await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)
            await asyncio.to_thread(wait_for_connections, port, 0)
            await asyncio.sleep(1.0)
            results[f"rss_mb_after_leave_{n}"] = rss_mb()
            await asyncio.sleep(args.settle)  # the relay's Reclaimer (relay/memory.py) runs
            results[f"rss_mb_settled_{n}"] = rss_mb()

    try:
        asyncio.run(rounds())
    finally:
        proc.terminate()
        proc.wait(60)
    for key, value in results.items():
        print(f"{key:<28} {value}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
