"""Shared-memory ring: real processes, no torn frames, newest wins, crashes handled, no leaks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol import RingError, ShmRing
from protocol.ring import SHM_DIR

from .ring_worker import capture_for, check, payload_for

WORKER = str(Path(__file__).with_name("ring_worker.py"))


def leftover_segments() -> set[str]:
    return {n for n in os.listdir(SHM_DIR) if n.startswith("avatarchat-")}


@pytest.fixture
def ring() -> Iterator[ShmRing]:
    r = ShmRing.create("test")
    yield r
    r.close()
    # only our own segment: other processes on the machine may be creating theirs meanwhile
    assert r.name not in leftover_segments(), "segment left in /dev/shm"


def spawn(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, WORKER, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert json.loads(proc.stdout.readline()) == {"ready": True}
    return proc


def result(proc: subprocess.Popen[str]) -> dict[str, object]:
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_in_process_basics(ring: ShmRing) -> None:
    writer = ring.writer()
    reader = ring.reader()
    assert reader.read_latest() is None
    for n in range(100):  # wraps the 32 slots three times
        writer.write(payload_for(n, 0), capture_for(n))
    record = reader.read_latest()
    assert record is not None and record.number == 99
    assert check(record.payload, record.capture_ns) == 99
    assert reader.read_latest() is None  # nothing newer
    writer.write(b"x")  # a writer that cannot tell the capture time says 0
    record = reader.read_latest()
    assert record is not None and record.capture_ns == 0
    assert ring.writer_alive()
    writer.close()
    assert not ring.writer_alive()


def test_oversize_payload_refused(ring: ShmRing) -> None:
    with pytest.raises(RingError, match="exceeds the slot capacity of 224"):
        ring.writer().write(bytes(225))


def test_attach_errors() -> None:
    with pytest.raises(RingError, match="cannot attach ring"):
        ShmRing.attach("avatarchat-nope-000000")
    with pytest.raises(RingError, match="must start with"):
        ShmRing.attach("../etc/passwd")


def test_writer_crash_mid_write_is_not_garbage(ring: ShmRing) -> None:
    writer = ring.writer()
    reader = ring.reader()
    writer.write(payload_for(0, 0))
    assert reader.read_latest() is not None
    # Simulate a writer that died between "seq odd" and "count bumped": slot 1 half-written.
    mm = ring._mm
    import struct

    at = 512 + 1 * ring.slot_size
    struct.pack_into("<Q", mm, at, 3)
    mm[at + 32 : at + 48] = b"\xee" * 16
    assert reader.read_latest() is None  # "no new frames", not garbage


def test_slot_layout_golden(ring: ShmRing) -> None:
    """The documented segment layout, byte for byte (other readers, e.g. the soak's tap, and
    rings made by another build depend on it)."""
    import struct

    from protocol.ring import SLOT_HEADER_BYTES, slot_crc

    ring.writer().write(b"abc", capture_ns=0x0102030405060708)
    mm = ring._mm
    assert mm[0:8] == b"AVRING02"
    assert struct.unpack_from("<II", mm, 8) == (32, 256)
    assert struct.unpack_from("<Q", mm, 16) == (1,)  # completed writes
    at = 512
    seq, length, reserved, crc, written_ns, capture_ns = struct.unpack_from("<QHHIQQ", mm, at)
    assert (seq, length, reserved) == (2, 3, 0)
    assert capture_ns == 0x0102030405060708 and written_ns > 0
    assert crc == slot_crc(capture_ns, b"abc")
    assert crc == zlib.crc32(b"abc", zlib.crc32(struct.pack("<Q", capture_ns)))
    assert SLOT_HEADER_BYTES == 32 and mm[at + 32 : at + 35] == b"abc"


def test_ring_of_another_format_is_refused(ring: ShmRing) -> None:
    ring._mm[0:8] = b"AVRING01"
    with pytest.raises(RingError, match="format '01', this build reads '02'"):
        ShmRing.attach(ring.name)
    ring._mm[0:8] = b"AVRING02"


def test_one_writer_two_readers_1khz_no_torn_frames(ring: ShmRing) -> None:
    seconds = 3.0
    readers = [
        spawn("read", ring.name, str(seconds + 0.5)),
        spawn("read", ring.name, str(seconds + 0.5), "--wake"),
    ]
    writer = spawn("write", ring.name, "1000", str(seconds))
    written = result(writer)["written"]
    assert isinstance(written, int) and written > 1000 * seconds * 0.5
    for proc in readers:
        summary = result(proc)
        assert summary["torn"] == 0
        assert summary["stale"] == 0
        assert summary["last"] == written - 1  # saw the final frame
        # every read is a distinct, newer frame; a starved reader still reads plenty
        assert isinstance(summary["reads"], int) and summary["reads"] >= 100


def test_reader_killed_does_not_disturb_writer(ring: ShmRing) -> None:
    victim = spawn("read", ring.name, "30", "--wake")
    survivor = spawn("read", ring.name, "60", "--wake")
    writer = spawn("write", ring.name, "500", "2")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    summary = result(survivor)
    written = result(writer)["written"]
    assert summary["torn"] == 0 and summary["last"] == written - 1
    # the dead subscriber was dropped from the wake-up table
    assert all(pid != victim.pid for _, pid, _ in ring._subscribers())


def test_writer_killed_readers_see_no_new_frames(ring: ShmRing) -> None:
    writer = spawn("write", ring.name, "500", "30")
    reader = ring.reader(wake=True)
    assert reader.wait(5.0)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    latest = reader.read_latest()
    assert latest is not None
    check(latest.payload)
    assert reader.read_latest() is None
    assert not ring.writer_alive()
    assert not reader.wait(0.05)
    reader.close()


def test_wakeup_latency_is_small(ring: ShmRing) -> None:
    reader = spawn("read", ring.name, "60", "--wake")
    writer = spawn("write", ring.name, "200", "1")
    result(writer)
    latencies = result(reader)["latency_ns"]
    assert isinstance(latencies, list) and len(latencies) > 50
    p50 = latencies[len(latencies) // 2]
    assert p50 < 5_000_000  # generous sanity bound; the benchmark reports the real figure


def test_sweep_removes_segments_of_dead_owners_only(ring: ShmRing) -> None:
    from protocol.ring import sweep_stale_segments

    repo = str(Path(__file__).resolve().parents[2])
    script = (
        f"import sys, os; sys.path.insert(0, {repo!r}); from protocol import ShmRing; "
        "r = ShmRing.create('orphan'); print(r.name, flush=True); os._exit(0)"
    )
    orphan = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert orphan in leftover_segments()  # its owner died without closing
    removed = sweep_stale_segments()
    assert orphan in removed
    assert orphan not in leftover_segments()
    assert ring.name in leftover_segments()  # ours: owner alive, kept
    assert ring.owner_pid == os.getpid()
