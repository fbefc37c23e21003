"""Single-writer, many-reader ring of fixed slots in a named shared-memory segment.

The tracker writes one parameter frame per camera frame; the networking process and the render
window read the *newest* one. Readers must never block the writer and never see a torn frame, so
each slot is a seqlock: the writer makes the slot's sequence odd, copies the payload, then makes
it even; a reader copies the slot and accepts it only if the sequence was even and unchanged (a
CRC-32 of the capture time and payload is checked too, as a second line of defence on weakly
ordered CPUs).

Each slot also carries the frame's capture time mapped onto *this host's* CLOCK_MONOTONIC by the
writer, who is the one that knows how: the tracker's capture clock is this host's, and the
networking process maps the remote sender's capture time with its ping/pong clock offset. So a
reader (the render window) can measure capture -> present itself, with no clock of its own to
synchronise and no round trip of per-frame events through the parent.

Segment layout (little endian)::

    header  (HEADER_BYTES)
      0  magic  b"AVRING02" (01: no capture time, 24-byte slot header)
      8  u32 slot count, u32 slot size
     16  u64 completed writes (the writer bumps it after a slot is complete)
     24  u32 writer pid, u32 state (1 = writer closed cleanly)
     32  u64 writer's last write, CLOCK_MONOTONIC ns
     40  u32 subscriber-table generation
     44  u32 owner pid (the creator, who unlinks; lets a later run sweep a crashed owner's segment)
     64  MAX_SUBSCRIBERS x 32-byte entries: u32 pid, u16 name length, 26 bytes abstract name
    slots   (slot count x slot size)
      0  u64 seqlock (odd while writing; 2 * (write number + 1) when complete)
      8  u16 payload length, u16 reserved, u32 CRC-32 of bytes 24..32 then the payload
     16  u64 CLOCK_MONOTONIC ns when written
     24  u64 the frame's capture time on this host's CLOCK_MONOTONIC, ns (0 = unknown, e.g.
         before the networking process has a clock offset)
     32  payload

Wake-ups: a reader may subscribe; it binds an abstract-namespace UNIX datagram socket and
records its name in the header, and the writer sends one byte to every subscriber after each
write, so the networking process can sleep in its event loop instead of polling. A subscriber
that died is noticed (ECONNREFUSED) and dropped; a full socket buffer is ignored (the reader is
behind and will read the newest slot anyway).

We map ``/dev/shm/<name>`` with :mod:`mmap` rather than ``multiprocessing.shared_memory``: on
Python 3.11 the latter registers attached segments with the resource tracker, which unlinks them
when *any* attaching process exits.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import mmap
import os
import secrets
import select
import socket
import struct
import time
import zlib
from dataclasses import dataclass
from types import TracebackType

from .errors import RingError

log = logging.getLogger(__name__)

SHM_DIR = "/dev/shm"
NAME_PREFIX = "avatarchat-"
MAGIC = b"AVRING02"
HEADER_BYTES = 512
#: Enough readers for peer + render + a debug tap, with room to spare.
MAX_SUBSCRIBERS = 8
_SUB_ENTRY = struct.Struct("<IH26s")
_SUB_TABLE_AT = 64
SLOT_HEADER_BYTES = 32
#: 32 slots x 256 bytes: a frame is ~100 bytes, and 32 slots is ~1 s of history at 30 Hz.
DEFAULT_SLOTS = 32
DEFAULT_SLOT_SIZE = 256

_HDR_GEOMETRY = struct.Struct("<II")  # at 8
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
SLOT_META = struct.Struct("<HHIQQ")  # at slot + 8: length, reserved, crc, written, capture
_STATE_CLOSED = 1
#: A retry is only needed when the writer laps the whole ring during one read (the reader was
#: descheduled for slots/rate seconds); a few attempts make that practically impossible to miss.
_READ_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class RingRecord:
    """One complete slot as a reader copied it."""

    number: int  # 0-based write number (monotonic across the ring's life)
    written_ns: int  # writer's CLOCK_MONOTONIC when the slot completed
    payload: bytes
    capture_ns: int = 0  # the frame's capture time on this host's CLOCK_MONOTONIC; 0 = unknown


def slot_crc(capture_ns: int, payload: bytes) -> int:
    """The CRC-32 a slot stores: over the capture time (u64 LE) and then the payload."""
    return zlib.crc32(payload, zlib.crc32(_U64.pack(capture_ns)))


def _segment_path(name: str) -> str:
    if "/" in name or not name.startswith(NAME_PREFIX):
        raise RingError(f"invalid ring name {name!r}: must start with {NAME_PREFIX!r}, no '/'")
    return os.path.join(SHM_DIR, name)


class ShmRing:
    """A mapped ring segment. :meth:`create` makes (and on close unlinks) one; :meth:`attach`
    maps an existing one. Get a :class:`RingWriter` or :class:`RingReader` from it."""

    def __init__(self, name: str, fd: int, mm: mmap.mmap, owner: bool) -> None:
        self.name = name
        self._fd = fd
        self._mm = mm
        self.owner = owner
        self.slots, self.slot_size = _HDR_GEOMETRY.unpack_from(mm, 8)
        self._closed = False

    @classmethod
    def create(
        cls, kind: str = "ring", *, slots: int = DEFAULT_SLOTS, slot_size: int = DEFAULT_SLOT_SIZE
    ) -> ShmRing:
        """Create a new segment named ``avatarchat-<kind>-<random>`` (owner: unlinks on close)."""
        if slots < 2 or slot_size <= SLOT_HEADER_BYTES or slot_size % 8:
            raise RingError(f"bad geometry: {slots} slots of {slot_size} bytes")
        name = f"{NAME_PREFIX}{kind}-{secrets.token_hex(6)}"
        path = _segment_path(name)
        size = HEADER_BYTES + slots * slot_size
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        except OSError as e:
            raise RingError(f"cannot create ring {path}: {e.strerror}") from e
        try:
            os.ftruncate(fd, size)
            mm = mmap.mmap(fd, size)
        except OSError as e:
            os.close(fd)
            os.unlink(path)
            raise RingError(f"cannot map ring {path}: {e.strerror}") from e
        _HDR_GEOMETRY.pack_into(mm, 8, slots, slot_size)
        _U32.pack_into(mm, 44, os.getpid())
        mm[0:8] = MAGIC
        return cls(name, fd, mm, owner=True)

    @classmethod
    def attach(cls, name: str) -> ShmRing:
        """Map an existing segment by name."""
        path = _segment_path(name)
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError as e:
            raise RingError(f"cannot attach ring {name!r}: {e.strerror}") from e
        try:
            size = os.fstat(fd).st_size
            if size < HEADER_BYTES:
                raise RingError(f"ring {name!r} is {size} bytes, smaller than its header")
            mm = mmap.mmap(fd, size)
        except OSError as e:
            os.close(fd)
            raise RingError(f"cannot map ring {name!r}: {e.strerror}") from e
        except RingError:
            os.close(fd)
            raise
        if mm[0:8] != MAGIC:
            magic = bytes(mm[0:8])
            mm.close()
            os.close(fd)
            if magic[:6] == MAGIC[:6]:  # another version of this project made it
                raise RingError(
                    f"ring {name!r} has format {magic[6:].decode(errors='replace')!r}, "
                    f"this build reads {MAGIC[6:].decode()!r}"
                )
            raise RingError(f"{name!r} is not an avatarchat ring (bad magic)")
        slots, slot_size = _HDR_GEOMETRY.unpack_from(mm, 8)
        if HEADER_BYTES + slots * slot_size != size:
            mm.close()
            os.close(fd)
            raise RingError(
                f"ring {name!r}: geometry {slots}x{slot_size} does not match size {size}"
            )
        return cls(name, fd, mm, owner=False)

    @property
    def max_payload(self) -> int:
        return int(self.slot_size - SLOT_HEADER_BYTES)

    @property
    def write_count(self) -> int:
        return int(_U64.unpack_from(self._mm, 16)[0])

    @property
    def writer_pid(self) -> int:
        return int(_U32.unpack_from(self._mm, 24)[0])

    @property
    def owner_pid(self) -> int:
        return int(_U32.unpack_from(self._mm, 44)[0])

    @property
    def writer_closed(self) -> bool:
        return bool(_U32.unpack_from(self._mm, 28)[0] & _STATE_CLOSED)

    @property
    def last_write_ns(self) -> int:
        return int(_U64.unpack_from(self._mm, 32)[0])

    def writer_alive(self) -> bool:
        """True while a writer process has attached, not closed, and still exists."""
        pid = self.writer_pid
        if pid == 0 or self.writer_closed:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def writer(self) -> RingWriter:
        return RingWriter(self)

    def reader(self, *, wake: bool = False) -> RingReader:
        return RingReader(self, wake=wake)

    def close(self) -> None:
        """Unmap; the owner also unlinks the segment so nothing is left in /dev/shm."""
        if self._closed:
            return
        self._closed = True
        try:
            self._mm.close()
        except BufferError:  # a memoryview still exported; the mapping dies with the process
            log.debug("ring %s still has exported buffers at close", self.name)
        os.close(self._fd)
        if self.owner:
            self.unlink()

    def unlink(self) -> None:
        try:
            os.unlink(_segment_path(self.name))
        except FileNotFoundError:
            pass

    def __enter__(self) -> ShmRing:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- subscriber table (guarded by flock on the segment file) ----------------------------
    def _sub_generation(self) -> int:
        return int(_U32.unpack_from(self._mm, 40)[0])

    def _subscribers(self) -> list[tuple[int, int, bytes]]:
        entries = []
        for i in range(MAX_SUBSCRIBERS):
            pid, length, raw = _SUB_ENTRY.unpack_from(self._mm, _SUB_TABLE_AT + i * _SUB_ENTRY.size)
            if pid:
                entries.append((i, pid, b"\0" + raw[:length]))
        return entries

    def _set_subscriber(self, index: int, pid: int, name: bytes) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            _SUB_ENTRY.pack_into(
                self._mm, _SUB_TABLE_AT + index * _SUB_ENTRY.size, pid, len(name), name
            )
            _U32.pack_into(self._mm, 40, (self._sub_generation() + 1) & 0xFFFFFFFF)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _claim_subscriber(self, pid: int, name: bytes) -> int:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            for i in range(MAX_SUBSCRIBERS):
                at = _SUB_TABLE_AT + i * _SUB_ENTRY.size
                old_pid = _SUB_ENTRY.unpack_from(self._mm, at)[0]
                if old_pid == 0 or not pid_exists(old_pid):
                    _SUB_ENTRY.pack_into(self._mm, at, pid, len(name), name)
                    _U32.pack_into(self._mm, 40, (self._sub_generation() + 1) & 0xFFFFFFFF)
                    return i
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        raise RingError(f"ring {self.name!r} already has {MAX_SUBSCRIBERS} wake-up subscribers")


def pid_exists(pid: int) -> bool:
    """Whether process ``pid`` exists (signal 0; EPERM means it does, just not ours)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_segments() -> list[str]:
    """Unlink ring segments whose creating process no longer exists; returns their names.

    An owner unlinks its segments on close, but a process killed with SIGKILL cannot; the next
    call session sweeps what such a crash left so /dev/shm does not fill up over time. Segments
    that cannot be read as rings, or whose owner is alive, are left alone.
    """
    removed: list[str] = []
    try:
        names = [n for n in os.listdir(SHM_DIR) if n.startswith(NAME_PREFIX)]
    except OSError:
        return removed
    for name in names:
        try:
            ring = ShmRing.attach(name)
        except RingError:
            continue
        try:
            owner = ring.owner_pid
            stale = owner != 0 and not pid_exists(owner)
        finally:
            ring.close()
        if stale:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(SHM_DIR, name))
                removed.append(name)
                log.info("removed stale ring segment %s (owner %d is gone)", name, owner)
    return removed


