"""One Euro filters per channel group, and a way to measure the lag they add.

The One Euro filter (Casiez, Roussel, Vogel, CHI 2012) is a low-pass whose cutoff rises with the
signal's speed: at rest it removes tracking jitter (low ``min_cutoff``), during fast motion it
opens up (``beta`` x speed) so a blink or a quick mouth movement still reaches its peak. Channel
groups get their own settings because their dynamics differ:

- ``eyes`` (blink, squint, wide, gaze): *light* - a blink lasts ~100-150 ms and must close the
  eye fully, so a high cutoff and a big ``beta``.
- ``brows``: moderate.
- ``mouth`` (jaw, mouth, cheeks, nose): *heavier* - speech jitter is visible on the avatar's mouth.
- ``head_rotation`` / ``head_translation``: *heaviest* - head jitter is the most visible artefact,
  and real heads move slowly compared with eyelids.

Units: ``min_cutoff`` and ``d_cutoff`` in Hz; ``beta`` in Hz per (unit/s) of the channel
(blendshape units, radians, centimetres).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from protocol.blendshapes import BLENDSHAPE_NAMES, NUM_BLENDSHAPES

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FilterParams:
    min_cutoff: float
    beta: float
    d_cutoff: float = 1.0

    def validated(self) -> FilterParams:
        for name in ("min_cutoff", "beta", "d_cutoff"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"smoothing {name} must be a finite number >= 0, got {value}")
        if self.min_cutoff <= 0 or self.d_cutoff <= 0:
            raise ValueError("smoothing min_cutoff and d_cutoff must be > 0")
        return self


#: Defaults tuned on d10 at 30 FPS (raw MediaPipe vs filtered): eyes keep blink peaks within
#: 0.01 of raw (jitter x0.7), mouth/brows jitter x0.5-0.75, head rotation jitter x0.33 with
#: p95 error 0.017 rad. See scripts/bench_tracking.py for the lag each group adds.
DEFAULT_GROUPS: dict[str, FilterParams] = {
    "eyes": FilterParams(min_cutoff=8.0, beta=20.0, d_cutoff=4.0),
    "brows": FilterParams(min_cutoff=3.0, beta=10.0, d_cutoff=4.0),
    "mouth": FilterParams(min_cutoff=3.0, beta=10.0, d_cutoff=4.0),
    "head_rotation": FilterParams(min_cutoff=1.5, beta=2.0, d_cutoff=1.0),
    "head_translation": FilterParams(min_cutoff=1.5, beta=0.3, d_cutoff=1.0),
}


def _group_of(name: str) -> str:
    if name.startswith("eye"):
        return "eyes"
    if name.startswith("brow"):
        return "brows"
    return "mouth"  # jaw*, mouth*, cheek*, nose*, _neutral


#: blendshape group -> channel indexes, in MediaPipe order.
BLENDSHAPE_GROUPS: dict[str, NDArray[np.intp]] = {
    group: np.array([i for i, n in enumerate(BLENDSHAPE_NAMES) if _group_of(n) == group])
    for group in ("eyes", "brows", "mouth")
}
assert sum(len(v) for v in BLENDSHAPE_GROUPS.values()) == NUM_BLENDSHAPES


@dataclass(frozen=True, slots=True)
class SmoothingConfig:
    enabled: bool = True
    groups: dict[str, FilterParams] = field(default_factory=lambda: dict(DEFAULT_GROUPS))

    def updated(self, changes: dict[str, Any]) -> SmoothingConfig:
        """A new config with ``changes`` applied: ``{"enabled": bool, "<group>": {"min_cutoff":
        .., "beta": .., "d_cutoff": ..}}`` (the ``[smoothing]`` table or a ``smoothing``
        command). Raises ValueError naming the bad key."""
        enabled = self.enabled
        groups = dict(self.groups)
        for key, value in changes.items():
            if key == "enabled":
                if not isinstance(value, bool):
                    raise ValueError("smoothing 'enabled' must be true or false")
                enabled = value
            elif key in groups:
                if not isinstance(value, dict):
                    raise ValueError(f"smoothing group {key!r} must be a table of numbers")
                unknown = set(value) - {"min_cutoff", "beta", "d_cutoff"}
                if unknown:
                    raise ValueError(f"unknown smoothing setting(s) {sorted(unknown)} in {key!r}")
                try:
                    numbers = {k: float(v) for k, v in value.items()}
                except (TypeError, ValueError) as e:
                    raise ValueError(f"smoothing group {key!r}: values must be numbers") from e
                groups[key] = replace(groups[key], **numbers).validated()
            else:
                raise ValueError(f"unknown smoothing key {key!r} (groups: {sorted(groups)})")
        return SmoothingConfig(enabled=enabled, groups=groups)

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> SmoothingConfig:
        table = settings.get("smoothing", {})
        return cls().updated(table if isinstance(table, dict) else {})

    def as_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            **{
                g: {"min_cutoff": p.min_cutoff, "beta": p.beta, "d_cutoff": p.d_cutoff}
                for g, p in self.groups.items()
            },
        }


def _alpha(te: float, cutoff: Array | float) -> Array | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / te)


class OneEuroFilter:
    """A One Euro filter over a vector of channels (numpy), stepped with real timestamps."""

    #: Used when two samples share a timestamp (duplicated frame): assume 30 FPS.
    FALLBACK_DT_S = 1.0 / 30.0

    def __init__(self, params: FilterParams) -> None:
        self.params = params
        self._x: Array | None = None
        self._dx: Array | None = None
        self._t = 0.0

    def reset(self) -> None:
        self._x = None
        self._dx = None

    def __call__(self, x: Array, t_s: float) -> Array:
        if self._x is None or self._dx is None:
            self._x = x.copy()
            self._dx = np.zeros_like(x)
            self._t = t_s
            return x.copy()
        te = t_s - self._t
        if te <= 0:
            te = self.FALLBACK_DT_S
        p = self.params
        dx = (x - self._x) / te
        dx_hat = self._dx + _alpha(te, p.d_cutoff) * (dx - self._dx)
        cutoff = p.min_cutoff + p.beta * np.abs(dx_hat)
        x_hat = self._x + _alpha(te, cutoff) * (x - self._x)
        self._x, self._dx, self._t = x_hat, dx_hat, t_s
        return x_hat.copy()


class Smoother:
    """Applies the per-group filters to one frame's blendshapes and head pose."""

    def __init__(self, config: SmoothingConfig | None = None) -> None:
        self.configure(config or SmoothingConfig())

    def configure(self, config: SmoothingConfig) -> None:
        self.config = config
        self._filters = {g: OneEuroFilter(p) for g, p in config.groups.items()}

    def reset(self) -> None:
        for f in self._filters.values():
            f.reset()

    def apply(
        self, weights: Array, rotation: Array, translation: Array, t_s: float
    ) -> tuple[Array, Array, Array]:
        if not self.config.enabled:
            return weights, rotation, translation
        out = np.empty_like(weights)
        for group, idx in BLENDSHAPE_GROUPS.items():
            out[idx] = self._filters[group](weights[idx], t_s)
        rot = self._filters["head_rotation"](rotation, t_s)
        trans = self._filters["head_translation"](translation, t_s)
        return out, rot, trans


