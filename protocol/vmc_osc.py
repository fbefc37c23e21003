"""Reading OSC datagrams on the VMC input: strict framing, a fast path, python-osc for the rest.

Why not python-osc alone: its parser costs about 1-5 ms for one VMC frame's bundle (70 small
messages, each parsed through generic helpers), which alone would break the VMC input's
budget (2 ms from datagram to ring, 3 % of a core at 30 Hz). Every VMC message we use carries
only strings, int32s and float32s, so those are read here with ``struct`` in a few microseconds
each; a message with any other OSC type (blobs, timetags, doubles, booleans, ...) sends the whole
datagram to python-osc's parser, which stays the reference (the tests compare the two on every
shape we read, and on our own bundles).

Strictness: python-osc is lenient about a bundle element whose size runs past the end (it cuts
it short and logs); we refuse a datagram whose structure does not add up - sizes that do not
tile the bundle exactly, strings without their terminator, arguments past the end, bytes left
over - as malformed (:class:`DecodeError`), and anything over :data:`MAX_PACKET_BYTES` unread.
"""

from __future__ import annotations

import re
import struct
from typing import Any

from pythonosc.osc_packet import OscPacket, ParseError

from .errors import DecodeError

#: Largest datagram the VMC input accepts. A full-body performer's bundle (55 bones, a hundred
#: blend values) is under 10 KB; anything over this is dropped unread.
MAX_PACKET_BYTES = 32 * 1024
#: Bundles inside bundles, at most this deep (VMC senders use one level).
MAX_NESTING = 4

_BUNDLE_TAG = b"#bundle\x00"
_I32 = struct.Struct(">i")
_F32 = struct.Struct(">f")
_SIMPLE_TAGS = frozenset("ifs")

Message = tuple[str, list[Any]]

#: Messages already read, by their bytes. A VMC sender repeats most of them byte for byte from
#: frame to frame (the bones at rest, every blendshape that did not move, the presets at 0), so
#: a frame costs a dictionary lookup for those instead of a parse. Bounded: cleared when full,
#: so a sender of ever-new messages costs a little memory, never more. Callers must not
#: mutate the argument lists they get (they are shared).
MEMO_ENTRIES = 4096
_MEMO: dict[bytes, Message] = {}


class _Unsupported(Exception):
    """A type tag the fast path does not read: use python-osc for this datagram."""


def packet_messages(data: bytes) -> list[Message]:
    """One datagram (a message or a bundle; nested bundles flattened, in order) as
    (address, arguments). Raises DecodeError for anything malformed or over the size cap."""
    data = bytes(data)
    if len(data) > MAX_PACKET_BYTES:
        raise DecodeError(f"packet of {len(data)} bytes over the cap of {MAX_PACKET_BYTES}")
    out: list[Message] = []
    try:
        _walk(data, 0, len(data), 0, out)
    except _Unsupported:
        return _python_osc(data)
    return out


def _python_osc(data: bytes) -> list[Message]:
    try:
        packet = OscPacket(data)
    except ParseError as e:
        raise DecodeError(f"not OSC: {e}") from e
    except Exception as e:  # python-osc raises other types on some garbage (IndexError, ...)
        raise DecodeError(f"not OSC: {type(e).__name__}: {e}") from e
    return [(m.message.address, list(m.message.params)) for m in packet.messages]


def _walk(data: bytes, start: int, end: int, depth: int, out: list[Message]) -> None:
    """Check the framing of ``data[start:end]`` and read its messages into ``out``."""
    if end <= start or (end - start) % 4:
        raise DecodeError(f"an OSC packet is a non-empty multiple of 4 bytes, not {end - start}")
    if data.startswith(_BUNDLE_TAG, start):
        if depth >= MAX_NESTING:
            raise DecodeError("bundles nested too deep")
        at = start + len(_BUNDLE_TAG) + 8  # the time tag: VMC frames are "immediately"
        if at > end:
            raise DecodeError("bundle shorter than its header")
        while at < end:
            if at + 4 > end:
                raise DecodeError("bundle element size cut short")
            (size,) = _I32.unpack_from(data, at)
            at += 4
            if size <= 0 or at + size > end:
                raise DecodeError(f"bundle element of {size} bytes does not fit the bundle")
            _walk(data, at, at + size, depth + 1, out)
            at += size
        return
    if data[start] != 0x2F:  # "/"
        raise DecodeError("an OSC message starts with '/'")
    raw = data[start:end]
    message = _MEMO.get(raw)
    if message is None:
        message = _message(data, start, end)
        if len(_MEMO) >= MEMO_ENTRIES:
            _MEMO.clear()
        _MEMO[raw] = message
    out.append(message)


def _string(data: bytes, at: int, end: int) -> tuple[str, int]:
    """An OSC string at ``at``: its text and the offset after its padding."""
    nul = data.find(b"\x00", at, end)
    if nul < 0:
        raise DecodeError("an OSC string has no terminator")
    try:
        text = data[at:nul].decode("utf-8")
    except UnicodeDecodeError as e:
        raise DecodeError(f"an OSC string is not UTF-8: {e}") from e
    return text, (nul + 4) & ~3


#: Per type-tag string, how to read the arguments: strings one by one, and each run of
#: numbers with one precompiled ``struct`` (a Bone/Pos's seven floats are one call).
_Plan = tuple[struct.Struct | None, ...]
_PLANS: dict[bytes, _Plan] = {}


def _plan(tags: bytes) -> _Plan:
    plan = _PLANS.get(tags)
    if plan is not None:
        return plan
    text = tags.decode("ascii", "replace")
    if not _SIMPLE_TAGS.issuperset(text):
        raise _Unsupported(text)
    steps: list[struct.Struct | None] = []
    for run in re.findall(r"s|[if]+", text):
        steps.append(None if run == "s" else struct.Struct(">" + run))
    plan = tuple(steps)
    if len(_PLANS) < 256:  # senders use a handful; a hostile one cannot grow this
        _PLANS[tags] = plan
    return plan


def _message(data: bytes, start: int, end: int) -> Message:
    # Offsets are absolute and every element starts 4-aligned, so (nul + 4) & ~3 pads.
    address, at = _string(data, start, end)
    if at >= end or data[at] != 0x2C:  # ","
        raise DecodeError(f"message {address!r} has no type tags")
    nul = data.find(b"\x00", at, end)
    if nul < 0:
        raise DecodeError(f"message {address!r}: type tags have no terminator")
    plan = _plan(data[at + 1 : nul])
    at = (nul + 4) & ~3
    args: list[Any] = []
    for step in plan:
        if step is None:
            text, at = _string(data, at, end)
            args.append(text)
        else:
            if at + step.size > end:
                raise DecodeError(f"message {address!r}: arguments run past the end")
            args.extend(step.unpack_from(data, at))
            at += step.size
    if at != end:
        raise DecodeError(f"message {address!r}: {end - at} bytes after its arguments")
    return address, args
