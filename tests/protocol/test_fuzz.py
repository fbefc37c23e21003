"""Fuzz: 100,000+ random and mutated inputs never raise anything but DecodeError, fast.

Per-input time is measured as this thread's CPU time, so the bound holds on a loaded CI box
where wall-clock time would include other processes' turns.
"""

from __future__ import annotations

import random
import time

import pytest

from netlab.attacks.fuzz import mutate
from protocol import DecodeError, ParamFrame
from protocol.ctl import Chat, Hello, Ping, parse_ctl
from protocol.signaling import SignalError, parse_signal

from .test_frame import GOLDEN_EMPTY, GOLDEN_FULL

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

SEEDS = [
    GOLDEN_FULL,
    GOLDEN_EMPTY,
    Hello(name="Ana", avatar_id="fox", avatar_version="1", avatar_hash="ab" * 32).encode(),
    Ping(1, 2).encode(),
    Chat(3, "hello, 안녕").encode(),
]
# Generous: a decode takes ~15 us; a few ms would mean quadratic behaviour or a blow-up.
MAX_CPU_NS_PER_INPUT = 5_000_000


def test_fuzz_decoders_raise_only_decode_error() -> None:
    rng = random.Random(20261125)
    worst_ns = 0
    outcomes = {"ok": 0, "error": 0}
    for i in range(120_000):
        if i % 4 == 0:
            data = rng.randbytes(rng.randint(0, 200))
        else:
            data = mutate(rng, rng.choice(SEEDS))
        decoder = ParamFrame.decode if i % 2 else parse_ctl
        start = time.thread_time_ns()
        try:
            decoder(data)
            outcomes["ok"] += 1
        except DecodeError:
            outcomes["error"] += 1
        worst_ns = max(worst_ns, time.thread_time_ns() - start)
    assert outcomes["error"] > 50_000  # the fuzzer really produced bad inputs
    assert outcomes["ok"] > 100  # ...and some valid mutants (e.g. changed values)
    assert worst_ns < MAX_CPU_NS_PER_INPUT, f"slowest input took {worst_ns / 1e6:.2f} ms CPU"


def test_fuzz_signaling_parser_raises_only_signal_error() -> None:
    rng = random.Random(7)
    alphabet = '{}[]":,0123456789.-eE truefalsnul\\u"vtypejoinroomsdpofferanswer'
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        try:
            parse_signal(text)
        except SignalError:
            pass
    deep = "[" * 100_000 + "]" * 100_000
    try:
        parse_signal(deep)
    except SignalError as e:
        assert e.code in ("bad_json", "too_large")
