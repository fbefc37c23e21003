"""Motion: playout delay, interpolation, bounded extrapolation, idle easing, idle life."""

from __future__ import annotations

import itertools
import random

import pytest

from protocol.blendshapes import BLENDSHAPE_INDEX, NUM_BLENDSHAPES
from protocol.frame import FrameFlags, ParamFrame
from render_window.idle import IdleLife
from render_window.motion import MAX_DELAY_S, MAX_EXTRAPOLATE_S, STALE_AFTER_S, Motion, Shown
from render_window.params import PARAM_INDEX

YAW = PARAM_INDEX["headYaw"]
JAW = PARAM_INDEX["jawOpen"]
BLINK_L = PARAM_INDEX["eyeBlinkLeft"]
BREATH = PARAM_INDEX["breath"]
HZ = 30.0
SENDER_CLOCK_OFFSET = 1234.5  # the sender's monotonic clock has nothing to do with ours


def frame(
    seq: int, t: float, yaw: float = 0.0, jaw: float = 0.0, flags: FrameFlags | None = None
) -> ParamFrame:
    w = [0.0] * NUM_BLENDSHAPES
    w[BLENDSHAPE_INDEX["jawOpen"]] = jaw
    return ParamFrame.from_weights(
        seq,
        round((t + SENDER_CLOCK_OFFSET) * 1e6),
        w,
        head_rotation=(0.0, yaw, 0.0),
        flags=FrameFlags.FACE_PRESENT if flags is None else flags,
    )


def feed(
    m: Motion, n: int, *, yaw_at=lambda t: t, jitter: float = 0.0, start: float = 0.0
) -> float:
    """Push ``n`` frames at 30 Hz captured at start + i/HZ, arriving 5 ms (+ jitter) later,
    sampling at 60 Hz in between like the window does."""
    rng = random.Random(1)
    t = start
    for i in range(n):
        t = start + i / HZ
        m.push(frame(i, t, yaw=yaw_at(t)), t + 0.005 + rng.uniform(0, jitter))
        if i < n - 1:
            m.sample(t + 0.006)
            m.sample(t + 0.006 + 1 / 60)
    return t


def test_interpolates_between_frames_at_display_rate() -> None:
    m = Motion(IdleLife(seed=1), breathe=False)
    last = feed(m, 60, yaw_at=lambda t: 0.5 * t)  # yaw ramps at 0.5 rad/s
    # The playout delay is about one frame interval: the pose shown lags the newest frame by
    # that much and lies on the ramp (interpolated, not held).
    for k in range(4):
        now = last + 0.005 + k / 240
        s = m.sample(now)
        expected = 0.5 * (now - 0.005 - m.delay)
        assert s.params[YAW] == pytest.approx(expected, abs=0.003)
        assert s.idle_weight == 0.0
    assert 1 / HZ - 0.002 < m.delay < 1 / HZ + 0.01


def test_playout_delay_adapts_to_jitter_and_is_capped() -> None:
    calm = Motion(IdleLife(seed=1))
    feed(calm, 90)
    rough = Motion(IdleLife(seed=1))
    feed(rough, 90, jitter=0.030)
    assert rough.jitter > calm.jitter * 5
    assert rough.delay > calm.delay
    assert rough.delay <= MAX_DELAY_S


def test_extrapolation_is_bounded() -> None:
    m = Motion(IdleLife(seed=1), breathe=False)
    last = feed(m, 30, yaw_at=lambda t: 1.0 * t)  # 1 rad/s
    newest = 1.0 * last
    s = m.sample(last + 0.005 + m.delay + 0.05)
    assert s.extrapolating
    assert s.params[YAW] == pytest.approx(newest + 0.05, abs=0.005)
    s = m.sample(last + 0.005 + m.delay + 0.3)  # long after: held at the bound, not running off
    assert s.params[YAW] <= newest + MAX_EXTRAPOLATE_S + 0.02


def test_late_frame_correction_is_smooth() -> None:
    m = Motion(IdleLife(seed=1), breathe=False)
    last = feed(m, 30, yaw_at=lambda t: 1.0 * t)
    now = last + 0.005 + m.delay + 0.08
    before = m.sample(now).params[YAW]  # extrapolated ~+0.08 rad
    # The real frame says the head stopped: no jump on arrival, converge within ~0.3 s.
    m.push(frame(30, last + 1 / HZ, yaw=1.0 * last), now)
    after = m.sample(now + 1 / 60).params[YAW]
    assert abs(after - before) < 0.03
    for k in range(20):  # 0.33 s: well before the stream counts as stopped
        s = m.sample(now + (k + 2) / 60)
    assert s.params[YAW] == pytest.approx(1.0 * last, abs=0.005)


