"""The window's banner: what each call state says, in the user's language, in a font that has
the glyphs for it.

The texts are English message ids (:func:`i18n.N_`), looked up when shown: the language comes
from ``$AVATARCHAT_LANG`` (set by the TUI for its children) or the locale, read once at start-up
(:func:`i18n.setup` in ``__main__``).

Why a font list: pyglet draws a label with one font and no per-glyph fallback, and the default
sans font on a Debian desktop (DejaVu) has no Hangul, so Korean would come out as empty boxes.
The first installed font of :data:`BANNER_FONTS` is used (all of them cover Latin too); with none
installed pyglet's default is used and ``Ready`` says so (``banner_font``), so a test or a user
can tell why Korean is unreadable (``scripts/system-deps.sh`` installs ``fonts-nanum``).
"""

from __future__ import annotations

import pyglet

from i18n import N_, _

#: Banner text per overlay state (protocol.commands.OVERLAY_STATES less "auto" and "none").
OVERLAY_TEXT = {
    "connecting": N_("Connecting…"),
    "waiting": N_("Waiting for the other person to join…"),
    "connected": N_("Connected"),
    "peer_lost": N_("Peer lost - waiting for them to come back…"),
    "peer_left": N_("The other person left the call"),
    "reconnecting": N_("Reconnecting…"),
    "refused": N_("The room is full"),
    "paused": N_("Tracking paused"),
}
#: Fonts with Hangul (and Latin), best first: Debian's fonts-nanum, fonts-noto-cjk, macOS,
#: Windows.
BANNER_FONTS = (
    "NanumGothic",
    "NanumBarunGothic",
    "Noto Sans CJK KR",
    "Noto Sans KR",
    "Apple SD Gothic Neo",
    "Malgun Gothic",
)


def banner_text(state: str) -> str:
    """What the banner says for ``state`` ("" = no banner), in the current language."""
    text = OVERLAY_TEXT.get(state)
    return _(text) if text else ""


def banner_font() -> str | None:
    """The first installed font that can draw Hangul; None = pyglet's default (no Hangul)."""
    return next((name for name in BANNER_FONTS if pyglet.font.have_font(name)), None)
