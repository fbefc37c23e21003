"""Synthetic speech with ground truth: espeak-ng's samples and its phoneme timings.

The voice tests and ``scripts/bench_voice.py`` need speech whose every phoneme is known to the
millisecond (lip-sync scoring) and that needs no recording on disk. espeak-ng (Debian
``espeak-ng``; ``libespeak-ng1``) synthesises it; its C API reports an
``espeakEVENT_PHONEME`` event with the phoneme's mnemonic and its audio position for each
phoneme it speaks, which the command line does not (``--pho`` is for mbrola voices only and
``-X`` prints no times). So this module calls ``libespeak-ng.so.1`` through ctypes in
synchronous mode: the callback collects the samples and the events together, on the same
timeline.

Phoneme mnemonics are espeak's (``phsource/phonemes``, English: ``a``, ``E``, ``i:``, ``aI``,
``p``, ``m``, ``_:`` for a pause ...); :func:`mouth_class` maps them to what the mouth does.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: espeak_AUDIO_OUTPUT: AUDIO_OUTPUT_SYNCHRONOUS (samples through the callback, no device).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
#: espeak_Initialize option: espeakINITIALIZE_PHONEME_EVENTS.
_PHONEME_EVENTS = 0x0001
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_RATE = 1


class _EventId(ctypes.Union):
    _fields_ = (
        ("number", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("string", ctypes.c_char * 8),
    )


class _Event(ctypes.Structure):
    """``espeak_EVENT`` (speak_lib.h)."""

    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class SpeechUnavailable(RuntimeError):
    """libespeak-ng is not installed (``apt-get install espeak-ng``)."""


@dataclass(frozen=True, slots=True)
class Phoneme:
    """One spoken phoneme: its espeak mnemonic and when it sounds, in seconds from the start."""

    name: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Speech:
    """Synthesised speech: mono int16 samples at ``rate`` and its phonemes in order."""

    samples: npt.NDArray[np.int16]
    rate: int
    phonemes: tuple[Phoneme, ...]
    words: tuple[float, ...]

    @property
    def seconds(self) -> float:
        return self.samples.size / self.rate

    def resampled(self, rate: int) -> npt.NDArray[np.int16]:
        """The samples at ``rate`` (linear interpolation: fine for speech under 11 kHz)."""
        return resample(self.samples, self.rate, rate)


_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_lib_rate = 0


def _load() -> tuple[ctypes.CDLL, int]:
    global _lib, _lib_rate
    if _lib is None:
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:
            raise SpeechUnavailable(
                f"libespeak-ng not found ({e}): apt-get install espeak-ng"
            ) from e
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _PHONEME_EVENTS)
        if rate <= 0:
            raise SpeechUnavailable(f"espeak_Initialize failed ({rate})")
        lib.espeak_SetSynthCallback.argtypes = (_Callback,)
        lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        lib.espeak_Synth.argtypes = (
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_void_p,
        )
        _lib, _lib_rate = lib, rate
    return _lib, _lib_rate


def synthesize(text: str, voice: str = "en", words_per_minute: int = 160) -> Speech:
    """``text`` spoken by espeak-ng, with every phoneme's start and end."""
    with _lock:
        lib, rate = _load()
        chunks: list[npt.NDArray[np.int16]] = []
        events: list[tuple[int, str, int]] = []  # (type, phoneme, audio ms)

        def on_synth(
            wav: ctypes._Pointer[ctypes.c_short], n: int, ev: ctypes._Pointer[_Event]
        ) -> int:
            if n > 0 and wav:
                chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).astype(np.int16).copy())
            i = 0
            while ev[i].type != _EVENT_LIST_TERMINATED:
                e = ev[i]
                if e.type == _EVENT_PHONEME:
                    name = bytes(e.id.string).split(b"\0", 1)[0].decode("ascii", "replace")
                    events.append((e.type, name, e.audio_position))
                elif e.type == _EVENT_WORD:
                    events.append((e.type, "", e.audio_position))
                i += 1
            return 0

        callback = _Callback(on_synth)
        lib.espeak_SetSynthCallback(callback)
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise SpeechUnavailable(f"espeak-ng has no voice {voice!r}")
        lib.espeak_SetParameter(_RATE, words_per_minute, 0)
        data = text.encode() + b"\0"
        lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    end = samples.size / rate
    marks = [(name, ms / 1000.0) for typ, name, ms in events if typ == _EVENT_PHONEME]
    phonemes = tuple(
        Phoneme(name, t, marks[i + 1][1] if i + 1 < len(marks) else end)
        for i, (name, t) in enumerate(marks)
    )
    words = tuple(ms / 1000.0 for typ, _, ms in events if typ == _EVENT_WORD)
    return Speech(samples, rate, phonemes, words)


def resample(pcm: npt.NDArray[np.int16], src: int, dst: int) -> npt.NDArray[np.int16]:
    """Linear-interpolation resampling of mono int16 samples."""
    if src == dst or pcm.size == 0:
        return pcm
    n = round(pcm.size * dst / src)
    t = np.arange(n) * (src / dst)
    out: npt.NDArray[np.int16] = np.interp(t, np.arange(pcm.size), pcm.astype(np.float64)).astype(
        np.int16
    )
    return out


