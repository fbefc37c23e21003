"""Checks for what the settings screen saves: each returns the reason a value is refused.

A value that cannot work must be refused where it is typed, with the reason, and the old value
kept: saving it (or silently clamping it) and saying "Settings saved" left people with a relay
or smoothing that was not what they typed, and nothing to tell them so.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from call import CallConfigError
from call.config import check_vmc_target
from i18n import _
from tui.avatar_catalog import AvatarChoice


def check_smoothing(text: str) -> tuple[float, str]:
    """(value, "") or (nan, reason): a number from 0 (raw) to 1 (very smooth)."""
    text = text.strip()
    if not text:
        return float("nan"), _("Smoothing is empty: enter a number from 0 to 1.")
    try:
        value = float(text)
    except ValueError:
        return float("nan"), _("Smoothing {value} is not a number: enter 0 to 1.").format(
            value=repr(text)
        )
    if not 0.0 <= value <= 1.0:
        return value, _("Smoothing must be between 0 and 1, not {value}.").format(value=text)
    return value, ""


def check_relay(url: str) -> str:
    """ "" or why ``url`` is not a relay address (blank is fine: a local relay is started)."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        return _("The relay must look like ws://HOST:PORT or wss://HOST, not {url}.").format(
            url=repr(url)
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return _("The relay address {url} has a bad port (1 to 65535).").format(url=repr(url))
    return ""


def check_turn(url: str) -> str:
    """ "" or why ``url`` is not a TURN server URL (``turn:host:3478`` / ``turns:host``)."""
    if not url:
        return ""
    scheme, _sep, rest = url.partition(":")
    host = rest.lstrip("/").split("?")[0].split(":")[0]
    if scheme not in ("turn", "turns") or not host:
        return _("The TURN server must look like turn:HOST:3478, not {url}.").format(url=repr(url))
    return ""


def check_vmc(address: str) -> str:
    """ "" or why ``address`` is not where VMC can go (blank is fine: VMC is off)."""
    if not address:
        return ""
    try:
        check_vmc_target(address)
    except CallConfigError as e:
        return str(e)
    return ""


def check_avatar(ref: str, choices: list[AvatarChoice]) -> str:
    """ "" or why ``ref`` cannot be the default avatar (blank = the first in the list)."""
    if not ref:
        return ""
    choice = next((c for c in choices if c.id == ref), None)
    if choice is None:
        return _("Avatar {ref} is not installed: choose one from the list.").format(ref=repr(ref))
    if choice.error:
        return _("Avatar {ref} cannot be loaded ({error}): choose another.").format(
            ref=repr(ref), error=choice.error
        )
    return ""
