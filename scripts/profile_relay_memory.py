#!/usr/bin/env python3
"""Where an idle relay connection's memory goes: tracemalloc and object counts, in process.

``scripts/bench_relay.py`` gives one number (RSS growth per held connection); this script says
what it is made of, so a change to the per-connection state can be judged by what it removes.
The relay runs in this process (``serve_relay``) with tracemalloc on; the load is the bench's
own hold worker (``--worker-hold``: connections joined in pairs, idle), so the connections are
exactly the bench's. After they are all open it prints the RSS growth per connection, the
Python heap growth per connection (tracemalloc) and the object types whose counts grew, each
per connection; ``--sites`` adds the allocation sites and tracebacks that grew most (slow).

    python scripts/profile_relay_memory.py --connections 2000
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from collections import Counter
from pathlib import Path

import psutil
import trio

from relay.config import RelayConfig
from relay.server import RelayServer, serve_relay

REPO = Path(__file__).resolve().parent.parent

#: Frames kept per allocation traceback; deep enough to see which library line allocated.
TRACE_FRAMES = 6


def type_counts() -> Counter[str]:
    gc.collect()
    return Counter(type(o).__qualname__ for o in gc.get_objects())


async def profile(connections: int, top: int, settle: float, sites: bool) -> None:
    config = RelayConfig(port=0, max_conns_per_ip=10**6, max_connections=10**6,
                         conn_rate=1e6, conn_burst=10**6, room_rate=1e6, room_burst=10**6,
                         rate=1e6, burst=10**6, idle_timeout=3600, handshake_timeout=60)
    process = psutil.Process()
    async with trio.open_nursery() as nursery:
        server: RelayServer = await nursery.start(serve_relay, config)
        worker = await trio.lowlevel.open_process(
            [sys.executable, str(REPO / "scripts" / "bench_relay.py"), "--worker-hold",
             str(server.port), str(connections)],
            stdin=-1, stdout=-1)  # subprocess.PIPE
        assert worker.stdout is not None and worker.stdin is not None
        await trio.sleep(0.5)
        gc.collect()
        types0 = type_counts()
        snap0 = tracemalloc.take_snapshot() if sites else None
        traced0 = tracemalloc.get_traced_memory()[0]
        rss0 = process.memory_info().rss
        line = b""
        while not line.endswith(b"\n"):
            chunk = await worker.stdout.receive_some(4096)
            if not chunk:
                raise SystemExit("the hold worker died")
            line += chunk
        await trio.sleep(settle)  # the join replies flushed, first pings not yet due
        gc.collect()
        held = server.hub.connection_count
        rss1 = process.memory_info().rss
        traced1 = tracemalloc.get_traced_memory()[0]
        types1 = type_counts()
        n = max(held, 1)
        refused = {k: v for k, v in server.metrics.rejections.items() if v}
        print(f"held {held}: {line.decode().strip()}; refused meanwhile: {refused}")
        print(f"RSS growth per connection:         {(rss1 - rss0) / 1024 / n:7.2f} KB")
        traced = traced1 - traced0
        print(f"Python heap growth per connection: {traced / 1024 / n:7.2f} KB (tracemalloc)")
        print("\nobject types, count per connection:")
        grown = Counter({k: types1[k] - types0.get(k, 0) for k in types1})
        for name, count in grown.most_common(top):
            if count > 0:
                print(f"  {count / n:6.2f}  {name}")
        if snap0 is not None:  # slow: minutes for a few thousand connections
            snap1 = tracemalloc.take_snapshot()
            print(f"\nallocation sites, bytes per connection (top {top}):")
            for stat in snap1.compare_to(snap0, "lineno")[:top]:
                frame = stat.traceback[0]
                where = f"{Path(frame.filename).name}:{frame.lineno}"
                print(f"  {stat.size_diff / n:8.1f} B  {stat.count_diff / n:5.2f} blocks  "
                      f"{where}")
            print("\nlargest tracebacks (bytes per connection):")
            for stat in snap1.compare_to(snap0, "traceback")[:top // 2]:
                print(f"  {stat.size_diff / n:8.1f} B")
                for frame in stat.traceback.format()[-2 * TRACE_FRAMES:]:
                    print(f"      {frame}")
        await worker.stdin.aclose()
        await worker.wait()
        server.shutdown()
        await server.stopped.wait()
        nursery.cancel_scope.cancel()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--settle", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--sites", action="store_true",
                        help="also the allocation sites and tracebacks (slow)")
    args = parser.parse_args()
    tracemalloc.start(TRACE_FRAMES if args.sites else 1)
    trio.run(profile, args.connections, args.top, args.settle, args.sites)
    return 0


if __name__ == "__main__":
    sys.exit(main())
