"""A minimal child that follows the child contract and writes frames into a ring.

Used by the supervisor tests to exercise spawning, events, commands, crash/restart and
shutdown independently of MediaPipe start-up time. Run as ``python ring_writer_child.py RING HZ``.
"""

from __future__ import annotations

import os
import select
import sys
import time

from protocol.control import event_line, parse_line
from protocol.frame import ParamFrame
from protocol.ring import ShmRing


def main() -> int:
    ring = ShmRing.attach(sys.argv[1])
    period = 1.0 / float(sys.argv[2])
    writer = ring.writer()
    sys.stdout.write(event_line("ready", ring=ring.name, pid=os.getpid()))
    sys.stdout.flush()
    seq = 0
    next_t = time.monotonic()
    while True:
        timeout = max(0.0, next_t - time.monotonic())
        readable, _, _ = select.select([sys.stdin], [], [], timeout)
        if readable:
            line = sys.stdin.readline()
            if not line:
                break
            cmd = parse_line(line, "cmd")
            if cmd["cmd"] == "quit":
                break
            sys.stdout.write(event_line("ack", cmd=cmd["cmd"]))
            sys.stdout.flush()
            continue
        frame = ParamFrame.from_weights(seq, time.monotonic_ns() // 1000, [0.5] * 52)
        writer.write(frame.encode())
        seq += 1
        next_t += period
    writer.close()
    sys.stdout.write(event_line("bye"))
    sys.stdout.flush()
    ring.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
