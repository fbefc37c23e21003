"""Lip sync in the motion model (no window): the peer's avatar is shown as late as its voice
plays, approached slowly, never earlier than the stream allows; VOICE_MOUTH frames drive the
mouth while the face idles."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from protocol.blendshapes import BLENDSHAPE_INDEX, NUM_BLENDSHAPES
from protocol.frame import FrameFlags, ParamFrame
from render_window.idle import IdleLife
from render_window.lipsync import SLEW
from render_window.motion import Motion
from render_window.params import PARAM_INDEX

YAW = PARAM_INDEX["headYaw"]
JAW = PARAM_INDEX["jawOpen"]
PUCKER = PARAM_INDEX["mouthPucker"]
HZ = 30.0
FPS = 60.0
SENDER = 500.0  # the sender's clock: unrelated to ours
TRANSIT = 0.030  # capture -> arrival


def make(
    seq: int, t: float, flags: FrameFlags, jaw: float = 0.0, pucker: float = 0.0
) -> ParamFrame:
    w = [0.0] * NUM_BLENDSHAPES
    w[BLENDSHAPE_INDEX["jawOpen"]] = jaw
    w[BLENDSHAPE_INDEX["mouthPucker"]] = pucker
    # yaw encodes the capture time (mod 2 s) so the shown pose says which instant it is
    return ParamFrame.from_weights(
        seq, round((t + SENDER) * 1e6), w, head_rotation=(0.0, (t % 2.0) - 1.0, 0.0), flags=flags
    )


def run(
    m: Motion,
    seconds: float,
    start: float = 0.0,
    flags: FrameFlags = FrameFlags.FACE_PRESENT,
    jaw: Callable[[float], float] = lambda t: 0.0,
    after: Callable[[float], None] = lambda now: None,
) -> list[tuple[float, float, float]]:
    """Frames captured at 30 Hz on our clock (capture_ns known) arrive TRANSIT later; the
    window samples at 60 Hz. Returns (now, capture instant shown, jawOpen) per sample."""
    out = []
    i = 0
    for k in range(int(seconds * FPS)):
        now = start + k / FPS
        while start + i / HZ + TRANSIT <= now:
            t = start + i / HZ
            m.push(make(round(t * HZ), t, flags, jaw=jaw(t)), t + TRANSIT, round(t * 1e9))
            i += 1
        p = m.sample(now).params
        after(now)
        out.append((now, float(p[YAW]), float(p[JAW])))
    return out


def wrap(x: float) -> float:
    """A difference of two encoded times, folded into -1..1 s."""
    return (x + 1.0) % 2.0 - 1.0


def test_no_delay_is_the_low_latency_path() -> None:
    a = Motion(IdleLife(seed=1), breathe=False, low_latency=True)
    b = Motion(IdleLife(seed=1), breathe=False, low_latency=True)
    b.lipsync.set_target(0.0)
    assert run(a, 2.0) == run(b, 2.0)


def test_delay_shows_the_frame_captured_that_long_ago() -> None:
    m = Motion(IdleLife(seed=1), breathe=False, low_latency=True)
    m.lipsync.set_target(200.0)
    samples = run(m, 6.0)  # 200 ms at 0.1 s/s takes 2 s to reach
    assert abs(m.lipsync.applied - 0.200) < 0.005
    # The pose shown at `now` is the one captured at now - 200 ms (interpolated; away from
    # the instants where the encoded time wraps).
    errors = [
        abs(wrap((now - 0.200) - (shown + 1.0)))
        for now, shown, _ in samples
        if now > 3.0 and 0.1 < (now - 0.2) % 2.0 < 1.9
    ]
    assert len(errors) > 100
    assert max(errors) < 0.004


def test_delay_is_approached_slowly_and_released() -> None:
    m = Motion(IdleLife(seed=1), breathe=False, low_latency=True)
    run(m, 1.0)
    m.lipsync.set_target(300.0)
    samples = run(m, 1.0, start=1.0)
    # The shown instant moves at most SLEW slower than real time: no freeze, no jump.
    rates = [wrap(b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.pairwise(samples)]
    assert min(rates) > 1.0 - SLEW - 0.02
    assert 0.09 < m.lipsync.applied < 0.11
    m.lipsync.set_target(0.0)
    run(m, 2.0, start=2.0)
    assert m.lipsync.applied == 0.0


def test_a_delay_shorter_than_the_stream_changes_nothing() -> None:
    # The window never shows a frame before the motion's own playout clock would: an audio
    # path faster than the avatar's leaves it on its own path.
    a = Motion(IdleLife(seed=1), breathe=False)
    b = Motion(IdleLife(seed=1), breathe=False)
    b.lipsync.set_target(5.0)
    b.lipsync.applied = 0.005
    assert run(a, 2.0) == run(b, 2.0)


def test_voice_mouth_drives_the_mouth_while_the_face_idles() -> None:
    talking = lambda t: 0.8 if int(t * 4) % 2 else 0.0  # noqa: E731 - open/close at 4 Hz
    m = Motion(IdleLife(seed=1), breathe=False)
    voice = run(m, 3.0, flags=FrameFlags.VOICE_MOUTH, jaw=talking)
    jaws = [j for now, _, j in voice if now > 1.0]
    assert max(jaws) > 0.7 and min(jaws) < 0.1  # the mouth follows the voice
    assert m.idle_weight == 1.0  # and the face idles
    # The same frames without the flag: the face idles, mouth included.
    m2 = Motion(IdleLife(seed=1), breathe=False)
    idle = run(m2, 3.0, flags=FrameFlags(0), jaw=talking)
    assert max(j for now, _, j in idle if now > 1.0) < 0.2


def test_voice_mouth_eases_out_when_the_face_returns() -> None:
    m = Motion(IdleLife(seed=1), breathe=False)
    run(m, 1.0, flags=FrameFlags.VOICE_MOUTH, jaw=lambda t: 0.6)
    assert m.lipsync.mouth_w == 1.0
    run(m, 1.0, start=1.0, flags=FrameFlags.FACE_PRESENT, jaw=lambda t: 0.3)
    assert m.lipsync.mouth_w == 0.0
    assert abs(float(m.sample(2.0).params[JAW]) - 0.3) < 0.02


def test_the_own_path_is_reported_without_the_hold() -> None:
    """What the window tells call/ (VideoPathDelay): capture -> present of the motion's own
    sample time, a running median, the same with or without a lip-sync hold (a hold is the
    window's own doing, not the path's), and nothing without new frames on screen."""
    draw = 0.004  # present 4 ms after the instant the frame was posed for

    def own_paths(m: Motion) -> list[float]:
        out: list[float] = []

        def present(now: float) -> None:
            m.lipsync.presented(round((now + draw) * 1e9))
            out.append(m.lipsync.path_ms() or 0.0)

        run(m, 4.0, after=present)
        return out

    plain = Motion(IdleLife(seed=1), breathe=False)
    paths = own_paths(plain)
    expected = (TRANSIT + plain.delay + draw) * 1000.0
    assert abs(paths[-1] - expected) < 1.0, (paths[-1], expected)
    held = Motion(IdleLife(seed=1), breathe=False)
    held.lipsync.set_target(250.0)
    held_paths = own_paths(held)
    assert held.lipsync.applied > 0.2  # the avatar is held back...
    assert abs(held_paths[-1] - paths[-1]) < 1.0  # ...and its path is not
    event = held.lipsync.report()
    assert event is not None and event.delay_ms == held_paths[-1] and event.frames == 60
    assert held.lipsync.report() is None  # no new frames presented: no new report
