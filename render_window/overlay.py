"""The window's banner and the peer's dimming: what each call state says, in the user's
language, in a font that has the glyphs for it.

The texts are English message ids (:func:`i18n.N_`), looked up when shown: the language comes
from ``$AVATARCHAT_LANG`` (set by the TUI for its children) or the locale, read once at start-up
(:func:`i18n.setup` in ``__main__``).

Why a font list: pyglet draws a label with one font and no per-glyph fallback, and the default
sans font on a Debian desktop (DejaVu) has no Hangul, so Korean would come out as empty boxes.
The first installed font of :data:`BANNER_FONTS` is used (all of them cover Latin too); with none
installed pyglet's default is used and ``Ready`` says so (``banner_font``), so a test or a user
can tell why Korean is unreadable (``scripts/system-deps.sh`` installs ``fonts-nanum``).

Why two kinds of state (:class:`CallOverlay`): the connection's state comes from the networking
process (routed by ``call.Call``) or, when told ``auto``, from the rings; our own pause and a
recalibration are this side's and last across connection changes, so they are kept apart and
the banner shows the one that matters most (:data:`PRIORITY`). A peer who left (or a call that
was refused) must not look live: their avatar is frozen in a neutral pose and dimmed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pyglet

from i18n import N_, _
from protocol.commands import MAX_PEER_NAME, ShowOverlay
from protocol.text import printable

#: Banner text per overlay state (protocol.commands.OVERLAY_STATES less "auto", "none" and the
#: ones that only end another: "self_resumed", "calibrated").
OVERLAY_TEXT = {
    "connecting": N_("Connecting…"),
    "waiting": N_("Waiting for the other person to join…"),
    "connected": N_("Connected"),
    "peer_lost": N_("Peer lost - waiting for them to come back…"),
    "peer_left": N_("The other person left the call"),
    "reconnecting": N_("Reconnecting…"),
    "refused": N_("Could not join the call"),
    "paused": N_("The other person paused their tracking"),
    "self_paused": N_("You paused tracking: the other person sees your avatar at rest"),
    "recalibrating": N_("Recalibrating: keep a relaxed, neutral face for {seconds} s"),
}
#: ``refused`` with a reason: "<banner>: <reason>".
REFUSED_WITH_REASON = N_("Could not join the call: {reason}")
#: The window's title once the peer's name is known.
TITLE_WITH_NAME = N_("{name} - avatarchat")
TITLE = "avatarchat"
#: Which state the banner shows when several hold, most important first. A recalibration is
#: short and asked for just now, so it shows over everything but the end of the call.
PRIORITY = (
    "refused",
    "peer_left",
    "recalibrating",
    "peer_lost",
    "reconnecting",
    "connecting",
    "waiting",
    "self_paused",
    "paused",
    "connected",
)
#: States in which the peer's avatar is frozen neutral and dimmed: nobody is behind it.
PEER_GONE = frozenset({"peer_left", "refused"})
#: A "connected" notice stays this long, then the rings decide again.
CONNECTED_NOTICE_S = 1.5
#: A recalibration whose end the tracker has not confirmed clears this long after the
#: countdown (a face missing for a while makes the tracker take longer; the banner must not
#: stick if its "calibrated" is lost).
CALIBRATE_GRACE_S = 2.0
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
#: Banner band: at least this tall (px), its bottom this far up the window (fraction).
BANNER_MIN_H = 56
BANNER_Y = 0.08
#: How dark the peer's avatar gets once nobody is behind it (alpha of a black veil).
DIM_ALPHA = 150


def banner_text(state: str, detail: str = "", seconds: int = 0) -> str:
    """What the banner says for ``state`` ("" = no banner), in the current language."""
    if state == "refused" and detail:
        return _(REFUSED_WITH_REASON).format(reason=printable(detail, 200))
    text = OVERLAY_TEXT.get(state)
    if not text:
        return ""
    return _(text).format(seconds=seconds) if state == "recalibrating" else _(text)


def window_title(name: str) -> str:
    """The title for a peer called ``name``: their untrusted text, cut to
    :data:`~protocol.commands.MAX_PEER_NAME` characters, control and format characters
    replaced and runs of spaces collapsed (a title is one short line)."""
    clean = " ".join(printable(name, MAX_PEER_NAME).split())
    return _(TITLE_WITH_NAME).format(name=clean) if clean else TITLE


def banner_font() -> str | None:
    """The first installed font that can draw Hangul; None = pyglet's default (no Hangul)."""
    return next((name for name in BANNER_FONTS if pyglet.font.have_font(name)), None)