# -- what the mouth does for each phoneme -------------------------------------------------------
#: Vowel class of espeak's English vowels (the first target of a diphthong decides). Reduced
#: vowels (schwa ``@``, ``3``, ``a#``) have no stable target and are scored as open only.
VOWEL_CLASS: dict[str, str] = {
    **dict.fromkeys(("a", "A:", "A@", "aI", "aU", "V", "aa", "A"), "A"),
    **dict.fromkeys(("E", "e", "eI", "e@", "E2", "E@"), "E"),
    **dict.fromkeys(("I", "i", "i:", "I@", "I2", "i@", "IR"), "I"),
    **dict.fromkeys(("O", "O:", "0", "oU", "OI", "o@", "O@", "o", "0@"), "O"),
    **dict.fromkeys(("U", "u:", "U@", "u"), "U"),
}
#: American English (``en-us``) says espeak's ``0`` (lot, dog, Bob) as an open unrounded [ɑ]:
#: an A mouth there, where British English rounds it.
VOWEL_CLASS_EN_US: dict[str, str] = {**VOWEL_CLASS, "0": "A"}


def vowel_classes(voice: str) -> dict[str, str]:
    """The vowel classes of ``voice``'s phonemes."""
    return VOWEL_CLASS_EN_US if voice.startswith("en-us") else VOWEL_CLASS


#: Vowels with no vowel class of their own (still open mouths).
REDUCED_VOWELS = frozenset({"@", "3", "3:", "a#", "@2", "@5", "@L", "I#", "i@3"})
#: Lips together: the bilabials, and silence (espeak's pauses).
CLOSED = frozenset({"p", "b", "m", "_", "_:", "_!", "_|", "_;", "_^_"})


def mouth_class(name: str) -> str:
    """``"open"`` (a vowel), ``"closed"`` (lips shut: bilabial or pause) or ``"other"``
    (consonants where the mouth is half open and scoring it either way would be arbitrary)."""
    if name in VOWEL_CLASS or name in REDUCED_VOWELS or name.startswith("@"):
        return "open"
    if name in CLOSED or name.startswith("_"):
        return "closed"
    return "other"


# -- scoring a voice-driven mouth against the phonemes -----------------------------------------
#: espeak-ng's event times sit within a few tens of ms of the acoustic boundaries (a stop's
#: event marks its release, a nasal's runs into the next vowel's onset): frames this close to a
#: boundary, or in the outer quarter of a short phoneme, are not scored.
BOUNDARY_S = 0.030
#: Diphthongs move from one vowel class to another: only their first half is scored.
DIPHTHONGS = frozenset({"aI", "aU", "eI", "oU", "OI", "I@", "e@", "U@", "A@", "o@", "O@", "i@"})
#: Bilabial stops are "closed" before their release, which espeak puts *at* the event: their
#: interval is aspiration and the next vowel's onset, so they are not scored at all.
_UNSCORED = frozenset({"p", "b"})


@dataclass(frozen=True, slots=True)
class LipsyncScore:
    """Open/closed agreement and vowel-class agreement over the scored frames."""

    open_acc: float
    vowel_acc: float
    open_frames: int
    vowel_frames: int


def score_lipsync(
    estimates: list[tuple[float, bool, str | None]],
    phonemes: tuple[Phoneme, ...],
    voice: str = "en",
) -> LipsyncScore:
    """Score ``(time s, mouth open, vowel class or None)`` estimates against the phonemes.

    Open/closed: vowels must read open; pauses, the time before the first phoneme and ``m``
    closed; other consonants are not scored (the mouth is half open for them). Vowel class:
    over frames inside a vowel with a class (:func:`vowel_classes` of the espeak ``voice`` that
    spoke), the estimate must name that class (None counts as wrong).
    """
    classes = vowel_classes(voice)
    starts = np.array([p.start for p in phonemes])
    ok = n = vok = vn = 0
    for t, is_open, vowel in estimates:
        i = int(np.searchsorted(starts, t, side="right")) - 1
        if i < 0:
            truth = "closed" if t < (starts[0] - BOUNDARY_S if starts.size else 0.0) else ""
            if truth:
                n += 1
                ok += not is_open
            continue
        p = phonemes[i]
        if p.name in _UNSCORED:
            continue
        margin = min(BOUNDARY_S, (p.end - p.start) / 4)
        if t - p.start < margin or p.end - t < margin:
            continue
        truth = mouth_class(p.name)
        if truth == "other":
            continue
        n += 1
        ok += is_open == (truth == "open")
        want = classes.get(p.name)
        if want is None:
            continue
        if p.name in DIPHTHONGS and (t - p.start) > (p.end - p.start) / 2:
            continue
        vn += 1
        vok += vowel == want
    return LipsyncScore(ok / n if n else 0.0, vok / vn if vn else 0.0, n, vn)
