"""Small pure parts of the networking process: clock filter, stats, SDP/SAS checks, URLs."""

from __future__ import annotations

import time

import pytest

from peer.clock import ClockSync
from peer.connection import candidate_types, check_sdp, sdp_fingerprint, short_auth_string
from peer.errors import NegotiationError, SignalingError
from peer.frames import FramePump, TokenBucket
from peer.signaling import room_url
from peer.stats import CallStats
from protocol.blendshapes import NUM_BLENDSHAPES
from protocol.frame import ParamFrame
from protocol.ring import ShmRing

SDP_DC = """v=0
o=- 1 1 IN IP4 0.0.0.0
s=-
t=0 0
m=application 9 UDP/DTLS/SCTP webrtc-datachannel
a=candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host
a=candidate:2 1 udp 16777215 10.0.0.9 6000 typ relay raddr 0.0.0.0 rport 0
a=fingerprint:sha-256 AB:CD:EF
a=fingerprint:sha-384 11:22
"""


def test_clock_min_rtt_filter_ignores_queued_samples() -> None:
    clock = ClockSync()
    # Peer clock is 5000 us ahead; symmetric 1 ms path -> exact.
    clock.add(t1_us=0, t2_us=5500, t3_us=5600, t4_us=1100)
    assert clock.offset_us == 5000 and clock.rtt_us == 1000
    # A pong that sat 40 ms in a queue on the way back: big rtt, biased offset -> not used.
    clock.add(t1_us=2000, t2_us=7500, t3_us=7600, t4_us=43_100)
    assert clock.offset_us == 5000
    assert clock.to_local_us(1_005_000) == 1_000_000
    # Impossible (negative rtt) samples are refused.
    assert clock.add(t1_us=10, t2_us=0, t3_us=100, t4_us=20) is None


def test_stats_count_gaps_stale_frames_and_wrap() -> None:
    stats = CallStats()
    assert stats.on_received(100, 1)
    assert stats.on_received(100, 2)
    assert stats.on_received(100, 6)  # 3, 4, 5 missing
    assert not stats.on_received(100, 4)  # late: stale, dropped
    assert stats.seq_gaps == 3 and stats.stale_frames == 1
    snap = stats.snapshot(1.0)
    assert snap["recv_hz"] == 3.0 and snap["loss"] == pytest.approx(0.5)
    stats.reset_sequence()
    assert stats.on_received(100, 2**32 - 1)
    assert stats.on_received(100, 0)  # wraps without a gap
    assert stats.seq_gaps == 3


def test_throttled_frames_are_not_counted_as_loss() -> None:
    """Frames our own rate limit dropped arrived: the seq hole they leave is not a network gap."""
    stats = CallStats()
    assert stats.on_received(100, 1)
    for _ in range(4):  # seq 2..5 arrive but are throttled before decoding
        stats.on_throttled()
    assert stats.on_received(100, 6)
    assert stats.seq_gaps == 0 and stats.throttled_frames == 4
    assert stats.snapshot(1.0)["loss"] == 0.0
    # A real hole after that is still a gap, and one throttled frame explains only one.
    stats.on_throttled()
    assert stats.on_received(100, 10)  # 7 throttled, 8 and 9 lost
    assert stats.seq_gaps == 2


def test_received_frame_reaches_the_ring_with_its_capture_time_on_our_clock() -> None:
    """The render window measures capture -> present from the slot's capture time, which only
    the networking process can map (it knows the clock offset); 0 until it does."""
    clock = ClockSync()
    stats = CallStats()
    with ShmRing.create("test") as local, ShmRing.create("test") as remote:
        pump = FramePump(local.reader(), remote.writer(), stats, clock)
        reader = remote.reader()
        now_us = time.monotonic_ns() // 1000
        pump.on_params(ParamFrame.from_weights(1, now_us, [0.0] * NUM_BLENDSHAPES).encode())
        first = reader.read_latest()
        assert first is not None and first.capture_ns == 0  # no ping/pong yet: unknown
        assert stats.e2e.count() == 0
        clock.add(t1_us=0, t2_us=5500, t3_us=5600, t4_us=1100)  # the peer is 5 ms ahead
        captured_us = time.monotonic_ns() // 1000 - 20_000  # 20 ms ago, on our clock
        frame = ParamFrame.from_weights(2, captured_us + 5000, [0.0] * NUM_BLENDSHAPES)
        pump.on_params(frame.encode())
        second = reader.read_latest()
        assert second is not None and second.capture_ns == captured_us * 1000
        e2e = stats.e2e.p(50)
        assert e2e is not None and 20.0 <= e2e < 1000.0
        reader.close()


def test_sdp_check_allows_only_one_application_section() -> None:
    check_sdp(SDP_DC)
    with pytest.raises(NegotiationError, match="audio"):
        check_sdp(SDP_DC + "m=audio 9 UDP/TLS/RTP/SAVPF 111\n")
    with pytest.raises(NegotiationError):
        check_sdp("v=0\n")
    assert candidate_types(SDP_DC) == {"host", "relay"}
    assert sdp_fingerprint(SDP_DC) == "AB:CD:EF"


def test_sas_is_symmetric_and_depends_on_both_fingerprints() -> None:
    a, b, c = "AA:01", "BB:02", "CC:03"
    assert short_auth_string(a, b) == short_auth_string(b, a)
    assert short_auth_string(a, b) != short_auth_string(a, c)
    assert len(short_auth_string(a, b).replace(" ", "")) == 6


def test_room_url_forms() -> None:
    room = "r" * 22
    assert room_url("ws://h:1", room) == f"ws://h:1/ws?room={room}"
    assert room_url("ws://h:1/", room) == f"ws://h:1/ws?room={room}"
    assert room_url("https://h/relay", room) == f"wss://h/relay?room={room}"
    with pytest.raises(SignalingError):
        room_url("ftp://h", room)


def test_token_bucket_caps_a_burst() -> None:
    bucket = TokenBucket(rate=10.0, burst=5.0)
    assert sum(bucket.take() for _ in range(50)) in (5, 6)


def test_avatar_transfer_refuses_oversize_and_unsolicited_chunks(tmp_path: object) -> None:
    from pathlib import Path

    from protocol import ctl
    from protocol.events import Error, PeerAvatar

    from .ctl_rig import ctl_handler

    handler, events, sent, stats = ctl_handler(Path(str(tmp_path)))
    digest = "ab" * 32
    # Unsolicited chunk: counted, ignored.
    handler.handle(ctl.AvatarChunk(hash=digest, total=1, size=4, data=b"evil").encode())
    assert stats.bad_ctl == 1
    # The peer announces a pack we lack: we draw a built-in meanwhile and ask for it.
    handler.handle(ctl.Hello(name="peer", avatar_id="custom", avatar_hash=digest).encode())
    assert PeerAvatar(ref="aria", avatar_id="custom", pending=True) in events
    assert isinstance(ctl.parse_ctl(sent[-1]), ctl.AvatarRequest)
    # A chunk claiming more than the cap ends the transfer with a clear error.
    too_big = ctl.MAX_AVATAR_PACK_BYTES + 1
    total = -(-too_big // ctl.AVATAR_CHUNK_BYTES)
    handler.handle(ctl.AvatarChunk(hash=digest, total=total, size=too_big, data=b"x").encode())
    assert stats.bad_ctl == 2
    assert any(isinstance(e, Error) and "too large" in e.message for e in events)
