"""One Euro smoothing: it removes jitter, keeps blinks whole, and its lag is measured."""

from __future__ import annotations

import math

import numpy as np
import pytest

from protocol.blendshapes import BLENDSHAPE_INDEX
from tracking.smoothing import (
    BLENDSHAPE_GROUPS,
    DEFAULT_GROUPS,
    FilterParams,
    OneEuroFilter,
    Smoother,
    SmoothingConfig,
    lag_report,
    step_lag_ms,
)

FPS = 30.0


def test_groups_cover_the_channels_as_documented() -> None:
    eyes = set(BLENDSHAPE_GROUPS["eyes"].tolist())
    assert BLENDSHAPE_INDEX["eyeBlinkLeft"] in eyes and BLENDSHAPE_INDEX["eyeLookInRight"] in eyes
    assert BLENDSHAPE_INDEX["jawOpen"] in set(BLENDSHAPE_GROUPS["mouth"].tolist())
    assert BLENDSHAPE_INDEX["browInnerUp"] in set(BLENDSHAPE_GROUPS["brows"].tolist())


@pytest.mark.parametrize(("group", "ratio"), [("mouth", 0.65), ("head_rotation", 0.45)])
def test_jitter_at_rest_is_reduced(group: str, ratio: float) -> None:
    """At rest (MediaPipe-like jitter of 0.005) the mouth's noise drops by a third or more and
    the head's by more than half: the head group is the heavier one."""
    rng = np.random.default_rng(1)
    noisy = 0.3 + rng.normal(0, 0.005, size=(300, 1))
    f = OneEuroFilter(DEFAULT_GROUPS[group])
    out = np.array([f(x, n / FPS) for n, x in enumerate(noisy)])
    assert np.std(out[30:]) < ratio * np.std(noisy[30:])


def test_a_fast_blink_still_closes_the_eye() -> None:
    """A 170 ms blink (open -> closed -> open) keeps its peak within 0.05 after smoothing."""
    smoother = Smoother()
    blink = BLENDSHAPE_INDEX["eyeBlinkLeft"]
    peak = 0.0
    for n in range(60):
        t = n / FPS
        w = np.zeros(52)
        w[blink] = math.sin(math.pi * (t - 1.0) / 0.17) if 1.0 <= t <= 1.17 else 0.0
        out, _, _ = smoother.apply(w, np.zeros(3), np.zeros(3), t)
        peak = max(peak, out[blink])
    raw_peak = max(math.sin(math.pi * ((k / FPS) - 1.0) / 0.17) for k in range(30, 36))
    assert peak > raw_peak - 0.05 and peak > 0.8


def test_lag_is_measured_and_head_is_heavier_than_eyes() -> None:
    report = lag_report(SmoothingConfig(), FPS)
    for group, figures in report.items():
        assert 0 <= figures["step_big_ms"] <= figures["step_small_ms"] < 200, group
    assert report["head_rotation"]["step_small_ms"] > report["eyes"]["step_small_ms"]
    assert report["mouth"]["step_small_ms"] > report["eyes"]["step_small_ms"]
    # An unfiltered channel would add nothing: a huge cutoff approaches zero lag.
    assert step_lag_ms(FilterParams(1000.0, 0.0), FPS) < 1.0


def test_config_updates_and_validation() -> None:
    config = SmoothingConfig().updated({"eyes": {"min_cutoff": 5, "beta": 1}, "enabled": True})
    assert config.groups["eyes"] == FilterParams(5.0, 1.0, DEFAULT_GROUPS["eyes"].d_cutoff)
    assert config.groups["mouth"] == DEFAULT_GROUPS["mouth"]
    with pytest.raises(ValueError, match="unknown smoothing key"):
        config.updated({"lips": {}})
    with pytest.raises(ValueError, match="min_cutoff"):
        config.updated({"eyes": {"min_cutoff": -1}})
    with pytest.raises(ValueError, match="unknown smoothing setting"):
        config.updated({"eyes": {"speed": 1}})
    assert SmoothingConfig.from_settings({"smoothing": {"enabled": False}}).enabled is False


def test_disabled_smoothing_passes_values_through() -> None:
    smoother = Smoother(SmoothingConfig(enabled=False))
    w = np.linspace(0, 1, 52)
    for n in range(3):
        out, rot, _trans = smoother.apply(w * (n % 2), np.ones(3) * n, np.zeros(3), n / FPS)
        assert np.array_equal(out, w * (n % 2)) and np.array_equal(rot, np.ones(3) * n)


def test_one_knob_amount_maps_onto_the_groups() -> None:
    """The TUI's smoothing slider reaches the tracker as ``Smoothing(amount=...)``; the tracker
    owns the mapping (lower cutoff = smoother) and explicit groups override it."""
    from protocol.commands import Smoothing
    from tracking.runner import smoothing_changes
    from tracking.smoothing import DEFAULT_GROUPS, SmoothingConfig

    default = smoothing_changes(Smoothing(amount=0.5))
    smooth = smoothing_changes(Smoothing(amount=1.0))
    raw = smoothing_changes(Smoothing(enabled=False, amount=0.0))
    assert default["eyes"]["min_cutoff"] == DEFAULT_GROUPS["eyes"].min_cutoff
    assert smooth["eyes"]["min_cutoff"] == DEFAULT_GROUPS["eyes"].min_cutoff / 4
    assert raw["enabled"] is False
    assert SmoothingConfig().updated(raw).enabled is False
    both = smoothing_changes(Smoothing(amount=1.0, groups={"eyes": {"min_cutoff": 9.0}}))
    assert both["eyes"] == {"min_cutoff": 9.0} and both["mouth"] == smooth["mouth"]