def step_lag_ms(params: FilterParams, fps: float = 30.0, amplitude: float = 1.0) -> float:
    """Milliseconds the filter delays the half-way point of a step of ``amplitude``.

    Half-rise time is the usual lag figure for a low-pass; both the raw and the filtered signal
    are sampled at ``fps`` and their half-way crossings interpolated linearly, so the figure is
    the delay the filter adds on top of sampling. The One Euro filter is adaptive, so a big fast
    step (a blink) lags less than a small one (a slow smile); callers report both.
    """
    f = OneEuroFilter(params)
    dt = 1.0 / fps
    half = amplitude / 2
    previous = float(f(np.zeros(1), 0.0)[0])
    for n in range(1, int(fps * 10)):
        y = float(f(np.full(1, amplitude), n * dt)[0])
        if y >= half:
            crossing = (n - 1 + (half - previous) / (y - previous)) * dt
            raw_crossing = dt / 2  # the raw samples jump 0 -> amplitude between t=0 and t=dt
            return (crossing - raw_crossing) * 1000.0
        previous = y
    return math.inf


def lag_report(config: SmoothingConfig, fps: float = 30.0) -> dict[str, dict[str, float]]:
    """Half-rise lag (ms) per group for a large and a small step, at ``fps``."""
    scale = {"head_rotation": 0.3, "head_translation": 5.0}  # big = 17 degrees / 5 cm
    return {
        group: {
            "step_big_ms": round(step_lag_ms(p, fps, scale.get(group, 1.0)), 1),
            "step_small_ms": round(step_lag_ms(p, fps, scale.get(group, 1.0) * 0.1), 1),
        }
        for group, p in config.groups.items()
    }


def amount_groups(amount: float) -> dict[str, dict[str, float]]:
    """The one-knob setting (0 raw .. 0.5 default .. 1 very smooth) as per-group changes:
    ``min_cutoff`` scales by 4x either way (lower cutoff = smoother, laggier). It lives with
    the filter's defaults, which the front-end must not need to know."""
    factor = 4.0 ** ((0.5 - min(1.0, max(0.0, amount))) * 2.0)
    return {
        name: {"min_cutoff": round(p.min_cutoff * factor, 4)} for name, p in DEFAULT_GROUPS.items()
    }
