"""VMC in (``--source vmc:PORT``) over real loopback UDP: our sender into our receiver on a
shared face clip reproduces the frames; hostile datagrams are counted and dropped while valid
ones keep working; and ``python -m tracking --source vmc:PORT`` writes the frames into its ring
and reports ``vmc_packets_dropped`` in its stats."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from peer.vmc_send import VmcSender
from protocol.frame import FrameFlags, ParamFrame
from protocol.ring import ShmRing
from protocol.vmc import ADDR_APPLY, ADDR_BLEND, MAX_PACKET_BYTES, BundleEncoder
from tracking.errors import SourceError
from tracking.pipeline import Tracker
from tracking.smoothing import SmoothingConfig
from tracking.sources import parse_source
from tracking.vmc_source import MAX_FRAME_HZ, VmcSource, parse_vmc_spec

from .conftest import track_clip
from .test_child import Child, next_frame

#: Quantisation: a weight is one byte on our wire and float32 in VMC; the byte must survive.
WEIGHT_TOL = 1 / 255
#: Rotations: the float16 wire values (what the ring holds) through float32 quaternions and back.
ROTATION_TOL = 1e-4


@pytest.fixture
def source() -> Iterator[VmcSource]:
    src = VmcSource("127.0.0.1", 0, idle_s=10.0)
    src.open()
    yield src
    src.close()


def plain_socket(src: VmcSource) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(src.address)
    return sock


def test_specs() -> None:
    assert parse_vmc_spec("vmc:39539") == ("127.0.0.1", 39539)
    assert parse_vmc_spec("vmc:0.0.0.0:39540") == ("0.0.0.0", 39540)
    assert parse_vmc_spec("vmc:[::1]:5") == ("::1", 5)
    assert parse_vmc_spec("sample") is None
    for bad in ("vmc:", "vmc:x", "vmc:0", "vmc:99999"):
        with pytest.raises(SourceError):
            parse_vmc_spec(bad)
    src = parse_source("vmc:39541")
    assert isinstance(src, VmcSource) and src.kind == "vmc"


def test_round_trip_on_a_shared_clip(shared_faces: Path, source: VmcSource) -> None:
    """d3 through MediaPipe, out through our sender, in through our source and a tracker with
    no smoothing or calibration: the same frames within quantisation."""
    sent = track_clip(shared_faces / "d3.mp4", limit=60).frames
    assert sum(f.face_present for f in sent) >= 50
    host, port = source.address
    sender = VmcSender(host, port)
    stop = threading.Event()
    receiver = Tracker(load_model=False, smoothing=SmoothingConfig(enabled=False))
    compared = 0
    try:
        for original in sent:
            wire = ParamFrame.decode(original.encode())  # what the ring holds
            assert sender.send(wire) > 0
            captured = source.read(stop)
            assert captured is not None
            got = receiver.process_captured(captured)
            if not original.face_present:
                assert not got.face_present or got.flags & FrameFlags.HELD
                continue
            compared += 1
            assert got.face_present
            diff = np.abs(np.array(got.weights()) - np.array(wire.weights()))
            assert diff.max() <= WEIGHT_TOL + 1e-9
            assert got.head_rotation == pytest.approx(wire.head_rotation, abs=ROTATION_TOL)
    finally:
        sender.close()
    assert compared >= 50
    assert source.frames == len(sent) and source.packets_dropped == 0
    assert source.state.bad_messages == 0 and source.state.ignored_messages == 0


def test_hostile_packets_are_counted_and_dropped(source: VmcSource) -> None:
    sock = plain_socket(source)
    stop = threading.Event()
    frame = ParamFrame.from_weights(1, 1, [0.5] * 52)
    good = BundleEncoder().encode(frame, 0.0)
    unknown = (
        BundleEncoder().encode(frame, 0.0).replace(b"/VMC/Ext/T\x00\x00", b"/VMC/Ext/X\x00\x00")
    )
    try:
        sock.send(b"\x00garbage that is not OSC at all")
        sock.send(good[: len(good) // 2 + 3])  # truncated mid-message
        sock.send(b"#bundle\x00" + bytes(8) + b"\x7f\xff\xff\xff")  # element size past the end
        sock.send(good * (MAX_PACKET_BYTES // len(good) + 1))  # oversized (a valid repeat)
        sock.send(b"/VMC/Ext/Blend/Val\x00\x00,sf\x00" + b"JawOpen\x00" + b"\x7f\x80\x00\x00")
        sock.send(unknown)
        captured = source.read(stop)
    finally:
        sock.close()
    assert captured is not None and captured.raw is not None  # the valid bundle still works
    assert captured.raw.weights[1:] == pytest.approx([0.5] * 51, abs=WEIGHT_TOL)
    assert source.packets_dropped == 4
    assert source.state.ignored_messages == 1  # /VMC/Ext/X
    assert source.state.bad_messages == 1  # JawOpen = +inf
    stats = source.stats()
    assert stats["vmc_packets_dropped"] == 4 and stats["vmc_packets"] == 6


def test_a_flood_is_merged_down_to_the_frame_cap(source: VmcSource) -> None:
    """A sender at ~1000 frames a second: the tracker gets at most MAX_FRAME_HZ of them, and
    the last one it gets is the newest state."""
    encoder = BundleEncoder()
    stop = threading.Event()
    total = 300

    def flood() -> None:
        sock = plain_socket(source)
        try:
            for k in range(1, total + 1):
                weights = [0.0] * 52
                weights[25] = k / total  # jawOpen
                sock.send(encoder.encode(ParamFrame.from_weights(k, k, weights), 0.0))
                time.sleep(0.001)  # the flood's pace is what is under test
        finally:
            sock.close()

    sender = threading.Thread(target=flood)
    start = time.monotonic()
    sender.start()
    got = []
    try:
        while time.monotonic() - start < 10:
            captured = source.read(stop)
            assert captured is not None and captured.raw is not None
            got.append(captured.raw.weights[25])
            if got[-1] == pytest.approx(1.0):
                break
        elapsed = time.monotonic() - start
    finally:
        sender.join(10)
    assert got[-1] == pytest.approx(1.0)  # the newest state came through
    assert len(got) <= elapsed * MAX_FRAME_HZ + 2
    assert source.frames > 2 * len(got)  # most were merged, not queued
    assert source.stats()["vmc_frames_merged"] == source.frames - len(got)


def test_silence_gives_no_face_frames_and_stop_ends_read() -> None:
    src = VmcSource("127.0.0.1", 0, idle_s=0.05)
    stop = threading.Event()
    try:
        captured = src.read(stop)
        assert captured is not None and captured.raw is None
        stop.set()
        assert src.read(stop) is None
    finally:
        src.close()


def test_port_in_use_is_a_clear_error(source: VmcSource) -> None:
    other = VmcSource(*source.address)
    with pytest.raises(SourceError, match="cannot listen for VMC"):
        other.open()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_tracking_child_with_a_vmc_source(spawn_tracking: Any) -> None:
    port = free_udp_port()
    with ShmRing.create("local") as ring:
        reader = ring.reader(wake=True)
        child = Child(spawn_tracking("--source", f"vmc:{port}", "--ring", ring.name))
        ready = child.event("ready")["info"]
        assert ready["source"] == f"VMC on 127.0.0.1:{port}"
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        encoder = BundleEncoder()
        weights = [0.0] * 52
        weights[25] = 0.8  # jawOpen
        frame = ParamFrame.from_weights(1, 1, weights, head_rotation=(0.1, 0.3, -0.2))
        try:
            sock.sendto(b"not osc", ("127.0.0.1", port))
            got = None
            for _ in range(100):
                sock.sendto(encoder.encode(frame, 0.0), ("127.0.0.1", port))
                try:
                    got = next_frame(reader, lambda f: f.face_present, timeout=0.2)
                    break
                except AssertionError:
                    continue
            assert got is not None, "no VMC frame reached the ring"
            assert got.weight("jawOpen") == pytest.approx(0.8, abs=WEIGHT_TOL)
            assert got.head_rotation == pytest.approx((0.1, 0.3, -0.2), abs=2e-3)
            stats = child.wait_for(
                lambda e: e["event"] == "stats" and e["values"].get("vmc_frames", 0) > 0
            )["values"]
            assert stats["vmc_packets_dropped"] == 1 and stats["source"].startswith("VMC on")
            # Unknown addresses on the input are ignored, and a sender that stops is no face.
            sock.sendto(
                b"/avatar/parameters/x\x00\x00\x00\x00,f\x00\x00\x00\x00\x00\x00",
                ("127.0.0.1", port),
            )
            next_frame(reader, lambda f: not f.face_present and not f.flags & FrameFlags.HELD)
        finally:
            sock.close()
        child.send("quit")
        child.event("bye")
        assert child.proc.wait(30) == 0
        reader.close()


def test_blend_only_bundles_need_apply(source: VmcSource) -> None:
    """A frame is complete at /VMC/Ext/Blend/Apply, not before."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    def message(address: str, *args: Any) -> bytes:
        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(a)
        return bytes(b.build().dgram)

    sock = plain_socket(source)
    stop = threading.Event()
    try:
        sock.send(message(ADDR_BLEND, "JawOpen", 0.25))
        sock.send(message(ADDR_BLEND, "A", 0.9))
        sock.send(message(ADDR_APPLY))
        captured = source.read(stop)
    finally:
        sock.close()
    assert captured is not None and captured.raw is not None
    assert captured.raw.weights[25] == pytest.approx(0.25)
    assert source.frames == 1