class RingWriter:
    """The one writer of a ring. Never blocks: a write is a copy plus a few datagram pokes."""

    def __init__(self, ring: ShmRing) -> None:
        self.ring = ring
        self._mm = ring._mm
        self._count = ring.write_count
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
        self._sub_gen = -1
        self._targets: list[tuple[int, bytes]] = []
        _U32.pack_into(self._mm, 24, os.getpid())
        _U32.pack_into(self._mm, 28, 0)

    def write(self, payload: bytes, capture_ns: int = 0) -> int:
        """Publish ``payload`` as the newest slot; returns its write number.

        ``capture_ns``: when the frame was captured, on this host's CLOCK_MONOTONIC (0 when the
        writer cannot tell), so readers can measure capture -> their own output.
        """
        size = len(payload)
        if size > self.ring.max_payload:
            raise RingError(
                f"payload of {size} bytes exceeds the slot capacity of {self.ring.max_payload}"
            )
        mm = self._mm
        n = self._count
        at = HEADER_BYTES + (n % self.ring.slots) * self.ring.slot_size
        now = time.monotonic_ns()
        _U64.pack_into(mm, at, 2 * n + 1)  # odd: write in progress
        capture_ns = max(0, capture_ns)
        SLOT_META.pack_into(mm, at + 8, size, 0, slot_crc(capture_ns, payload), now, capture_ns)
        mm[at + SLOT_HEADER_BYTES : at + SLOT_HEADER_BYTES + size] = payload
        _U64.pack_into(mm, at, 2 * n + 2)  # even: complete
        self._count = n + 1
        _U64.pack_into(mm, 16, self._count)
        _U64.pack_into(mm, 32, now)
        self._wake()
        return n

    def _wake(self) -> None:
        gen = self.ring._sub_generation()
        if gen != self._sub_gen:
            self._sub_gen = gen
            self._targets = [(i, name) for i, _pid, name in self.ring._subscribers()]
        for index, name in self._targets:
            try:
                self._sock.sendto(b"\x01", name)
            except BlockingIOError:
                pass  # reader is behind; it will take the newest slot when it wakes
            except (ConnectionRefusedError, FileNotFoundError):
                log.debug("dropping dead wake-up subscriber %d of %s", index, self.ring.name)
                self.ring._set_subscriber(index, 0, b"")
            except OSError as e:
                log.warning("wake-up to subscriber %d of %s failed: %s", index, self.ring.name, e)

    def close(self) -> None:
        """Mark the ring as cleanly closed so readers stop waiting for this writer."""
        _U32.pack_into(self._mm, 28, _STATE_CLOSED)
        self._wake()
        self._sock.close()


