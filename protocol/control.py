"""Parent <-> child control lines: typed messages, one JSON object per line.

The front-end (through :mod:`call`) spawns the tracking, networking and render processes and
talks to each over its pipes. Children write *events* to stdout and read *commands* from stdin;
stderr is free-form logging. Every line is a dataclass here (:mod:`protocol.events`,
:mod:`protocol.commands`) with ``encode`` and a strict ``parse``, the same way the parameter
frame and the peer ``ctl`` messages are wire units with golden vectors.

Line format (UTF-8 JSON, keys in field order, no spaces)::

    {"event":"status","state":"waiting","message":"in the room"}
    {"cmd":"pause","on":true}

Why JSON and not CBOR: the lines never leave the machine, they are few per second, and a
person debugging a child reads them in a terminal. Why strict: a child must survive a confused
parent and the parent a confused child, so parsing checks the size cap, the kind, every
field's type and range, and says precisely what was wrong. A line of a kind this version does
not know raises :class:`UnknownMessage` (callers log and ignore it: a newer child may send
events an older parent has no use for); any other bad line raises :class:`DecodeError`
(callers count and drop it).
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Self, TypeVar

from .errors import DecodeError, EncodeError

#: Generous for a stats line with a stage breakdown; bounds a misbehaving peer of the pipe.
MAX_CONTROL_LINE = 64 * 1024
#: Longest string field (chat is capped far lower by protocol.ctl; this bounds the rest).
MAX_TEXT = 4096
#: Nesting allowed inside the free-form ``info``/``values`` maps (stats summaries are 2 deep).
MAX_DEPTH = 4

EVENT_KEY = "event"
COMMAND_KEY = "cmd"


class UnknownMessage(DecodeError):
    """A well-formed line whose kind this version does not know (log it, ignore it)."""

    def __init__(self, key: str, kind: str) -> None:
        super().__init__(f"unknown {key} {kind!r}")
        self.kind = kind


def _check_json_value(value: Any, where: str, depth: int = 0) -> None:
    """Free-form maps (stats values, ready info) hold only finite JSON scalars and maps/lists
    of them, bounded in depth: nothing a parser could choke on or a screen could not show."""
    if depth > MAX_DEPTH:
        raise DecodeError(f"{where}: nested deeper than {MAX_DEPTH}")
    if value is None or isinstance(value, bool | int | str):
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise DecodeError(f"{where}: string of {len(value)} chars exceeds {MAX_TEXT}")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DecodeError(f"{where}: {value} is not a finite number")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_value(item, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise DecodeError(f"{where}: key {k!r} is not a string")
            _check_json_value(item, f"{where}.{k}", depth + 1)
        return
    raise DecodeError(f"{where}: {type(value).__name__} is not a JSON value")


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check one field against its annotation (str, int, float, bool, X | None, dict)."""
    args = typing.get_args(hint)
    if args and type(None) in args:
        if value is None:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    origin = typing.get_origin(hint) or hint
    if origin is bool:
        if not isinstance(value, bool):
            raise DecodeError(f"{where}: expected a boolean, got {type(value).__name__}")
        return value
    if origin is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise DecodeError(f"{where}: expected an integer, got {type(value).__name__}")
        return value
    if origin is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DecodeError(f"{where}: expected a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise DecodeError(f"{where}: {value} is not a finite number")
        return float(value)
    if origin is str:
        if not isinstance(value, str):
            raise DecodeError(f"{where}: expected a string, got {type(value).__name__}")
        if len(value) > MAX_TEXT:
            raise DecodeError(f"{where}: string of {len(value)} chars exceeds {MAX_TEXT}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise DecodeError(f"{where}: expected an object, got {type(value).__name__}")
        _check_json_value(value, where)
        return dict(value)
    raise TypeError(f"{where}: unsupported field type {hint!r}")  # a bug in this module


class ControlMessage:
    """Base of events and commands: ``KIND`` names it on the wire, the dataclass fields are its
    payload. Subclasses may override :meth:`validate` for range rules beyond the types."""

    KIND: ClassVar[str]
    KEY: ClassVar[str]
    _HINTS: ClassVar[dict[str, Any]]

    def validate(self) -> None:
        """Range checks beyond the field types; raise DecodeError."""

    def fields(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def encode(self) -> str:
        """One newline-terminated line. Raises EncodeError if the message would not parse."""
        payload: dict[str, Any] = {self.KEY: self.KIND, **self.fields()}
        try:
            self.validate()
            line = json.dumps(
                payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            )
        except (DecodeError, ValueError, TypeError) as e:
            raise EncodeError(f"cannot encode {self.KEY} {self.KIND!r}: {e}") from e
        if len(line.encode()) + 1 > MAX_CONTROL_LINE:
            raise EncodeError(
                f"{self.KEY} {self.KIND!r} is {len(line.encode()) + 1} bytes, "
                f"over the {MAX_CONTROL_LINE}-byte line cap"
            )
        return line + "\n"

    @classmethod
    def from_fields(cls, data: Mapping[str, Any]) -> Self:
        """Build from a parsed JSON object (extra keys ignored: forward compatible)."""
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            where = f"{cls.KEY} {cls.KIND!r} field {f.name!r}"
            if f.name in data:
                kwargs[f.name] = _coerce(data[f.name], cls._HINTS[f.name], where)
            elif (
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            ):
                raise DecodeError(f"{cls.KEY} {cls.KIND!r}: missing field {f.name!r}")
        msg = cls(**kwargs)
        msg.validate()
        return msg


M = TypeVar("M", bound=type[ControlMessage])


class Registry:
    """Kind -> class for one direction (events or commands)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.classes: dict[str, type[ControlMessage]] = {}

    def register(self, cls: M) -> M:
        if cls.KIND in self.classes:
            raise TypeError(f"{self.key} {cls.KIND!r} registered twice")
        cls.KEY = self.key
        cls._HINTS = typing.get_type_hints(cls)
        self.classes[cls.KIND] = cls
        return cls

    def parse(self, line: str | bytes) -> ControlMessage:
        """One line -> its message. Raises UnknownMessage or DecodeError (precise)."""
        if len(line) > MAX_CONTROL_LINE:
            raise DecodeError(f"control line of {len(line)} bytes exceeds {MAX_CONTROL_LINE}")
        try:
            data = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
            raise DecodeError(f"control line is not JSON: {e}") from e
        if not isinstance(data, dict):
            raise DecodeError(f"control line must be a JSON object, got {type(data).__name__}")
        kind = data.get(self.key)
        if not isinstance(kind, str):
            raise DecodeError(f"control line has no string {self.key!r}")
        cls = self.classes.get(kind)
        if cls is None:
            raise UnknownMessage(self.key, kind)
        return cls.from_fields(data)


EVENTS = Registry(EVENT_KEY)
COMMANDS = Registry(COMMAND_KEY)