def test_eases_into_idle_when_frames_stop() -> None:
    m = Motion(IdleLife(seed=3))
    last = feed(m, 60, yaw_at=lambda t: 0.6)
    t = last + 0.1
    assert m.sample(t).idle_weight == 0.0
    weights = []
    while t < last + STALE_AFTER_S + 1.5:
        t += 1 / 60
        weights.append(m.sample(t).idle_weight)
    assert weights[-1] == 1.0
    assert all(b >= a for a, b in itertools.pairwise(weights)), "monotonic, no bounce"
    # 0.2 s after going stale it is part-way: an ease, not a snap.
    k = round((STALE_AFTER_S + 0.2 - 0.1) * 60)
    assert 0.2 < weights[k] < 0.95


@pytest.mark.parametrize("flags", [FrameFlags(0), FrameFlags.FACE_PRESENT | FrameFlags.PAUSED])
def test_face_lost_or_paused_goes_idle(flags: FrameFlags) -> None:
    m = Motion(IdleLife(seed=3))
    t = 0.0
    for i in range(60):
        t = i / HZ
        m.push(frame(i, t, yaw=0.6, flags=flags), t + 0.005)
        s = m.sample(t + 0.01)
    assert s.idle_weight == 1.0


def test_held_frames_keep_tracking() -> None:
    m = Motion(IdleLife(seed=3))
    for i in range(60):
        t = i / HZ
        m.push(frame(i, t, yaw=0.6, flags=FrameFlags.HELD if i > 30 else None), t + 0.005)
        s = m.sample(t + 0.01)
    assert s.idle_weight == 0.0


def test_present_reports_each_frame_once_in_order() -> None:
    m = Motion(IdleLife(seed=1))
    shown: list[Shown] = []
    for i in range(40):
        t = i / HZ
        # capture_ns: the slot's capture time on our clock (here: 3 ms before arrival)
        m.push(frame(i, t), t + 0.004, capture_ns=round((t + 0.001) * 1e9))
        for k in range(2):
            shown += m.sample(t + 0.004 + k / 60).newly_shown
    seen = [s.seq for s in shown]
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert seen[0] == 0 and seen[-1] >= 37
    for s in shown:  # each report carries that frame's own capture and arrival times
        assert s.capture_ns == round((s.seq / HZ + 0.001) * 1e9)
        assert s.arrival == pytest.approx(s.seq / HZ + 0.004)


def test_idle_life_blinks_at_a_human_rate_and_breathes() -> None:
    life = IdleLife(seed=11)
    t, dt = 0.0, 1 / 60
    closed, blinks, was = 0, 0, False
    breath = []
    while t < 120.0:
        b = life.blink(t)
        if b > 0.9 and not was:
            blinks += 1
        was = b > 0.9
        closed += b > 0.5
        breath.append(life.pose(t)[BREATH])
        t += dt
    assert 20 <= blinks <= 60, blinks  # 2-6 s apart (plus some doubles) over two minutes
    assert closed * dt / blinks < 0.2, "each blink is short (~150 ms)"
    assert max(breath) > 0.95 and min(breath) < -0.95


def test_idle_pose_keeps_moving() -> None:
    life = IdleLife(seed=2)
    a, b = life.pose(10.0), life.pose(10.5)
    assert abs(a[YAW] - b[YAW]) > 1e-4
    assert abs(a[PARAM_INDEX["headRoll"]] - b[PARAM_INDEX["headRoll"]]) > 1e-4


def test_sender_clock_restart_reanchors() -> None:
    m = Motion(IdleLife(seed=1), breathe=False)
    last = feed(m, 30, yaw_at=lambda t: 0.2)
    # Sender restarts: timestamps jump back by an hour; new frames must still be shown.
    for i in range(30):
        t = last + (i + 1) / HZ
        f = frame(100 + i, t - 3600.0, yaw=-0.2)
        m.push(f, t + 0.005)
        s = m.sample(t + 0.01)
    assert s.params[YAW] == pytest.approx(-0.2, abs=0.01)
    assert s.params[JAW] == 0.0
    assert m.sample(t + 0.02).params[BLINK_L] == 0.0


def test_low_latency_mode_extrapolates_with_a_jitter_only_delay() -> None:
    m = Motion(IdleLife(seed=1), breathe=False, low_latency=True)
    last = feed(m, 60, yaw_at=lambda t: 0.5 * t)
    assert m.delay < 0.005
    s = m.sample(last + 0.005 + 0.020)  # 20 ms after the newest frame arrived
    assert s.extrapolating
    assert s.params[YAW] == pytest.approx(0.5 * (last + 0.020), abs=0.004)
