"""The call screen's voice line (issue 14): mute and deafen state with their keys, the
microphone's level meter, and who is speaking on each side.

The figures come from the networking process: its ``voice_level`` event (about 10 Hz: the meter
and the speaking indicators) and the ``voice`` map of its ``stats`` (about 1 Hz: which device is
in use, or why there is none). The screen sets the reactives; these widgets only draw them, so
what is shown is what the networking process last said, and a meter that stops hearing from it
falls back to silence (:meth:`VoiceBar.expire`) instead of freezing at its last level.

Mute and deafen are drawn from the screen's own state at once (the key press is the truth the
user needs to see), and the networking process's ``voice`` map confirms it a second later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from i18n import _
from protocol.text import printable

#: How long a level or speaking indicator stays without a fresh ``voice_level`` (10 Hz).
LEVEL_STALE_S = 1.0
#: Cells of the meter at 80 columns (the line also holds both indicators and the keys).
METER_CELLS = 10
FULL, EMPTY = "█", "░"
#: Levels above this are drawn yellow, above the second red (near clipping).
LOUD, CLIPPING = 0.7, 0.9


class LevelMeter(Widget):
    """A horizontal bar for a 0..1 level (the networking process maps RMS dBFS -60..0 dB to
    0..1, so the bar is linear in dB). ``muted`` draws it dim: the microphone is still read so
    people can see it works, but nothing is sent."""

    DEFAULT_CSS = """
    LevelMeter { width: 12; height: 1; }
    """

    level: reactive[float] = reactive(0.0)
    muted: reactive[bool] = reactive(False)

    def cells(self) -> int:
        """How many cells are lit at the current level (rounded; any sound lights one)."""
        width = max(1, self.size.width - 2) if self.size.width else METER_CELLS
        level = min(1.0, max(0.0, self.level))
        lit = round(level * width)
        return max(1, lit) if level > 0.02 else 0

    def render(self) -> RenderResult:
        width = max(1, self.size.width - 2) if self.size.width else METER_CELLS
        lit = self.cells()
        if self.muted:
            colour = "grey50"
        elif self.level >= CLIPPING:
            colour = "red"
        elif self.level >= LOUD:
            colour = "yellow"
        else:
            colour = "green"
        bar = Text("[", style="dim")
        bar.append(FULL * lit, style=colour)
        bar.append(EMPTY * (width - lit), style="grey35")
        bar.append("]", style="dim")
        return bar


class VoiceBar(Horizontal):
    """One line: ``Voice: mic on/MUTED  [meter]  ● You  ○ Peer  ^l mute  ^\\ deafen  (problem)``,
    most important first: a narrow terminal cuts it from the right."""

    DEFAULT_CSS = """
    VoiceBar { height: 1; width: 1fr; }
    VoiceBar Static { width: auto; height: 1; }
    VoiceBar #voice-state { padding-right: 1; }
    VoiceBar #voice-you, VoiceBar #voice-peer { padding-left: 1; }
    VoiceBar #voice-keys { width: 1fr; padding-left: 2; color: $text-muted; }
    """

    #: The call carries voice (False: text and avatar only, said once here).
    enabled: reactive[bool] = reactive(True)
    muted: reactive[bool] = reactive(False)
    deafened: reactive[bool] = reactive(False)
    level: reactive[float] = reactive(0.0)
    speaking: reactive[bool] = reactive(False)
    peer_speaking: reactive[bool] = reactive(False)
    #: Why there is no microphone/speaker, from the networking process ("" = all well).
    problem: reactive[str] = reactive("")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._heard_at: float | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="voice-state")
        yield LevelMeter(id="voice-meter")
        yield Static(id="voice-you")
        yield Static(id="voice-peer")
        yield Static(id="voice-keys")

    def on_mount(self) -> None:
        self.redraw()

    def _watch_any(self) -> None:
        if self.is_mounted:
            self.redraw()

    watch_enabled = watch_muted = watch_deafened = _watch_any
    watch_level = watch_speaking = watch_peer_speaking = watch_problem = _watch_any

    def expire(self) -> None:
        """No ``voice_level`` lately: silence, nobody speaking (not the last level, frozen)."""
        self.level, self.speaking, self.peer_speaking = 0.0, False, False

    def redraw(self) -> None:
        state = Text(_("Voice") + ": ", style="dim")
        meter = self.query_one(LevelMeter)
        if not self.enabled:
            state.append(_("off (text and avatar only)"), style="dim")
            self.query_one("#voice-state", Static).update(state)
            meter.display = False
            for name in ("you", "peer", "keys"):
                self.query_one(f"#voice-{name}", Static).update("")
            return
        meter.display = True
        meter.level, meter.muted = self.level, self.muted
        if self.muted:
            state.append(_("MUTED"), style="bold reverse red")
        else:
            state.append(_("mic on"), style="green")
        self.query_one("#voice-state", Static).update(state)
        you = Text()
        you.append("● " if self.speaking and not self.muted else "○ ", style="green")
        you.append(_("You"), style="bold" if self.speaking and not self.muted else "dim")
        self.query_one("#voice-you", Static).update(you)
        peer = Text()
        if self.deafened:
            peer.append("✕ ", style="red")
            peer.append(_("Peer (deafened)"), style="red")
        else:
            peer.append("● " if self.peer_speaking else "○ ", style="cyan")
            peer.append(_("Peer"), style="bold" if self.peer_speaking else "dim")
        self.query_one("#voice-peer", Static).update(peer)
        keys = _("^l unmute") if self.muted else _("^l mute")
        keys += "  " + (_("^\\ hear again") if self.deafened else _("^\\ deafen"))
        line = Text(keys, no_wrap=True, overflow="ellipsis")
        if self.problem:  # last: the keys matter more at 80 columns (the tooltip has it all)
            line.append(f"  {printable(self.problem, 60)}", style="yellow")
        self.query_one("#voice-keys", Static).update(line)

    def take_level(self, in_level: float, speaking: bool, peer_speaking: bool, now: float) -> None:
        """A ``voice_level`` event arrived (``now``: monotonic seconds, for :meth:`tick`)."""
        self._heard_at = now
        self.level, self.speaking, self.peer_speaking = in_level, speaking, peer_speaking

    def take_stats(self, voice: Mapping[str, Any]) -> None:
        """The ``voice`` map of the networking process's stats: whether the call has voice,
        and why a device is missing (its ``mic``/``speaker`` say so when none is in use)."""
        if voice.get("on") is False:
            self.enabled = False
            return
        devices = {k: str(voice.get(k, "")) for k in ("mic", "speaker")}
        problems = [d for d in devices.values() if _is_problem(d)]
        # The line says it short (in the user's language); the tooltip has the whole reason.
        if any("no sound" in p.lower() for p in problems):
            problems = [_("no sound device")]
        if _peer_without_voice(voice):
            problems.append(_("the peer's voice is off"))
        self.problem = "; ".join(dict.fromkeys(problems))
        self.tooltip = "\n".join(
            f"{label}: {printable(name, 120)}"
            for label, name in (
                (_("Microphone"), devices["mic"]),
                (_("Speaker"), devices["speaker"]),
            )
            if name
        )

    def tick(self, now: float) -> None:
        """Called by the screen's stats timer: a meter that stopped hearing falls silent."""
        if self._heard_at is not None and now - self._heard_at > LEVEL_STALE_S:
            self._heard_at = None
            self.expire()


def _peer_without_voice(voice: Mapping[str, Any]) -> bool:
    """Connected (the peer's SDP is known) but no audio agreed: they called with voice off (or
    an older client), so nothing we say is heard and nothing will be heard from them."""
    sdp = voice.get("sdp")
    remote = sdp.get("remote") if isinstance(sdp, Mapping) else None
    return voice.get("agreed") is False and bool(remote)


def _is_problem(device: str) -> bool:
    """The networking process names the device in use, with why it is not the one asked for
    in brackets (``silence (no sound system (...))``): the latter is worth a word on the voice
    line."""
    low = device.lower()
    return low.startswith("no ") or "no sound" in low or "error" in low or "cannot" in low
