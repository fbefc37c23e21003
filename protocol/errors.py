"""Exception hierarchy of the protocol package.

Every error a decoder or validator raises is a :class:`ProtocolError`, and also the builtin
that fits it (``ValueError`` for bad data), so callers at a process boundary can catch one type
and callers deep inside can keep their usual ``except ValueError``. Messages say exactly what
was wrong ("expected 6 bytes, got 4") because they end up in user-visible logs and counters.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of every error raised by :mod:`protocol`."""


class DecodeError(ProtocolError, ValueError):
    """Bytes on the wire (or in the ring) could not be decoded into a valid message."""


class FrameTooLarge(DecodeError):
    """Input exceeded its size cap; raised before any decoding is attempted."""


class EncodeError(ProtocolError, ValueError):
    """A value could not be encoded (it would break the schema or a size cap)."""


class ValidationError(ProtocolError, ValueError):
    """A structurally decodable message broke the schema (missing field, wrong type, range)."""


class RingError(ProtocolError, OSError):
    """The shared-memory ring could not be created, attached or used."""