class CallOverlay:
    """The banner (a band with a label) and the veil over the peer's avatar.

    :meth:`command` takes :class:`ShowOverlay`; :meth:`update` (once per frame, before drawing)
    decides what shows and returns the state when it changed; drawing is the batch's."""

    def __init__(self, batch: Any, font: str | None, veil_order: int, banner_order: int) -> None:
        self.veil = pyglet.shapes.Rectangle(
            0,
            0,
            1,
            1,
            color=(0, 0, 0, DIM_ALPHA),
            batch=batch,
            group=pyglet.graphics.Group(order=veil_order),
        )
        self.veil.visible = False
        self._bg = pyglet.shapes.Rectangle(
            0,
            0,
            1,
            1,
            color=(0, 0, 0, 150),
            batch=batch,
            group=pyglet.graphics.Group(order=banner_order),
        )
        self._label = pyglet.text.Label(
            "",
            font_name=font,
            font_size=22,
            anchor_x="center",
            anchor_y="center",
            align="center",
            multiline=True,
            width=100,
            color=(240, 240, 240, 255),
            batch=batch,
            group=pyglet.graphics.Group(order=banner_order + 1),
        )
        #: The connection's state as commanded; None = decide from the rings ("auto").
        self.connection: str | None = None
        self.detail = ""
        self._connected_at = 0.0
        self.self_paused = False
        self._calibrate_end: float | None = None
        self.shown: str | None = None  # None forces the first update to report
        self._text: str | None = None
        self._size = (1, 1)
        self._right = 0.0

    @property
    def peer_gone(self) -> bool:
        """Nobody is behind the peer's avatar (they left, or the call was refused)."""
        return self.shown in PEER_GONE

    def command(self, cmd: ShowOverlay, now: float) -> None:
        state = cmd.state
        if state == "self_paused":
            self.self_paused = True
        elif state == "self_resumed":
            self.self_paused = False
        elif state == "recalibrating":
            self._calibrate_end = now + cmd.seconds if cmd.seconds > 0 else None
        elif state == "calibrated":
            self._calibrate_end = None
        else:
            self.connection = None if state == "auto" else state
            self.detail = cmd.detail
            if state == "connected":
                self._connected_at = now

    def _states(self, now: float, auto: Callable[[], str]) -> set[str]:
        conn = self.connection
        if conn == "connected" and now - self._connected_at > CONNECTED_NOTICE_S:
            conn = None  # the notice is over: the rings tell (e.g. the peer paused) again
        if conn is None:
            conn = auto()
        states = {conn} if conn and conn != "none" else set()
        if self.self_paused:
            states.add("self_paused")
        end = self._calibrate_end
        if end is not None:
            if now > end + CALIBRATE_GRACE_S:
                self._calibrate_end = None
            else:
                states.add("recalibrating")
        return states

    def update(self, now: float, auto: Callable[[], str]) -> str | None:
        """Decide the banner for ``now``; the new state if it changed (else None)."""
        states = self._states(now, auto)
        state = next((s for s in PRIORITY if s in states), "")
        end = self._calibrate_end
        seconds = max(0, math.ceil(end - now)) if end is not None else 0
        text = banner_text(state, self.detail if state == "refused" else "", seconds)
        if text != self._text:  # a new label layout only when the words change
            self._text = text
            self._label.text = text
            self._label.visible = self._bg.visible = bool(text)
            self._place()
        self.veil.visible = state in PEER_GONE
        if state == self.shown:
            return None
        self.shown = state
        return state

    def layout(self, width: int, height: int, right: float = 0.0) -> None:
        """Window size in window coordinates (shapes draw in those, not in framebuffer px);
        ``right``: how much of the right edge the self-view inset takes (the banner keeps
        left of it: a long or two-line text would run over our own picture)."""
        self._size = (width, height)
        self._right = right
        self.veil.position = (0, 0)
        self.veil.width, self.veil.height = width, height
        self._place()

    def _place(self) -> None:
        full, height = self._size
        width = max(full / 2, full - self._right)
        self._label.width = max(1, int(width) - 32)
        band = max(BANNER_MIN_H, int(self._label.content_height) + 16)
        y = height * BANNER_Y
        self._bg.position = (0, y)
        self._bg.width, self._bg.height = width, band
        self._label.position = (width / 2, y + band / 2, 0)
