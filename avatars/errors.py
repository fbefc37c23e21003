"""Errors raised by the avatar pack loader.

All of them subclass :class:`PackError`, itself a ``ValueError``, so callers that only care about
"this pack is unusable" catch one type, while the CLI and the peer transfer code can tell a
missing pack from a broken one from a tampered download.
"""

from __future__ import annotations


class PackError(ValueError):
    """Base class: the pack cannot be used."""


class PackNotFoundError(PackError):
    """The reference names neither a built-in avatar nor an existing directory or zip."""


class PackValidationError(PackError):
    """The pack breaks FORMAT.md; ``problems`` lists every problem found, one line each."""

    def __init__(self, where: str, problems: list[str]) -> None:
        self.where = where
        self.problems = list(problems)
        shown = "\n  ".join(self.problems)
        super().__init__(
            f"invalid avatar pack {where} ({len(self.problems)} problem(s)):\n  {shown}"
        )


class PackIntegrityError(PackError):
    """Received or zipped pack bytes are unsafe (path escape, too big) or fail the hash check."""


class UnknownVariantError(PackError):
    """A variant id the pack does not define was requested."""
