"""What front-ends say while the peer's own avatar arrives (the TUI's call log, the CLI's
status lines): a few lines per transfer, through :mod:`i18n`.

The networking process sends ``avatar_progress`` a few times a second; a 40 MB VRM takes a while
on a slow uplink, and a stand-in avatar with no word of progress looks like a bug. A line at the
start and at each quarter is enough to show it moving without flooding a log.
"""

from __future__ import annotations

from i18n import _
from protocol.events import AvatarProgress
from protocol.text import printable

#: Lines per transfer besides the first: one at each quarter (the last at 100 %).
STEPS = 4


class TransferNotice:
    """Turns ``avatar_progress`` events into at most ``STEPS + 1`` lines per transfer."""

    def __init__(self) -> None:
        self._said: tuple[str, int, int] | None = None  # (avatar, total, step) said last

    def line(self, ev: AvatarProgress) -> str | None:
        """The line to show for this event, or None (nothing new to say)."""
        total = max(ev.total, 1)
        step = min(STEPS, ev.received * STEPS // total)
        key = (ev.avatar_id, ev.total, step)
        if self._said == key or (
            self._said is not None and self._said[:2] == key[:2] and self._said[2] > step
        ):
            return None
        self._said = key
        return _("receiving the peer's avatar {avatar}: {done:.1f} of {total:.1f} MB").format(
            avatar=printable(ev.avatar_id, 64),
            done=ev.received / 1e6,
            total=ev.total / 1e6,
        )
