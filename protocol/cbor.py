"""A strict decoder for the small subset of CBOR (RFC 8949) this project puts on the wire.

Why not ``cbor2.loads``: a peer is untrusted, and cbor2 happily accepts indefinite lengths, tags
(some of which construct arbitrary objects), huge nesting and duplicate keys. This decoder is
small enough to audit and rejects everything outside the subset *before* allocating for it:

* major types 0-5 and 7 only (integers, byte and text strings, arrays, maps, simple values);
* no tags, no indefinite lengths, no ``undefined``, no unassigned simple values;
* nesting at most ``max_depth``, at most ``max_items`` items in total, no trailing bytes;
* map keys are ints or text strings, never duplicated;
* text must be valid UTF-8.

Encoding uses ``cbor2.dumps(..., canonical=True)`` (C speed, shortest float form, so a value
that is exactly representable as float16 goes out as 3 bytes).
"""

from __future__ import annotations

import struct
from typing import Any

import cbor2

from .errors import DecodeError, EncodeError, FrameTooLarge

# Depth 4 covers every message we define (map -> array -> map -> scalar) with room to spare;
# anything deeper is an attack or a bug, and refusing it bounds recursion.
DEFAULT_MAX_DEPTH = 4
# Far more items than any message needs; bounds the work an adversarial input can cause.
DEFAULT_MAX_ITEMS = 512

_HALF = struct.Struct(">e")
_SINGLE = struct.Struct(">f")
_DOUBLE = struct.Struct(">d")


def dumps(value: Any) -> bytes:
    """Encode ``value`` canonically; wraps cbor2's errors in :class:`EncodeError`."""
    try:
        return cbor2.dumps(value, canonical=True)
    except (cbor2.CBOREncodeError, TypeError, ValueError, OverflowError) as e:
        raise EncodeError(f"cannot encode {type(value).__name__}: {e}") from e


class _Reader:
    __slots__ = ("data", "items", "max_depth", "max_items", "pos")

    def __init__(self, data: bytes, max_depth: int, max_items: int) -> None:
        self.data = data
        self.pos = 0
        self.items = 0
        self.max_depth = max_depth
        self.max_items = max_items

    def _take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise DecodeError(
                f"truncated input: expected {n} bytes at offset {self.pos}, "
                f"got {len(self.data) - self.pos}"
            )
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def _argument(self, info: int) -> int:
        if info < 24:
            return info
        if info == 24:
            return self._take(1)[0]
        if info == 25:
            return int.from_bytes(self._take(2), "big")
        if info == 26:
            return int.from_bytes(self._take(4), "big")
        if info == 27:
            return int.from_bytes(self._take(8), "big")
        if info == 31:
            raise DecodeError(f"indefinite-length item at offset {self.pos - 1} is not allowed")
        raise DecodeError(f"reserved additional info {info} at offset {self.pos - 1}")

    def item(self, depth: int) -> Any:
        if depth > self.max_depth:
            raise DecodeError(f"nesting deeper than {self.max_depth} levels")
        self.items += 1
        if self.items > self.max_items:
            raise DecodeError(f"more than {self.max_items} items")
        start = self.pos
        initial = self._take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major == 7:
            return self._simple(info, start)
        arg = self._argument(info)
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major == 2:
            return self._take(arg)
        if major == 3:
            raw = self._take(arg)
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DecodeError(f"invalid UTF-8 in text string at offset {start}") from e
        if major == 4:
            if arg > self.max_items:
                raise DecodeError(f"array of {arg} items exceeds the cap of {self.max_items}")
            return [self.item(depth + 1) for _ in range(arg)]
        if major == 5:
            if arg > self.max_items:
                raise DecodeError(f"map of {arg} pairs exceeds the cap of {self.max_items}")
            result: dict[Any, Any] = {}
            for _ in range(arg):
                key_at = self.pos
                key = self.item(depth + 1)
                if not isinstance(key, int | str) or isinstance(key, bool):
                    raise DecodeError(
                        f"map key at offset {key_at} must be an int or text, "
                        f"got {type(key).__name__}"
                    )
                if key in result:
                    raise DecodeError(f"duplicate map key {key!r} at offset {key_at}")
                result[key] = self.item(depth + 1)
            return result
        raise DecodeError(f"CBOR tags (major type 6) are not allowed (offset {start})")

    def _simple(self, info: int, start: int) -> Any:
        if info == 20:
            return False
        if info == 21:
            return True
        if info == 22:
            return None
        if info == 25:
            return _HALF.unpack(self._take(2))[0]
        if info == 26:
            return _SINGLE.unpack(self._take(4))[0]
        if info == 27:
            return _DOUBLE.unpack(self._take(8))[0]
        if info == 31:
            raise DecodeError(f"unexpected 'break' at offset {start}")
        raise DecodeError(f"simple value {info} at offset {start} is not allowed")


def loads(
    data: bytes | bytearray | memoryview,
    *,
    max_size: int,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_items: int = DEFAULT_MAX_ITEMS,
) -> Any:
    """Decode exactly one CBOR item from ``data``, strictly (see the module docstring).

    The size cap is checked before a single byte is parsed.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"expected bytes, got {type(data).__name__}")
    size = len(data)
    if size > max_size:
        raise FrameTooLarge(f"input of {size} bytes exceeds the cap of {max_size} bytes")
    if size == 0:
        raise DecodeError("empty input")
    reader = _Reader(bytes(data), max_depth, max_items)
    value = reader.item(0)
    if reader.pos != size:
        raise DecodeError(f"{size - reader.pos} trailing bytes after the item")
    return value
