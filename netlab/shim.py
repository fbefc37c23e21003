"""Delay/jitter shim for the network lab: a TUN device that holds each packet, then returns it.

Why a TUN and not a UDP proxy: WebRTC peers talk to each other's host candidates directly, so a
proxy would need them to address it. Instead ``netlab.routed`` policy-routes every packet the
middle namespace forwards into this TUN; the shim writes it back after ``delay +- jitter`` and
the kernel routes it on to its real destination. Each packet's delay is drawn independently
(uniform in [delay - jitter, delay + jitter], or normal with sigma = jitter), so jitter may
reorder packets as on a real path. Loss is not done here (iptables -m statistic does it).

Run inside the middle namespace (netlab does it): ``python -m netlab.shim --tun shim0``.
Control: JSON lines on stdin (``{"cmd": "set", "delay_ms": 40, "jitter_ms": 10}``,
``{"cmd": "stats"}``, ``{"cmd": "quit"}``), JSON event lines on stdout (ready/set/stats).
EOF on stdin also ends it, so it never outlives its parent.
"""

from __future__ import annotations

import argparse
import collections
import fcntl
import heapq
import json
import os
import random
import select
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
#: Larger than any MTU used in the lab (veths default to 1500).
MAX_PACKET = 65535
#: Bound on packets held at once: at 40 ms and the lab's rates this is never near; it keeps a
#: flood from growing memory without limit (excess is dropped, as a full router queue would).
MAX_QUEUE = 20000
#: SCHED_FIFO priority: low among real-time ones (kernel threads keep theirs), above all normal.
RT_PRIORITY = 10
#: Lateness samples kept for the percentile in ``stats`` (the most recent ones).
LATE_SAMPLES = 20000


def emit(event: str, **fields: object) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    # Reverse-path filtering would drop what we write back (its sources route via the veths).
    subprocess.run(["sysctl", "-q", "-w", f"net.ipv4.conf.{name}.rp_filter=0"], check=True)
    return fd


def realtime_priority() -> str:
    """Run ahead of everything else on the box: a starved shim would hold packets longer than
    asked (and batch them), which would be blamed on the call. It uses ~no CPU (a few hundred
    packets/s), so SCHED_FIFO cannot starve anything. Falls back to nice -10, then nothing."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
        return "fifo"
    except (AttributeError, PermissionError, OSError):
        pass
    try:
        os.nice(-10)
        return "nice"
    except (PermissionError, OSError):
        return "normal"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tun", default="shim0")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    fd = open_tun(args.tun)
    sched = realtime_priority()
    late_ms: collections.deque[float] = collections.deque(maxlen=LATE_SAMPLES)
    late_max = 0.0
    delay_s, jitter_s, dist = 0.0, 0.0, "uniform"
    heap: list[tuple[float, int, bytes]] = []
    seq = forwarded = dropped = 0
    emit("ready", tun=args.tun, sched=sched)
    stdin = sys.stdin.fileno()
    while True:
        timeout = max(0.0, heap[0][0] - time.monotonic()) if heap else 1.0
        readable, _, _ = select.select([fd, stdin], [], [], timeout)
        if stdin in readable:
            line = sys.stdin.readline()
            if not line:
                return 0
            cmd = json.loads(line)
            if cmd.get("cmd") == "quit":
                return 0
            if cmd.get("cmd") == "set":
                delay_s = float(cmd.get("delay_ms", 0)) / 1000
                jitter_s = float(cmd.get("jitter_ms", 0)) / 1000
                dist = str(cmd.get("dist", "uniform"))
                emit("set", delay_ms=delay_s * 1000, jitter_ms=jitter_s * 1000, dist=dist)
            elif cmd.get("cmd") == "stats":
                ordered = sorted(late_ms)
                p99 = ordered[int(0.99 * (len(ordered) - 1))] if ordered else 0.0
                emit(
                    "stats",
                    forwarded=forwarded,
                    dropped=dropped,
                    queued=len(heap),
                    late_ms_p99=round(p99, 3),
                    late_ms_max=round(late_max, 3),
                    sched=sched,
                )
        if fd in readable:
            # Drain what is there now; each packet gets its own due time.
            for _ in range(256):
                try:
                    pkt = os.read(fd, MAX_PACKET)
                except BlockingIOError:
                    break
                if len(heap) >= MAX_QUEUE:
                    dropped += 1
                    continue
                if dist == "normal":
                    d = rng.gauss(delay_s, jitter_s)
                else:
                    d = delay_s + rng.uniform(-jitter_s, jitter_s)
                heapq.heappush(heap, (time.monotonic() + max(0.0, d), seq, pkt))
                seq += 1
        now = time.monotonic()
        while heap and heap[0][0] <= now:
            due, _, pkt = heapq.heappop(heap)
            # How much later than asked this packet leaves: proves the delay is what was set.
            late = (time.monotonic() - due) * 1000
            late_ms.append(late)
            late_max = max(late_max, late)
            try:
                os.write(fd, pkt)
                forwarded += 1
            except OSError:
                dropped += 1


if __name__ == "__main__":
    sys.exit(main())
