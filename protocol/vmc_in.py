"""VMC in: a performer's OSC messages, as they arrive, turned into our parameter frames.

The names, the coordinate conventions and the preset mapping are :mod:`protocol.vmc`'s (its
docstring says how each travels both ways); this module is only the receiving side's state,
kept apart so the sender's mapping and the receiver's reading each fit in one sitting. No
sockets here either: ``tracking/vmc_source.py`` feeds it messages it has read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .blendshapes import BLENDSHAPE_INDEX, NUM_BLENDSHAPES
from .errors import DecodeError
from .frame import Emotion, ParamFrame
from .vmc import (
    ADDR_APPLY,
    ADDR_BLEND,
    ADDR_BONE,
    ADDR_OK,
    ADDR_ROOT,
    ADDR_TIME,
    ARKIT_INDEX,
    IDENTITY,
    PRESET_EMOTION,
    Quat,
    Vec3,
    pose_from_unity_quat,
    quat_mul,
)


@dataclass(slots=True)
class VmcState:
    """What a VMC sender has told us so far. VMC values persist until changed, so each
    ``Blend/Apply`` turns the current state into one frame (:meth:`frame`)."""

    loaded: bool = True
    tracking: bool = True
    head: Quat = IDENTITY
    neck: Quat = IDENTITY
    #: lower-cased blend name -> value, since the last Apply (cleared after each).
    blends: dict[str, float] = field(default_factory=dict)
    #: Last applied weights per our channel (VMC keeps values the sender did not repeat).
    weights: list[float] = field(default_factory=lambda: [0.0] * NUM_BLENDSHAPES)
    emotion: Emotion | None = None
    emotion_weight: float = 0.0
    #: Messages with a known address but arguments the spec does not allow.
    bad_messages: int = 0
    #: Messages whose address we do not use (ignored by design).
    ignored_messages: int = 0

    def handle(self, address: str, args: list[Any] | tuple[Any, ...]) -> bool:
        """Apply one message; True when it was ``Blend/Apply`` (a frame is complete)."""
        try:
            if address == ADDR_BLEND:  # the hot one: ~70 a frame, checked inline
                if len(args) < 2 or not isinstance(args[0], str):
                    raise DecodeError("Blend/Val takes a name and a value")
                value = args[1]
                if type(value) is not float and (type(value) is not int):
                    raise DecodeError("Blend/Val value must be a number")
                if not math.isfinite(value):
                    raise DecodeError("non-finite blend value")
                self.blends[args[0].lower()] = min(1.0, max(0.0, float(value)))
            elif address == ADDR_BONE:
                name = _bone_name(args)
                if name in ("head", "neck"):
                    vals = _args(args, "sfffffff")
                    quat = (float(vals[4]), float(vals[5]), float(vals[6]), float(vals[7]))
                    pose_from_unity_quat(quat)  # validates: finite, non-zero
                    if name == "head":
                        self.head = quat
                    else:
                        self.neck = quat
            elif address == ADDR_APPLY:
                self._apply()
                return True
            elif address == ADDR_OK:
                if not args or not _is_int(args[0]) or not all(_is_int(a) for a in args):
                    raise DecodeError("/VMC/Ext/OK takes ints")
                self.loaded = bool(args[0])
                self.tracking = bool(args[3]) if len(args) >= 4 else True
            elif address in (ADDR_TIME, ADDR_ROOT):
                pass  # read but unused (module docstring)
            else:
                self.ignored_messages += 1
        except DecodeError:
            self.bad_messages += 1
        return False

    def _apply(self) -> None:
        got = self.blends
        weights = self.weights
        named = set()
        for name, value in got.items():
            index = ARKIT_INDEX.get(name)
            if index is not None:
                weights[index] = value
                named.add(index)

        # VRM presets fill only the channels no perfect-sync value named this time.
        def fill(channel: str, value: float | None) -> None:
            index = BLENDSHAPE_INDEX[channel]
            if value is not None and index not in named:
                weights[index] = value

        blink = got.get("blink")
        for side, preset in (("Left", "blink_l"), ("Right", "blink_r")):
            one = got.get(preset)
            if blink is not None or one is not None:
                fill(f"eyeBlink{side}", min(1.0, (blink or 0.0) + (one or 0.0)))
        fill("jawOpen", got.get("a"))
        fill("mouthPucker", got.get("u"))
        fill("mouthFunnel", got.get("o"))
        for side in ("Left", "Right"):
            fill(f"mouthStretch{side}", got.get("i"))
            fill(f"mouthLowerDown{side}", got.get("e"))
            fill(f"eyeLookUp{side}", got.get("lookup"))
            fill(f"eyeLookDown{side}", got.get("lookdown"))
        fill("eyeLookOutLeft", got.get("lookleft"))
        fill("eyeLookInRight", got.get("lookleft"))
        fill("eyeLookInLeft", got.get("lookright"))
        fill("eyeLookOutRight", got.get("lookright"))
        emotions = [(got[k], e) for k, e in PRESET_EMOTION.items() if k in got]
        if emotions:
            weight, emotion = max(emotions, key=lambda p: p[0])
            self.emotion, self.emotion_weight = (emotion, weight) if weight > 0 else (None, 0.0)
        self.blends = {}

    @property
    def face(self) -> bool:
        return self.loaded and self.tracking

    def rotation(self) -> Vec3:
        """The head's rotation in our terms: ``Neck * Head`` converted."""
        return pose_from_unity_quat(quat_mul(self.neck, self.head))

    def frame(self, seq: int, timestamp_us: int) -> ParamFrame:
        """The current state as a parameter frame (no face: a neutral frame without the flag)."""
        if not self.face:
            return ParamFrame(seq=seq, timestamp_us=timestamp_us)
        return ParamFrame.from_weights(
            seq,
            timestamp_us,
            self.weights,
            head_rotation=self.rotation(),
            emotion=self.emotion,
            emotion_weight=self.emotion_weight,
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bone_name(args: list[Any] | tuple[Any, ...]) -> str:
    if not args or not isinstance(args[0], str):
        raise DecodeError("bone message without a name")
    return args[0].lower()


def _args(args: list[Any] | tuple[Any, ...], types: str) -> list[Any]:
    """Check a message's arguments against OSC type letters (``s`` string, ``f`` a finite
    number; extra trailing arguments, which newer spec versions add, are allowed)."""
    if len(args) < len(types):
        raise DecodeError(f"expected {len(types)} arguments, got {len(args)}")
    for value, kind in zip(args, types, strict=False):
        if kind == "s":
            if not isinstance(value, str):
                raise DecodeError("expected a string")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise DecodeError("expected a number")
        elif not math.isfinite(value):
            raise DecodeError("non-finite number")
    return list(args[: len(types)])
