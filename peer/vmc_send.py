"""``python -m peer.vmc_send --ring NAME --to HOST:PORT``: our tracking, out as VMC.

Reads the *local* ring (our own tracker's frames, as the networking process and the window do)
and sends one OSC bundle per new frame (:class:`protocol.vmc.BundleEncoder`) over UDP to the one
address the user gave - nowhere else, and nothing comes back in.

Why a process of its own, in ``peer/``: it is networking, and ARCHITECTURE keeps networking in
the networking package (``tracking/`` talks to nothing but its sources). Why not inside the
call's networking process: the same small process serves both uses - ``avatarchat vmc send``
(the tracker and this, no call, started by :mod:`call.vmc`) and the TUI setting "also send my
tracking to VMC" (:class:`call.Call` starts it as a fourth child) - so there is one sender to
test, and a fault in it (a bad address, a full socket buffer) can never touch the call's link.
It costs one small Python process that imports no aiortc and no MediaPipe.

This leaves the call's privacy model on purpose: VMC is plain, unencrypted UDP. The front-ends
say so where the user turns it on.

Child contract (``protocol.control``): ``ready`` (info: ``to``, ``ring``), ``stats`` once a
second (``vmc_sent``, ``vmc_send_errors``, ``vmc_bytes_per_frame``, ``vmc_send_hz``, ``cpu``),
``error``, ``bye``; ``quit`` (and stdin EOF, SIGTERM) ends it. A bad address exits 2.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import threading
import time

from protocol.channel import ChildChannel, private_stdout, stop_on_signals
from protocol.commands import Quit
from protocol.errors import DecodeError, RingError
from protocol.events import Bye, Error, Ready, Stats
from protocol.frame import ParamFrame
from protocol.ring import RingReader, ShmRing
from protocol.stats import CpuMeter
from protocol.vmc import BundleEncoder, parse_target

log = logging.getLogger(__name__)

EXIT_USAGE = 2
STATS_INTERVAL_S = 1.0


class VmcSender:
    """A UDP socket to one VMC receiver and the encoder. ``send`` never raises for the
    network: an unreachable receiver is counted, and the next frame tries again."""

    def __init__(self, host: str, port: int) -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except socket.gaierror as e:
            raise ValueError(f"cannot resolve {host!r}: {e.strerror}") from e
        family, kind, proto, _name, address = infos[0]
        self.sock = socket.socket(family, kind, proto)
        self.sock.setblocking(False)
        self.sock.connect(address)
        self.target = f"{host}:{port}"
        self.encoder = BundleEncoder()
        self.started = time.monotonic()
        self.sent = 0
        self.errors = 0
        self.bytes = 0

    def send(self, frame: ParamFrame) -> int:
        """Encode and send one frame's bundle; returns the bytes sent (0 if it failed)."""
        data = self.encoder.encode(frame, time.monotonic() - self.started)
        try:
            self.sock.send(data)
        except OSError as e:  # refused (nobody listens yet), buffer full, network down
            self.errors += 1
            log.debug("VMC send to %s failed: %s", self.target, e)
            return 0
        self.sent += 1
        self.bytes += len(data)
        return len(data)

    def close(self) -> None:
        self.sock.close()


class SendLoop:
    """Local ring -> :class:`VmcSender`, woken by the ring after every write."""

    def __init__(
        self, reader: RingReader, sender: VmcSender, channel: ChildChannel, stop: threading.Event
    ) -> None:
        self.reader = reader
        self.sender = sender
        self.channel = channel
        self.stop = stop
        self.cpu = CpuMeter()
        self._last_sent = 0
        self._last_bytes = 0
        self._last_t = time.monotonic()

    def run(self) -> None:
        next_stats = time.monotonic() + STATS_INTERVAL_S
        while not self.stop.is_set() and not self.channel.broken:
            for command in self.channel.pending():
                if isinstance(command, Quit):
                    self.stop.set()
            if self.reader.wait(0.2):
                self.pump()
            if time.monotonic() >= next_stats:
                self.emit_stats()
                next_stats = time.monotonic() + STATS_INTERVAL_S

    def pump(self) -> None:
        """Send the newest frame, if there is one we have not sent."""
        try:
            record = self.reader.read_latest()
        except (RingError, ValueError) as e:
            log.warning("local ring read failed: %s", e)
            return
        if record is None:
            return
        try:
            frame = ParamFrame.decode(record.payload)
        except DecodeError as e:  # our own tracker wrote it: a bug, but not worth dying for
            log.warning("skipping an undecodable local frame: %s", e)
            return
        self.sender.send(frame)

    def emit_stats(self) -> None:
        now = time.monotonic()
        s = self.sender
        frames = s.sent - self._last_sent
        elapsed = now - self._last_t
        values = {
            "vmc_to": s.target,
            "vmc_sent": s.sent,
            "vmc_send_errors": s.errors,
            "vmc_send_hz": round(frames / elapsed, 2) if elapsed > 0 else 0.0,
            "vmc_bytes_per_frame": round((s.bytes - self._last_bytes) / frames) if frames else 0,
            "cpu": round(self.cpu.sample(), 2),
        }
        self._last_sent, self._last_bytes, self._last_t = s.sent, s.bytes, now
        self.channel.emit(Stats(t=round(now, 6), values=values))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m peer.vmc_send",
        description="Send our tracking (the local ring) as VMC (OSC over UDP) to one address.",
    )
    p.add_argument("--ring", required=True, metavar="NAME", help="the local ring to read")
    p.add_argument("--to", required=True, metavar="HOST:PORT", help="the VMC receiver")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s vmc_send %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    out = private_stdout()
    channel = ChildChannel(output=out)
    stop = stop_on_signals()
    ring: ShmRing | None = None
    reader: RingReader | None = None
    sender: VmcSender | None = None
    try:
        try:
            host, port = parse_target(args.to)
            sender = VmcSender(host, port)
            ring = ShmRing.attach(args.ring)
            reader = ring.reader(wake=True)
        except (ValueError, RingError, OSError) as e:
            print(f"vmc_send: {e}", file=sys.stderr)
            channel.emit(Error(message=str(e), fatal=True))
            return EXIT_USAGE
        channel.emit(Ready(info={"to": sender.target, "ring": ring.name}))
        channel.start()
        SendLoop(reader, sender, channel, stop).run()
        channel.emit(Bye())
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        channel.close()
        if reader is not None:
            reader.close()
        if ring is not None:
            ring.close()
        if sender is not None:
            sender.close()
        try:
            out.close()
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
