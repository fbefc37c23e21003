"""``--help`` texts from module docstrings, as plain text.

The docstrings are written for developers (reST: ``literal``, :mod:`call`); a person reading
``avatarchat call --help`` should see ``avatarchat call`` and ``call``, not the markup.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain(doc: str | None) -> str:
    """``doc`` without reST roles and literal markup."""
    return _LITERAL.sub(r"\1", _ROLE.sub(r"\1", doc or "")).strip()
