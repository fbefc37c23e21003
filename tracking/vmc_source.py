"""``--source vmc:PORT``: a VMC sender (a phone tracker, another VTuber app) as the camera.

Its blendshapes and head bone become our frames (:mod:`protocol.vmc` maps them); everything
after the source - the ring, the peer, the window - is unchanged, and no model is loaded. The
source is a UDP socket, so it lives in ``tracking/`` like the camera does: the tracker stays
the one process that writes the local ring.

Spec strings: ``vmc:PORT`` listens on loopback (another app on this machine), and
``vmc:HOST:PORT`` on the address given - ``vmc:0.0.0.0:39539`` for a phone on the LAN, a choice
the user makes, like ``--lan``: nothing here opens a port to the network by default.

Each ``/VMC/Ext/Blend/Apply`` completes one frame, stamped with its arrival time (the sender's
clock is not ours). Between frames nothing is polled: ``read`` sleeps in ``select`` on the
socket, so the in -> ring time is a parse and a ring write. While no sender talks for
:data:`IDLE_FRAME_S`, a no-face frame goes out (the tracker's hold covers a short gap; the
loop keeps answering its commands and reporting stats).

A sender faster than :data:`MAX_FRAME_HZ` is merged down to that rate (the newest state wins),
so a flood on the VMC port cannot make us flood the peer.

Untrusted input: a datagram that is not OSC, is cut short or is over
:data:`protocol.vmc.MAX_PACKET_BYTES` is counted (``vmc_packets_dropped``) and dropped; a
known address with arguments the spec does not allow is counted (``vmc_messages_bad``) and
skipped; addresses we do not use are ignored (``vmc_messages_ignored``). Nothing raises.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time

import numpy as np

from protocol.errors import DecodeError
from protocol.text import log_text
from protocol.vmc import MAX_PACKET_BYTES, packet_messages, parse_source_spec
from protocol.vmc_in import VmcState

from .errors import SourceError
from .params import RawParams
from .sources import CapturedFrame, Source

log = logging.getLogger(__name__)

#: At most this many frames a second go into the ring, whatever the sender does: faster frames
#: are merged into the newest (VMC values persist, so nothing is lost but the in-between
#: states). Trackers send 30-60 Hz; a flood must not reach the peer, which throttles us at 120.
MAX_FRAME_HZ = 100.0
#: With no VMC frame for this long, a no-face frame keeps the loop (and the ring) alive.
IDLE_FRAME_S = 0.1


def parse_vmc_spec(spec: str) -> tuple[str, int] | None:
    """``vmc:PORT`` or ``vmc:HOST:PORT`` -> (host, port); None if ``spec`` is not a VMC spec.
    Raises SourceError for a VMC spec with a bad port."""
    try:
        return parse_source_spec(spec)
    except ValueError as e:
        raise SourceError(str(e)) from e


class VmcSource(Source):
    """Frames from a VMC sender over UDP (module docstring)."""

    kind = "vmc"

    def __init__(self, host: str, port: int, *, idle_s: float = IDLE_FRAME_S) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.idle_s = idle_s
        self.description = f"VMC on {host}:{port}"
        self.state = VmcState()
        self.min_interval_s = 1.0 / MAX_FRAME_HZ
        self.packets = 0
        self.packets_dropped = 0
        self.frames = 0
        #: Frames handed to the tracker (the rest were merged: a sender over MAX_FRAME_HZ).
        self.frames_out = 0
        self._next_frame_at = 0.0
        self._sock: socket.socket | None = None

    @property
    def address(self) -> tuple[str, int]:
        """Where we listen (the real port when 0 was asked for)."""
        if self._sock is None:
            return (self.host, self.port)
        host, port = self._sock.getsockname()[:2]
        return (str(host), int(port))

    def open(self) -> None:
        if self._sock is not None:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError as e:
            sock.close()
            raise SourceError(f"cannot listen for VMC on {self.host}:{self.port}: {e}") from e
        sock.setblocking(False)
        self._sock = sock
        self.description = "VMC on {}:{}".format(*self.address)

    def read(self, stop: threading.Event) -> CapturedFrame | None:
        if self._sock is None:
            self.open()
        sock = self._sock
        assert sock is not None
        deadline = time.monotonic() + self.idle_s
        pending: CapturedFrame | None = None
        while not stop.is_set():
            now = time.monotonic()
            if pending is not None and now >= self._next_frame_at:
                self._next_frame_at = now + self.min_interval_s
                self.frames_out += 1
                return pending
            left = deadline - now
            if pending is None and left <= 0:
                return CapturedFrame(time.monotonic_ns(), raw=None)
            # With a frame in hand, wait only until it may go (reading what else arrives).
            wait = self._next_frame_at - now if pending is not None else min(left, 0.1)
            ready, _, _ = select.select([sock], [], [], max(0.0, wait))
            if ready:
                frame = self._drain(sock)
                if frame is not None:
                    pending = frame
        return None

    def _drain(self, sock: socket.socket) -> CapturedFrame | None:
        """Read every waiting datagram; the newest complete frame, if one completed."""
        done: CapturedFrame | None = None
        while True:
            try:
                data = sock.recv(MAX_PACKET_BYTES + 1)
            except (BlockingIOError, InterruptedError):
                return done
            except OSError as e:  # e.g. ICMP errors surfacing on a UDP socket
                log.debug("VMC receive: %s", e)
                return done
            arrived = time.monotonic_ns()
            self.packets += 1
            try:
                messages = packet_messages(data)
            except DecodeError as e:
                self.packets_dropped += 1
                log.debug("dropped a VMC packet: %s", log_text(str(e)))
                continue
            for address, args in messages:
                if self.state.handle(address, args):
                    done = self._captured(arrived)

    def _captured(self, arrived_ns: int) -> CapturedFrame:
        self.frames += 1
        state = self.state
        if not state.face:
            return CapturedFrame(arrived_ns, raw=None)
        raw = RawParams(
            np.array(state.weights, dtype=np.float64),
            np.array(state.rotation(), dtype=np.float64),
            np.zeros(3),
        )
        return CapturedFrame(arrived_ns, raw=raw)

    def stats(self) -> dict[str, object]:
        """Figures for the tracker's ``stats`` event."""
        return {
            "vmc_packets": self.packets,
            "vmc_packets_dropped": self.packets_dropped,
            "vmc_messages_bad": self.state.bad_messages,
            "vmc_messages_ignored": self.state.ignored_messages,
            "vmc_frames": self.frames,
            "vmc_frames_merged": self.frames - self.frames_out,
        }

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
