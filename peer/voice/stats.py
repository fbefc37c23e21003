"""Voice level, voice activity and the ``voice`` stats dict (the contract of issue 14).

``in_level``: a block's RMS in dBFS mapped linearly from -60 dB (0) to 0 dB (1), what a level
meter shows. ``speaking``: a simple energy VAD, above :data:`VAD_DBFS` with a 300 ms hangover
so the indicator does not flicker between syllables. Cheap on purpose: it runs on every 20 ms
block of both directions.
"""

from __future__ import annotations

import math

import numpy as np

from .sources import BLOCK_MS, PCM

FLOOR_DBFS = -60.0
#: Speech at a normal distance from a laptop microphone is -30..-15 dBFS; room noise is below
#: -50. -42 separates them with margin on both sides.
VAD_DBFS = -42.0
HANGOVER_MS = 300


def dbfs(pcm: PCM) -> float:
    if len(pcm) == 0:
        return FLOOR_DBFS
    x = pcm.astype(np.float32)
    rms = math.sqrt(float(np.dot(x, x)) / len(x))
    return FLOOR_DBFS if rms < 1.0 else max(FLOOR_DBFS, 20 * math.log10(rms / 32768.0))


def level_of(db: float) -> float:
    """0..1 for a level meter, from a block's dBFS."""
    return round(min(1.0, max(0.0, (db - FLOOR_DBFS) / -FLOOR_DBFS)), 3)


def level(pcm: PCM) -> float:
    """0..1 for a level meter."""
    return level_of(dbfs(pcm))


class Vad:
    """Energy voice activity with a hangover."""

    def __init__(self) -> None:
        self._hold_ms = 0.0

    def update(self, pcm: PCM, db: float | None = None) -> bool:
        """One 20 ms block (or its dBFS, when already measured)."""
        if (dbfs(pcm) if db is None else db) > VAD_DBFS:
            self._hold_ms = HANGOVER_MS
        else:
            self._hold_ms = max(0.0, self._hold_ms - BLOCK_MS)
        return self._hold_ms > 0

    @property
    def active(self) -> bool:
        return self._hold_ms > 0
