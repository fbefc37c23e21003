#!/usr/bin/env python3
"""Benchmark the signaling relay on loopback: held connections, memory, setup latency, throughput.

The relay runs as its own process (``python -m relay``), so psutil measures its RSS and CPU
alone; the load comes from this process (asyncio + ``websockets``) and, for the held
connections, from ``--generators`` worker processes. Phases:

1. setup latency: ``--setups`` room setups at a steady ``--setup-rate`` per second, each timed
   from the first peer's TCP connect to the first peer receiving the answer (both joined,
   peer_joined, offer relayed, answer relayed);
2. msgs_per_s: ``--pairs`` rooms (spread over the ``--generators`` workers) exchange ICE-sized
   frames through the relay for ``--seconds``, windowed below the relay's send queue so nobody
   counts as a slow consumer; the relay is one trio thread, so this is one core's worth (the
   relay's CPU share is reported next to it);
3. connections_held: ``--connections`` idle WebSockets (joined in pairs) opened and held;
   RSS growth over them gives ``rss_kb_per_connection``; the relay's own /metrics gauge
   confirms the count.

    python scripts/bench_relay.py --json out/bench_relay.json            # full (10,000 held)
    python scripts/bench_relay.py --connections 2000 --setups 200 --seconds 3   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from websockets.asyncio.client import ClientConnection, connect

from netlab.relay_process import metric, scrape, start_relay
from protocol.stats import percentile, rounded

#: A realistic aiortc offer is 1-3 KB; the bench uses 2 KB so JSON parsing costs what it would.
SDP = "v=0\r\n" + "a=candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host\r\n" * 36
#: An ICE frame as clients send it (~150 bytes).
ICE = json.dumps({"v": 1, "type": "ice", "candidate":
                  "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr "
                  "0.0.0.0 rport 0 generation 0", "sdp_mid": "0", "sdp_mline_index": 0})
#: Frames in flight per direction per pair: well under the relay's send queue (32).
WINDOW = 8
#: Concurrent handshakes while opening the held connections (the listen backlog is 4096).
OPEN_CONCURRENCY = 256
#: Descriptors a relay process needs besides its connections (listener, epoll, wakeup pipes,
#: stdio) and for the /metrics scrapes: a relay at its open-files limit cannot accept those.
FD_RESERVE = 100


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def room() -> str:
    return secrets.token_urlsafe(16)


async def open_ws(port: int, code: str) -> ClientConnection:
    return await connect(f"ws://127.0.0.1:{port}/ws?room={code}", compression=None,
                         ping_interval=None, max_size=2**20, open_timeout=60)


async def join(ws: ClientConnection, code: str) -> dict[str, Any]:
    await ws.send(json.dumps({"v": 1, "type": "join", "room": code, "client": "bench"}))
    reply: dict[str, Any] = json.loads(await ws.recv())
    if reply["type"] != "joined":
        raise RuntimeError(f"join refused: {reply}")
    return reply


# -- phase 1: setup latency ---------------------------------------------------------------------
async def one_setup(port: int) -> float:
    code = room()
    start = time.perf_counter()
    a = await open_ws(port, code)
    b = None
    try:
        await join(a, code)
        b = await open_ws(port, code)
        await join(b, code)
        assert json.loads(await a.recv())["type"] == "peer_joined"
        await a.send(json.dumps({"v": 1, "type": "offer", "sdp": SDP, "gen": 1}))
        assert json.loads(await b.recv())["type"] == "offer"
        await b.send(json.dumps({"v": 1, "type": "answer", "sdp": SDP, "gen": 1}))
        assert json.loads(await a.recv())["type"] == "answer"
        return (time.perf_counter() - start) * 1000
    finally:
        await a.close()
        if b is not None:
            await b.close()


async def setup_latency(port: int, count: int, rate: float) -> list[float]:
    tasks = []
    t0 = time.perf_counter()
    for i in range(count):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one_setup(port)))
    return list(await asyncio.gather(*tasks))


# -- phase 2: relayed messages per second (worker processes) -------------------------------------
async def pingpong_worker(port: int, pairs: int, seconds: float) -> None:
    """Run ``pairs`` rooms exchanging windows of ICE frames; print the count relayed."""
    conns = []
    for _ in range(pairs):
        code = room()
        a, b = await open_ws(port, code), await open_ws(port, code)
        await join(a, code)
        await join(b, code)
        await a.recv()  # peer_joined
        conns.append((a, b))
    print(json.dumps({"ready": True}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # go
    count = 0
    stop = asyncio.Event()

    async def ping_pong(x: ClientConnection, y: ClientConnection) -> None:
        nonlocal count
        while not stop.is_set():
            for sender, receiver in ((x, y), (y, x)):
                for _ in range(WINDOW):
                    await sender.send(ICE)
                for _ in range(WINDOW):
                    await receiver.recv()
                count += WINDOW

    tasks = [asyncio.create_task(ping_pong(a, b)) for a, b in conns]
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    done, elapsed = count, time.perf_counter() - t0
    stop.set()
    await asyncio.gather(*tasks)
    print(json.dumps({"count": done, "elapsed": elapsed}), flush=True)
    await asyncio.gather(*(ws.close() for pair in conns for ws in pair))


def throughput(port: int, pairs: int, seconds: float, generators: int,
               relay: psutil.Process) -> tuple[float, float]:
    """Relayed frames per second over all workers, and the relay's CPU share meanwhile."""
    workers = [subprocess.Popen([sys.executable, __file__, "--worker-pingpong", str(port),
                                 str(max(1, pairs // generators)), str(seconds)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for _ in range(generators)]
    for w in workers:
        assert w.stdout is not None
        json.loads(w.stdout.readline())  # ready
    cpu0, t0 = relay.cpu_times(), time.perf_counter()
    for w in workers:
        assert w.stdin is not None
        w.stdin.write("go\n")
        w.stdin.flush()
    reports = []
    for w in workers:
        assert w.stdout is not None
        reports.append(json.loads(w.stdout.readline()))
    cpu1, elapsed = relay.cpu_times(), time.perf_counter() - t0
    for w in workers:
        w.wait(60)
    rate = sum(r["count"] / r["elapsed"] for r in reports)
    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / elapsed
    return rate, cpu


# -- phase 3: held connections (worker processes) -------------------------------------------------
async def hold_worker(port: int, count: int) -> None:
    """Open ``count`` connections joined in pairs, print how many, hold until stdin closes."""
    raise_fd_limit()
    sem = asyncio.Semaphore(OPEN_CONCURRENCY)
    held: list[ClientConnection] = []
    failures = 0

    async def pair() -> None:
        nonlocal failures
        code = room()
        async with sem:
            try:
                for _ in range(2):
                    ws = await open_ws(port, code)
                    held.append(ws)
                    await join(ws, code)
            except Exception as e:  # a refused or failed connection is counted, not fatal
                failures += 1
                if failures <= 3:
                    print(f"connection failed: {e!r}", file=sys.stderr)

    await asyncio.gather(*(pair() for _ in range(count // 2)))
    print(json.dumps({"held": len(held), "failures": failures}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)


def rejections(port: int) -> dict[str, int]:
    """The relay's refusals by reason: a healthy run has none beyond 'none'."""
    out = {}
    for line in scrape(port).splitlines():
        if line.startswith("avatarchat_relay_rejections_total{"):
            reason = line.split('"')[1]
            if reason != "none":
                out[reason] = int(line.split()[-1])
    return out


def held_connections(port: int, total: int, generators: int, relay: psutil.Process,
                     hold_s: float) -> tuple[int, float, float]:
    rss0 = relay.memory_info().rss
    per = [total // generators + (1 if i < total % generators else 0) for i in range(generators)]
    workers = [subprocess.Popen([sys.executable, __file__, "--worker-hold", str(port), str(n)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for n in per if n]
    try:
        for w in workers:
            assert w.stdout is not None
            line = w.stdout.readline()
            if not line:
                raise RuntimeError("a load worker died")
            report = json.loads(line)
            if report["failures"]:
                print(f"  worker: {report['failures']} pair(s) failed", file=sys.stderr)
        cpu0, t0 = relay.cpu_times(), time.perf_counter()
        time.sleep(hold_s)  # hold them idle: heartbeats and timers keep running
        cpu1, elapsed = relay.cpu_times(), time.perf_counter() - t0
        idle_cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / elapsed
        held = metric(port, "avatarchat_relay_connections")
        rss1 = relay.memory_info().rss
    finally:
        for w in workers:
            if w.stdin:
                w.stdin.close()
        for w in workers:
            w.wait(120)
    return held, (rss1 - rss0) / 1024 / max(held, 1), idle_cpu


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker-hold":
        asyncio.run(hold_worker(int(sys.argv[2]), int(sys.argv[3])))
        return 0
    if len(sys.argv) == 5 and sys.argv[1] == "--worker-pingpong":
        asyncio.run(pingpong_worker(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=10_000,
                        help="idle connections to open and hold")
    parser.add_argument("--generators", type=int, default=2,
                        help="load worker processes (held connections and throughput)")
    parser.add_argument("--hold", type=float, default=30.0,
                        help="seconds to hold them (about one 30 s ping interval)")
    parser.add_argument("--setups", type=int, default=500, help="room setups to time")
    parser.add_argument("--setup-rate", type=float, default=50.0, help="room setups per second")
    parser.add_argument("--pairs", type=int, default=50, help="rooms in the throughput phase")
    parser.add_argument("--seconds", type=float, default=5.0, help="throughput phase length")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    limit = raise_fd_limit()  # the relay lifts its own soft limit to the same hard limit
    if args.connections > limit - FD_RESERVE:
        # Past it the relay stops accepting (EMFILE) and the run hangs until timeouts; raising
        # the hard limit needs CAP_SYS_RESOURCE (ulimit -Hn as root, or LimitNOFILE=).
        most = (limit - FD_RESERVE) // 2 * 2
        print(f"open-files limit {limit}: one relay process can hold at most {most} "
              f"connections here; holding {most} (connections_requested says what was asked)",
              file=sys.stderr)
    held_target = min(args.connections, (limit - FD_RESERVE) // 2 * 2)
    # Rates off too: the bench measures the relay, not its per-connection flood limits.
    proc, port = start_relay("--rate", "1000000", "--burst", "1000000", "--idle-timeout", "3600")
    relay = psutil.Process(proc.pid)
    try:
        print(f"relay pid {proc.pid} on port {port}", file=sys.stderr)
        cpu0, t0 = relay.cpu_times(), time.perf_counter()
        setups = asyncio.run(setup_latency(port, args.setups, args.setup_rate))
        cpu1, setup_wall = relay.cpu_times(), time.perf_counter() - t0
        setup_cpu_ms = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) * 1000 / len(setups)
        rate, cpu = throughput(port, args.pairs, args.seconds, args.generators, relay)
        held, rss_kb, idle_cpu = held_connections(port, held_target, args.generators, relay,
                                                  args.hold)
        results = {
            "connections_held": held,
            "connections_requested": args.connections,
            "rss_kb_per_connection": round(rss_kb, 2),
            "relay_rss_mb": round(relay.memory_info().rss / 2**20, 1),
            # Heartbeats of the held connections (one ping per --ping-interval each).
            "relay_cpu_while_holding": round(idle_cpu, 3),
            "setup_ms_p50": rounded(percentile(setups, 50), 2),
            "setup_ms_p99": rounded(percentile(setups, 99), 2),
            "setups": len(setups),
            "setup_rate_per_s": args.setup_rate,
            # Both of these say whether the machine kept up: the achieved rate, and the relay's
            # own CPU per setup (2 handshakes, 2 joins, offer + answer relayed).
            "setup_rate_achieved": round(len(setups) / setup_wall, 1),
            "relay_cpu_ms_per_setup": round(setup_cpu_ms, 2),
            "msgs_per_s": round(rate),
            # The relay is one trio thread; below 1.0 the load generators were the limit and
            # msgs_per_s / relay_cpu_during_msgs estimates a saturated core.
            "relay_cpu_during_msgs": round(cpu, 2),
            "msgs_per_relay_cpu_s": round(rate / cpu) if cpu > 0 else None,
            "cpu_count": os.cpu_count(),
            "relay_rejections": rejections(port),
        }
    finally:
        proc.terminate()  # SIGTERM: the relay's graceful shutdown
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            print("relay did not stop within 60 s of SIGTERM; killing it", file=sys.stderr)
            proc.kill()
            proc.wait(10)
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
