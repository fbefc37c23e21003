"""Mouth blendshapes from the voice, in real time, on the CPU (pure numpy, no model).

Used when the face is not tracked (face lost, camera off or paused, no camera at all): the
peer process fills the mouth channels of its outgoing frames from the microphone so the other
side still sees the lips move with the voice (see :mod:`peer.voice.mouth_frames`). It runs on
the *sender*: that is where the clean microphone signal is (the receiver only has the
delayed, lossy, concealed stream), it works with any receiver -- an older peer that knows
nothing of voice just sees mouth blendshapes -- and costs one estimator per speaker.

Method, every 10 ms hop over a 25 ms window (decimated to 16 kHz):

- **Openness from energy.** The frame's RMS level is compared with a tracked noise floor
  (slow rise, fast fall) and a tracked speech level (fast rise, slow fall); the position of
  the level between the two gives a 0..1 "gate". Silence and bilabial closures (p, b, m: the
  lips stop the sound, or only a nasal murmur gets out) are quiet, vowels are loud.
- **Vowel shape from formants.** Linear prediction (order 18, autocorrelation method) on the
  pre-emphasised window; the peaks of the predictor's envelope give the resonances; F1 and F2
  (the two lowest with a narrow bandwidth) place the vowel: F1 grows
  with the jaw opening, F2 falls with rounding and backing. The nearest of Peterson & Barney's
  (1952) average vowels (in a log-frequency plane) gives the class A/E/I/O/U, and F1 also sets
  how far the jaw opens. A murmur with almost no energy above 2 kHz and a low F1 is a nasal
  or a voiced closure (m, b): the lips are closed.
- **Blendshapes** (MediaPipe names): jawOpen from gate and F1; mouthFunnel/mouthPucker for
  O/U (rounded); mouthStretch and a little mouthSmile for I/E (spread); mouthClose and
  mouthPress when the lips are shut while the voice goes on (a nasal murmur). Each channel is
  smoothed with a fast attack (~10 ms) and a slower release (~25 ms): lips open quickly and
  close a touch slower, which reads as natural and hides 10 ms hop jitter.

Cost: the level every 10 ms hop, the formants every 20 ms (:data:`FORMANT_EVERY`: LPC by one
linear solve, resonances from one FFT of the predictor instead of its roots): about 1% of a
core while voiced (``mouth_cpu_pct`` of ``scripts/bench_voice.py --only lipsync``), less in
pauses; while the face is tracked only the level runs (:attr:`MouthEstimator.formants`), for
all the hops of a block at once (:meth:`MouthEstimator._levels_only`: 48 against 74 us a block
on the shared test machine).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

#: Analysis rate: 16 kHz keeps the first three formants and makes LPC cheap.
RATE = 16000
HOP_S = 0.010
WINDOW_S = 0.025
LPC_ORDER = 18
#: Formants are analysed every this many hops (20 ms), the level every hop.
FORMANT_EVERY = 2
PRE_EMPHASIS = 0.97
#: Mouth channels this module writes (others in a frame are left alone).
MOUTH_CHANNELS: tuple[str, ...] = (
    "jawOpen",
    "mouthClose",
    "mouthFunnel",
    "mouthPucker",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
)
VOWELS = ("A", "E", "I", "O", "U")
#: Peterson & Barney (1952), adult male averages (F1, F2 Hz), by the class their lips take
#: (American English vowels).
_PROTOTYPES: tuple[tuple[str, float, float], ...] = (
    ("I", 270, 2290),  # i (beet)
    ("I", 390, 1990),  # I (bit)
    ("E", 530, 1840),  # E (bet)
    ("A", 660, 1720),  # ae (bat)
    ("A", 730, 1090),  # a (father)
    ("A", 640, 1190),  # V (but)
    ("O", 570, 840),  # O (bought)
    ("O", 497, 910),  # o (boat; Hillenbrand et al. 1995: P&B have no /o/)
    ("U", 440, 1020),  # U (book)
    ("U", 300, 870),  # u (boot)
)
_PROTO_XY = np.array([[math.log(f1), math.log(f2)] for _, f1, f2 in _PROTOTYPES])
_PROTO_CLASS = tuple(c for c, _, _ in _PROTOTYPES)
#: F1 matters more than F2 for the lips (jaw height): weight it up in the distance.
_F1_WEIGHT = 1.6
#: Gate: the level (dB) must be this far over the noise floor to count as voice at all, and
#: reaches 1 this far below the tracked speech level.
GATE_FLOOR_DB = 9.0
GATE_TOP_DB = 6.0
ATTACK_S = 0.010
RELEASE_S = 0.025
#: A voiced frame with less than this share of its energy above 2 kHz (and a low F1) is a
#: murmur through closed lips: nasals (m) and voiced stop closures (b) measure 0.3-0.5%,
#: vowels 4-20% (espeak-ng and recorded speech alike: the closed lips and the nasal tract
#: absorb the high frequencies).
NASAL_HIGH_SHARE = 0.015
#: jawOpen above this reads as an open mouth (the open/closed score uses it).
OPEN_THRESHOLD = 0.12
#: Digital silence floor (dBFS): the level never counts below this.
MIN_DB = -90.0

#: Class -> (jaw scale, funnel, pucker, stretch, smile): how each vowel shapes the lips.
_SHAPES: dict[str, tuple[float, float, float, float, float]] = {
    "A": (1.0, 0.0, 0.0, 0.05, 0.05),
    "E": (0.8, 0.0, 0.0, 0.35, 0.2),
    "I": (0.55, 0.0, 0.0, 0.5, 0.3),
    "O": (0.8, 0.6, 0.3, 0.0, 0.0),
    "U": (0.5, 0.35, 0.75, 0.0, 0.0),
}

Floats = npt.NDArray[np.float64]
#: Per-hop smoothing steps toward a rising / falling target.
_UP = 1.0 - math.exp(-HOP_S / ATTACK_S)
_DOWN = 1.0 - math.exp(-HOP_S / RELEASE_S)


@dataclass(slots=True)
class MouthShape:
    """One estimate: the blendshape weights (0..1) and what they were made from."""

    weights: dict[str, float]
    #: End of the analysed audio, in the caller's clock (ns), minus half a window: the
    #: instant the shape describes.
    at_ns: int
    level_db: float = MIN_DB
    gate: float = 0.0
    f1: float = 0.0
    f2: float = 0.0
    vowel: str | None = None
    nasal: bool = False
    extras: dict[str, float] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return self.weights["jawOpen"] > OPEN_THRESHOLD


class MouthEstimator:
    """Feed microphone blocks with :meth:`feed`; each returns the shapes of the hops completed
    in it (one per 10 ms), newest last. Not thread-safe."""

    def __init__(self, sample_rate: int = 48000) -> None:
        if sample_rate <= 0 or sample_rate % RATE:
            raise ValueError(f"sample rate {sample_rate} is not a multiple of {RATE}")
        self.sample_rate = sample_rate
        self._k = sample_rate // RATE
        self._hop = round(HOP_S * RATE)
        self._win = round(WINDOW_S * RATE)
        self._window = np.hamming(self._win)
        self._buf = np.zeros(0, dtype=np.float64)  # 16 kHz samples not yet consumed
        self._carry = np.zeros(0, dtype=np.float64)  # input-rate samples before decimation
        self._floor_db = -60.0
        self._speech_db = -20.0
        self._smoothed = dict.fromkeys(MOUTH_CHANNELS, 0.0)
        #: Every smoothed weight is exactly 0 (a closed mouth at rest): a closed target then
        #: changes nothing, so :meth:`_levels_only` skips building and smoothing it.
        self._at_rest = True
        self._vowel: str | None = None
        self._end_ns = 0
        self.hops = 0
        self._formants_of: tuple[float, float, float] | None = None  # the last (F1, F2, high)
        #: False: track levels only (no LPC: ~10x cheaper), while nobody needs the shapes (the
        #: face is tracked); the noise floor and speech level stay warm for when they are.
        self.formants = True

    # -- input -----------------------------------------------------------------------------
    def feed(self, pcm: npt.ArrayLike, capture_ns: int = 0) -> list[MouthShape]:
        """Analyse a block (int16 or float -1..1, mono) whose first sample was captured at
        ``capture_ns``; returns a shape per completed 10 ms hop."""
        arr = np.asarray(pcm)
        if self._silence_continues(arr):
            return self._silent_block(arr.size, capture_ns)
        x = arr.astype(np.float64) / 32768.0 if arr.dtype == np.int16 else arr.astype(np.float64)
        x = x.reshape(-1)
        if x.size == 0:
            return []
        self._end_ns = capture_ns + round(x.size / self.sample_rate * 1e9)
        self._buf = np.concatenate((self._buf, self._decimate(x)))
        if not self.formants:
            return self._levels_only()
        shapes: list[MouthShape] = []
        hop, win = self._hop, self._win
        while self._buf.size >= win:
            at_ns = self._window_ns(self._buf.size - win)
            shapes.append(self._analyse(self._buf[:win], at_ns))
            self._buf = self._buf[hop:]
        return shapes

    def _window_ns(self, after: int) -> int:
        """The capture time of a window's middle, given the decimated samples buffered
        ``after`` its end (the block's last sample was captured at ``_end_ns``)."""
        return self._end_ns - round((after / RATE + WINDOW_S / 2) * 1e9)

    def _decimate(self, x: Floats) -> Floats:
        """To 16 kHz: the mean of each group of ``rate / 16000`` samples (a box filter: its
        first null is at 16 kHz and what aliases from above 8 kHz is weak in speech and far
        above the formants that matter here)."""
        k = self._k
        if k == 1:
            return x
        full = np.concatenate((self._carry, x)) if self._carry.size else x
        whole = full.size - full.size % k
        self._carry = full[whole:].copy()
        # sum * 1/k rather than mean(): the same box filter without numpy's Python-level
        # mean wrapper (a third of the levels-only cost per block).
        out: Floats = full[:whole].reshape(-1, k).sum(axis=1) * (1.0 / k)
        return out

    def _levels_only(self) -> list[MouthShape]:
        """:meth:`feed` while :attr:`formants` is off (the face is tracked): the same shapes
        as :meth:`_analyse` gives without formants (levels, gate, and the mouth they open with
        the last vowel seen, smoothed: the shapes of the last half second are what the first
        frames without a face get), with the energy of every window of the block from one
        cumulative sum instead of a numpy reduction per hop."""
        hop, win, buf = self._hop, self._win, self._buf
        if buf.size < win:
            return []
        n = (buf.size - win) // hop + 1
        sq = np.concatenate(([0.0], np.cumsum(buf * buf)))
        starts = np.arange(n) * hop
        energy = (sq[starts + win] - sq[starts]).tolist()
        self._buf = buf[n * hop :]
        return self._level_shapes(energy, buf.size)

    def _silence_continues(self, arr: npt.NDArray[Any]) -> bool:
        """Levels only, a block of int16 zeros, and nothing but zeros buffered: every window
        is silent, its energy exactly 0 (:meth:`_silent_block`)."""
        return (
            not self.formants
            and arr.dtype == np.int16
            and arr.size > 0
            and arr.size % self._k == 0
            and not self._carry.size
            and not arr.any()
            and not self._buf.any()
        )

    def _silent_block(self, size: int, capture_ns: int) -> list[MouthShape]:
        """:meth:`feed` for a block of digital silence after silence (a muted microphone, or
        none): the same shapes, without the numpy work of decimating and summing zeros
        (issue 14's CPU budget: about half the instructions of such a block)."""
        self._end_ns = capture_ns + round(size / self.sample_rate * 1e9)
        hop, win = self._hop, self._win
        total = self._buf.size + size // self._k
        n = (total - win) // hop + 1 if total >= win else 0
        self._buf = np.zeros(total - n * hop)
        return self._level_shapes([0.0] * n, total) if n else []

    def _level_shapes(self, energy: list[float], size: int) -> list[MouthShape]:
        """One shape per window energy (:meth:`_levels_only`), ``size`` decimated samples
        having been buffered before the first window was consumed."""
        hop, win = self._hop, self._win
        self._formants_of = None
        shapes: list[MouthShape] = []
        for j, e in enumerate(energy):
            at_ns = self._window_ns(size - win - j * hop)
            level, gate = self._gate(math.sqrt(max(e, 0.0) / win))
            self.hops += 1
            if gate > 0.0 or not self._at_rest:  # silence at rest stays at rest: skip it
                self._smooth(_shape(gate, 0.0, self._vowel, False))
            shapes.append(MouthShape(dict(self._smoothed), at_ns, level, gate))
        return shapes

    # -- analysis ---------------------------------------------------------------------------
    def _gate(self, rms: float) -> tuple[float, float]:
        """A window's level (dB) and gate (0..1), updating the noise floor and speech level."""
        level = max(MIN_DB, 20.0 * math.log10(rms + 1e-12))
        # Noise floor: falls at once, rises 3 dB/s; speech level: rises at once, falls 2 dB/s.
        self._floor_db = level if level < self._floor_db else self._floor_db + 3.0 * HOP_S
        self._speech_db = (
            level if level > self._speech_db else max(self._speech_db - 2.0 * HOP_S, -45.0)
        )
        lo = self._floor_db + GATE_FLOOR_DB
        hi = max(lo + 3.0, self._speech_db - GATE_TOP_DB)
        return level, min(1.0, max(0.0, (level - lo) / (hi - lo)))

    def _analyse(self, frame: Floats, at_ns: int) -> MouthShape:
        self.hops += 1
        level, gate = self._gate(float(np.sqrt(np.mean(frame * frame))))
        f1 = f2 = 0.0
        vowel: str | None = None
        nasal = False
        if gate > 0.0 and self.formants:
            # Formants every FORMANT_EVERY hops (the vocal tract moves slower than the level;
            # frames go out at 30 Hz), the level and gate every hop.
            if self._formants_of is None or self.hops % FORMANT_EVERY == 0:
                self._formants_of = _formants(frame, self._window)
            f1, f2, high_share = self._formants_of
            if high_share < NASAL_HIGH_SHARE and f1 < 450.0:
                nasal = True  # a murmur with nothing above 2 kHz: the lips are shut (m, b)
            elif f1 > 250.0 and f2 > f1:
                vowel = _classify(f1, f2)
        else:
            self._formants_of = None
        if vowel is not None:
            self._vowel = vowel
        target = _shape(gate, f1, vowel or self._vowel, nasal)
        self._smooth(target)
        return MouthShape(dict(self._smoothed), at_ns, level, gate, f1, f2, vowel, nasal)

    def _smooth(self, target: dict[str, float]) -> None:
        up, down = _UP, _DOWN
        for k, t in target.items():
            v = self._smoothed[k]
            v += (t - v) * (up if t > v else down)
            self._smoothed[k] = v if v >= 1e-4 else 0.0  # a closed mouth is exactly closed
        self._at_rest = not any(self._smoothed.values())

    def rest(self) -> dict[str, float]:
        """The current smoothed weights (what a frame built now should carry)."""
        return dict(self._smoothed)


def _shape(gate: float, f1: float, vowel: str | None, nasal: bool) -> dict[str, float]:
    out = dict.fromkeys(MOUTH_CHANNELS, 0.0)
    if nasal:
        out["mouthClose"] = 0.5
        out["mouthPressLeft"] = out["mouthPressRight"] = 0.3
        return out
    if gate <= 0.0:
        return out
    jaw_scale, funnel, pucker, stretch, smile = _SHAPES.get(vowel or "A", (0.7, 0, 0, 0, 0))
    # Jaw height follows F1 (250 Hz closed-ish .. 800 Hz wide open); unknown F1: mid.
    openness = min(1.0, max(0.3, (f1 - 200.0) / 600.0)) if f1 > 0 else 0.5
    g = gate**0.7  # quieter syllables still open the mouth visibly
    out["jawOpen"] = min(1.0, 0.75 * g * jaw_scale * (0.5 + openness))
    out["mouthFunnel"] = g * funnel
    out["mouthPucker"] = g * pucker
    out["mouthStretchLeft"] = out["mouthStretchRight"] = g * stretch
    out["mouthSmileLeft"] = out["mouthSmileRight"] = g * smile
    out["mouthLowerDownLeft"] = out["mouthLowerDownRight"] = 0.5 * out["jawOpen"]
    out["mouthUpperUpLeft"] = out["mouthUpperUpRight"] = 0.2 * out["jawOpen"]
    return out


def _formants(frame: Floats, window: Floats) -> tuple[float, float, float]:
    """(F1, F2, share of spectral energy above 2 kHz) of one window; F = 0 when not found."""
    x = np.append(frame[0], frame[1:] - PRE_EMPHASIS * frame[:-1]) * window
    spec = np.abs(np.fft.rfft(frame * window, _NFFT)) ** 2
    total = float(spec.sum()) + 1e-20
    high_share = float(spec[_CUT_2K:].sum()) / total
    a = _lpc(x, LPC_ORDER)
    if a is None:
        return 0.0, 0.0, high_share
    found = _resonances(a)
    f1 = found[0] if len(found) > 0 else 0.0
    f2 = found[1] if len(found) > 1 else 0.0
    return f1, f2, high_share


#: Spectrum size: 31.25 Hz bins at 16 kHz (peaks are placed between bins, see _resonances).
_NFFT = 512
_HZ_PER_BIN = RATE / _NFFT
_CUT_2K = int(2000 / _HZ_PER_BIN)
_LO_BIN = int(150 / _HZ_PER_BIN)
_HI_BIN = int(4000 / _HZ_PER_BIN) + 2
#: A resonance this wide or wider is not a formant (the bandwidth a pole at radius r has:
#: -fs/pi ln r).
MAX_BANDWIDTH_HZ = 500.0


def _resonances(a: Floats) -> list[float]:
    """Centre frequencies (Hz, ascending, 150..4000) of the predictor's narrow resonances.

    The LPC envelope 1/|A(f)|^2 is evaluated with one FFT of the polynomial and its peaks
    are placed by a parabola through the log-envelope at the peak bin and its neighbours. The
    parabola's curvature gives the bandwidth: near a single pole pair the envelope is
    1/((f - F)^2 + (B/2)^2), whose log has second derivative -8/B^2 at F. This replaces the
    roots of the degree-18 polynomial (an 18x18 eigenvalue problem, ~70% of the estimator's
    CPU) and gives the same F1/F2 to within a few Hz on speech (tests/peer/test_mouth.py),
    far below the spacing of the vowel prototypes."""
    log_env = -np.log(np.abs(np.fft.rfft(a, _NFFT)[: _HI_BIN + 1]) ** 2 + 1e-30)
    mid = log_env[1:-1]
    peaks = np.flatnonzero((mid > log_env[:-2]) & (mid >= log_env[2:])) + 1
    out: list[float] = []
    for k in peaks:
        if k < _LO_BIN:
            continue
        left, centre, right = log_env[k - 1], log_env[k], log_env[k + 1]
        curve = left - 2.0 * centre + right  # per bin^2, negative at a peak
        if curve >= 0.0:
            continue
        shift = 0.5 * (left - right) / curve
        freq = (k + shift) * _HZ_PER_BIN
        bandwidth = math.sqrt(-8.0 / curve) * _HZ_PER_BIN
        if 150.0 < freq < 4000.0 and bandwidth < MAX_BANDWIDTH_HZ:
            out.append(freq)
    return out


#: Indices of the autocorrelation (Toeplitz) matrix of the normal equations.
_TOEPLITZ = np.abs(np.subtract.outer(np.arange(LPC_ORDER), np.arange(LPC_ORDER)))


def _lpc(x: Floats, order: int = LPC_ORDER) -> Floats | None:
    """Predictor polynomial [1, a1..ap] by the autocorrelation method: the normal equations
    R a = -r solved directly (one LAPACK call; the same solution Levinson-Durbin's recursion
    gives, which in Python was a loop of small numpy calls and half the estimator's CPU).
    None when the window has no energy or the system is not positive definite (the recursion's
    "error <= 0": an unstable predictor)."""
    if order != LPC_ORDER:
        raise ValueError(f"order {order}: only {LPC_ORDER} is precomputed")
    r = np.correlate(np.concatenate((x, np.zeros(order))), x, mode="valid")[: order + 1].copy()
    if r[0] <= 1e-12:
        return None
    r[0] *= 1.0 + 1e-9  # white-noise correction: keeps the system well conditioned
    try:
        coef = np.linalg.solve(r[_TOEPLITZ], -r[1:])
    except np.linalg.LinAlgError:
        return None
    if r[0] + float(np.dot(coef, r[1:])) <= 0:  # prediction error: not positive
        return None
    return np.concatenate(([1.0], coef))


def _classify(f1: float, f2: float) -> str:
    d = _PROTO_XY - np.array([math.log(f1), math.log(f2)])
    dist = (_F1_WEIGHT * d[:, 0]) ** 2 + d[:, 1] ** 2
    return _PROTO_CLASS[int(np.argmin(dist))]
