"""The hot path: local ring -> ``params`` channel, and ``params`` channel -> remote ring.

Sending: the tracker's ring pokes our wake-up socket after every write; the event loop calls
:meth:`FramePump.on_local_wake` at once (``loop.add_reader``), which reads the *newest* slot and
sends it. If the channel still has data queued (``bufferedAmount`` above a couple of frames) the
frame is dropped instead of queued: a stale expression is worth nothing, and queueing would add
latency to every later frame.

Receiving: every message is treated as hostile until proven otherwise -- a token bucket caps the
rate (a peer sending ten times the normal rate is throttled, the excess counted), the size is
checked before decoding, :meth:`ParamFrame.decode` validates (NaN/inf, ranges, schema), frames
older than the newest one received are dropped (the channel is unordered), and only then is the
frame written into the remote ring, with the sender's capture time mapped onto this host's clock
(we are the process that knows the clock offset) so the render window can measure capture ->
present without asking us. Nothing here raises into the event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from protocol.errors import DecodeError, RingError
from protocol.frame import MAX_FRAME_BYTES, ParamFrame
from protocol.ring import RingReader, RingWriter
from protocol.stats import latency_ms

from .clock import ClockSync
from .stats import CallStats

log = logging.getLogger(__name__)

#: Drop (do not queue) a frame while more than this is waiting in the params channel: about two
#: frames -- one in flight is normal, more means the path is backed up.
MAX_BUFFERED_BYTES = 256
#: Receive rate limit. Trackers run at 20-30 Hz (60 with a fast camera); 120/s sustained with a
#: burst of 60 never touches an honest peer, and a peer at ten times 30 Hz loses over half.
RECV_RATE_HZ = 120.0
RECV_BURST = 60.0


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class FramePump:
    """Moves frames between the rings and the current link's ``params`` channel."""

    def __init__(
        self,
        local_reader: RingReader,
        remote_writer: RingWriter,
        stats: CallStats,
        clock: ClockSync,
    ) -> None:
        self.local_reader = local_reader
        self.remote_writer = remote_writer
        self.stats = stats
        self.clock = clock
        self._send: Callable[[bytes], None] | None = None
        self._buffered: Callable[[], int] = lambda: 0
        self._bucket = TokenBucket(RECV_RATE_HZ, RECV_BURST)
        self.last_rx = 0.0  # monotonic s of the last valid frame
        self.last_local_write = 0.0
        #: Rewrites each tracker frame on its way out (the mouth from the voice when there is
        #: no face: peer.voice.mouth_frames); None = sent as written.
        self.outgoing: Callable[[bytes], bytes] | None = None
        #: When the current link's channel was attached (monotonic s; 0 = no link).
        self.attached_at = 0.0

    def attach(self, send: Callable[[bytes], None] | None, buffered: Callable[[], int]) -> None:
        """Send on a (new) link's params channel; None while there is no open link."""
        self._send = send
        self._buffered = buffered
        self.attached_at = time.monotonic() if send is not None else 0.0

    # -- sending ---------------------------------------------------------------------------
    def on_local_wake(self) -> None:
        """Loop reader callback: the tracker wrote a frame; send the newest one now."""
        self.local_reader.drain()
        try:
            record = self.local_reader.read_latest()
        except (RingError, ValueError) as e:
            log.warning("local ring read failed: %s", e)
            return
        if record is None:
            return
        self.last_local_write = time.monotonic()
        now_ns = time.monotonic_ns()
        send = self._send
        if send is None:
            self.stats.send_dropped_closed += 1
            return
        if self._buffered() > MAX_BUFFERED_BYTES:
            self.stats.send_dropped_backlog += 1
            return
        payload = record.payload if self.outgoing is None else self.outgoing(record.payload)
        try:
            send(payload)
        except Exception as e:  # the channel closed between the check and the send
            log.debug("params send failed: %s", e)
            self.stats.send_dropped_closed += 1
            return
        self.stats.on_sent(len(payload))
        self.stats.tx_ring_to_send.add((now_ns - record.written_ns) / 1e6)
        # Our own tracker's stage: camera frame -> ring slot (same clock, same host).
        try:
            frame = ParamFrame.decode(record.payload)
        except DecodeError:
            return
        self.stats.tx_capture_to_ring.add((record.written_ns / 1000 - frame.timestamp_us) / 1000)

    def send_extra(self, payload: bytes) -> None:
        """Send a frame made here, not by the tracker (the voice mouth with no camera), with
        the same rules: nothing without a link, dropped rather than queued."""
        send = self._send
        if send is None:
            self.stats.send_dropped_closed += 1
            return
        if self._buffered() > MAX_BUFFERED_BYTES:
            self.stats.send_dropped_backlog += 1
            return
        try:
            send(payload)
        except Exception as e:
            log.debug("params send failed: %s", e)
            self.stats.send_dropped_closed += 1
            return
        self.stats.on_sent(len(payload))

    # -- receiving -------------------------------------------------------------------------
    def on_params(self, data: bytes) -> None:
        """``params`` message handler; counts and drops anything bad."""
        recv_ns = time.monotonic_ns()
        stats = self.stats
        if not self._bucket.take():
            stats.on_throttled()
            return
        if not data:
            stats.bad_frames += 1
            return
        if len(data) > MAX_FRAME_BYTES:
            stats.oversize_frames += 1
            stats.bad_frames += 1
            return
        try:
            frame = ParamFrame.decode(data)
        except DecodeError as e:
            stats.bad_frames += 1
            log.debug("bad frame: %s", e)
            return
        except Exception:  # belt and braces: decode must never take the loop down
            stats.bad_frames += 1
            log.exception("frame decoder raised unexpectedly")
            return
        if not stats.on_received(len(data), frame.seq):
            return
        payload = data
        if len(payload) > self.remote_writer.ring.max_payload:
            payload = frame.encode()  # valid but carries extras that do not fit a slot
        # The sender's capture time on our clock (0 until the first ping/pong: unknown).
        capture_ns = self.clock.to_local_us(frame.timestamp_us) * 1000 if self.clock.ready else 0
        try:
            self.remote_writer.write(payload, capture_ns)
        except (RingError, ValueError) as e:
            log.warning("remote ring write failed: %s", e)
            return
        write_ns = time.monotonic_ns()
        self.last_rx = time.monotonic()
        stats.rx_recv_to_ring.add((write_ns - recv_ns) / 1e6)
        if capture_ns:
            e2e = latency_ms(capture_ns, recv_ns)
            if e2e is not None:
                stats.e2e.add(e2e)