class RingReader:
    """Reads the newest complete slot it has not seen yet. Never blocks the writer."""

    def __init__(self, ring: ShmRing, *, wake: bool = False) -> None:
        self.ring = ring
        self._mm = ring._mm
        self.last_number = -1
        self.torn_reads = 0
        self._sock: socket.socket | None = None
        self._sub_index = -1
        if wake:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
            name = f"avatarchat-wake-{secrets.token_hex(4)}".encode()
            sock.bind(b"\0" + name)
            self._sub_index = ring._claim_subscriber(os.getpid(), name)
            self._sock = sock

    def fileno(self) -> int:
        """The wake-up socket (readable after each write); only for ``wake=True`` readers."""
        if self._sock is None:
            raise RingError("this reader was opened without wake=True")
        return self._sock.fileno()

    def drain(self) -> None:
        """Consume pending wake-up datagrams (call after waking, before reading)."""
        if self._sock is None:
            return
        try:
            while True:
                self._sock.recv(64)
        except (BlockingIOError, InterruptedError):
            pass

    def wait(self, timeout: float | None) -> bool:
        """Block until a wake-up arrives or ``timeout`` passes; True if woken."""
        if self._sock is None:
            raise RingError("this reader was opened without wake=True")
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if ready:
            self.drain()
            return True
        return False

    def read_latest(self) -> RingRecord | None:
        """The newest complete record newer than the last one returned, or None.

        Only the newest slot is ever returned: the writer bumps the count after a slot is
        complete, so slot ``count - 1`` is whole unless the writer lapped the ring while we were
        descheduled; then we retry with a fresh count rather than fall back to older slots.
        """
        ring = self.ring
        mm = self._mm
        for _attempt in range(_READ_ATTEMPTS):
            n = int(_U64.unpack_from(mm, 16)[0]) - 1
            if n <= self.last_number:
                return None
            at = HEADER_BYTES + (n % ring.slots) * ring.slot_size
            seq1 = _U64.unpack_from(mm, at)[0]
            if seq1 != 2 * n + 2:
                self.torn_reads += 1
                continue
            size, _res, crc, written_ns, capture_ns = SLOT_META.unpack_from(mm, at + 8)
            if size > ring.max_payload:
                self.torn_reads += 1
                continue
            payload = mm[at + SLOT_HEADER_BYTES : at + SLOT_HEADER_BYTES + size]
            seq2 = _U64.unpack_from(mm, at)[0]
            if seq1 != seq2 or slot_crc(capture_ns, payload) != crc:
                self.torn_reads += 1
                continue
            self.last_number = n
            return RingRecord(n, int(written_ns), payload, int(capture_ns))
        return None

    def close(self) -> None:
        if self._sock is not None:
            if self._sub_index >= 0:
                try:
                    self.ring._set_subscriber(self._sub_index, 0, b"")
                except ValueError:  # ring already unmapped
                    pass
            self._sock.close()
            self._sock = None
