"""A minimal child that follows the child contract and writes frames into a ring.

Used by the supervisor tests to exercise spawning, events, commands, crash/restart and
shutdown independently of MediaPipe start-up time. Run as ``python ring_writer_child.py RING HZ``.
"""

from __future__ import annotations

import os
import select
import sys
import time

from protocol.commands import Quit, parse_command
from protocol.events import Bye, Ready, Status
from protocol.frame import ParamFrame
from protocol.ring import ShmRing


def main() -> int:
    ring = ShmRing.attach(sys.argv[1])
    period = 1.0 / float(sys.argv[2])
    writer = ring.writer()
    sys.stdout.write(Ready(info={"ring": ring.name, "pid": os.getpid()}).encode())
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
            cmd = parse_command(line)
            if isinstance(cmd, Quit):
                break
            sys.stdout.write(Status(state="ack", message=cmd.KIND).encode())
            sys.stdout.flush()
            continue
        frame = ParamFrame.from_weights(seq, time.monotonic_ns() // 1000, [0.5] * 52)
        writer.write(frame.encode())
        seq += 1
        next_t += period
    writer.close()
    sys.stdout.write(Bye().encode())
    sys.stdout.flush()
    ring.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
