"""FramePacer presents a peer frame when it arrives (the remote ring's wake-up socket), not at
the next tick of its fixed clock; a real shared-memory ring and its wake-up socket, no mocks.

Slow frame rates (2 Hz) keep the margins far above a loaded machine's scheduling noise.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol.ring import RingReader, RingWriter, ShmRing
from render_window.idle import IdleLife
from render_window.motion import Motion
from render_window.pacing import ARRIVAL, DUE, TICK, FramePacer

from .harness import Feeder, Window, pose_frame

FPS = 2.0
PERIOD = 1.0 / FPS


@pytest.fixture
def ring() -> Iterator[tuple[RingWriter, RingReader]]:
    r = ShmRing.create("test")
    writer, reader = r.writer(), r.reader(wake=True)
    yield writer, reader
    reader.close()
    r.close()


def test_a_frame_arriving_after_a_tick_is_presented_before_the_next_tick(
    ring: tuple[RingWriter, RingReader],
) -> None:
    writer, reader = ring
    pacer = FramePacer(FPS)
    assert pacer.wait(reader) == TICK  # the frame starts on the grid
    tick = time.perf_counter()
    arrival = threading.Timer(0.6 * PERIOD, writer.write, (b"frame",))
    arrival.start()
    try:
        # Woken by the write (the window then reads the frame and learns when it shows) ...
        assert pacer.wait(reader) == ARRIVAL
        # ... and it is due at once: the next frame starts now, not at the tick.
        assert pacer.wait(reader, due=time.perf_counter()) == DUE
    finally:
        arrival.join()
    waited = time.perf_counter() - tick
    assert waited < 0.9 * PERIOD, f"presented {waited * 1000:.0f} ms after the tick"
    assert pacer.early == 1
    # The clock now follows the frame: the next regular tick is a whole period after it.
    assert pacer.time_left() > 0.8 * PERIOD


def test_a_frame_due_right_after_a_frame_started_waits_only_the_minimum_gap(
    ring: tuple[RingWriter, RingReader],
) -> None:
    _writer, reader = ring
    pacer = FramePacer(FPS)
    pacer.wait(reader)
    tick = time.perf_counter()
    assert pacer.wait(reader, due=tick) == DUE  # e.g. it landed during this frame's work
    waited = time.perf_counter() - tick
    # Not at once (min_gap after the tick: at most twice the display rate; the tick itself
    # may have returned late on a busy machine), not a whole period either.
    assert 0.3 * PERIOD <= waited < 0.9 * PERIOD


def test_a_frame_due_after_the_tick_waits_for_the_tick(
    ring: tuple[RingWriter, RingReader],
) -> None:
    _writer, reader = ring
    pacer = FramePacer(FPS)
    pacer.wait(reader)
    tick = time.perf_counter()
    assert pacer.wait(reader, due=tick + 2 * PERIOD) == TICK
    assert time.perf_counter() - tick > 0.9 * PERIOD
    assert pacer.early == 0


def test_without_a_frame_the_clock_ticks_as_before(ring: tuple[RingWriter, RingReader]) -> None:
    _writer, reader = ring
    pacer = FramePacer(FPS)
    pacer.wait(reader)
    tick = time.perf_counter()
    assert pacer.wait(reader) == TICK
    assert time.perf_counter() - tick > 0.9 * PERIOD
    assert pacer.early == 0


def test_the_window_presents_peer_frames_when_due_unless_lip_synced(
    xvfb_display: str, tmp_path: Path
) -> None:
    """A real window on a 2 Hz clock fed at 1 Hz: each frame is presented soon after it lands
    (on its clock alone it would wait for the next tick, ~250 ms on average); with a lip-sync
    delay the window keeps its clock."""
    ring = ShmRing.create("remote")
    feeder = Feeder(ring, hz=1.0)
    win = Window(
        xvfb_display,
        ["--remote-ring", ring.name, "--no-self-view", "--no-breath", "--fps", "2"],
        tmp_path,
    )
    try:
        win.wait("ready")
        feeder.set({"jawOpen": 0.5})
        fast = win.wait("stats", lambda e: e.get("presented_early", 0) >= 4, timeout=60)
        assert fast["ring_to_present_ms"]["p50"] < 0.3 * PERIOD * 1000, fast
        win.cmd("set_peer_delay", delay_ms=120.0)
        first = win.wait("stats")
        later = win.wait("stats", lambda e: e["frames"] >= first["frames"] + 6)
        # At most the one already under way when the command came.
        assert later["presented_early"] <= first["presented_early"] + 1, later
    finally:
        win.close()
        feeder.close()
        ring.close()


@pytest.mark.parametrize("low_latency", [False, True])
def test_next_shown_at_is_when_sample_first_shows_the_frame(low_latency: bool) -> None:
    """The pacer's due time is exactly when the motion starts showing the next frame."""
    m = Motion(IdleLife(seed=1), breathe=False, low_latency=low_latency)
    assert m.next_shown_at() is None
    for seq in range(1, 6):  # 30 Hz, 10 ms transit
        frame = pose_frame({"jawOpen": 0.1 * seq})
        frame.seq, frame.timestamp_us = seq, seq * 33_333
        m.push(frame, seq * 0.033333 + 0.010)
        due = m.next_shown_at()
        assert due is not None
        if seq == 1:
            assert due == -math.inf  # the first frame shows at once
            assert [s.seq for s in m.sample(0.05).newly_shown] == [1]
            continue
        assert not m.sample(due - 0.001).newly_shown
        assert [s.seq for s in m.sample(due + 0.001).newly_shown] == [seq]
        assert m.next_shown_at() is None  # all shown
