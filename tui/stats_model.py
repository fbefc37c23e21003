"""Live call statistics: the numbers behind the call screen's sparklines.

Each child reports ``stats`` about once a second with its own fields; this module maps exactly
those fields onto the metrics the call screen shows and keeps a short history per metric.
The fields are the ones the children really send (built by ``tracking/stats.py`` +
``tracking/runner.py``, ``peer/stats.py`` + ``peer/report.py``, ``render_window/pacing.py`` +
``render_window/app.py``), and the unit tests feed it payloads made by those functions, so a
renamed field fails a test instead of silently showing "-". It is plain Python (no Textual) so
the mapping is tested on its own, and the screen only samples it on a timer (5 Hz) -- sampling
more often than children report makes the sparklines move smoothly and shows a stalled child as
a flat line instead of a frozen one.

What a figure shows must still be true: a child that has not reported for :data:`STALE_S` shows
"-" (not its last value), the peer's figures (receive rate, frame size, RTT, latency) show "-"
while no peer is connected, and while our tracking is paused "Send" is 0 and says why. While the
render window saves CPU on a saturated machine (its ``economy`` flag, render_window.pacing's
AdaptiveRate: idle frames at 20 Hz) "Render" says so, so a figure of 20 does not read as a fault.

Voice (issue 14): the networking process's ``stats`` carry a ``voice`` map (audio delay, jitter
buffer, loss, mute state, who is speaking). Its figures follow the same rules, and show "-" too
while the call has no voice (``voice.on`` false or no ``voice`` map at all: an older peer);
:attr:`StatsModel.voice` keeps the whole map for the voice bar.

Latency is capture -> present from the render window (it measures it from the capture times the
networking process writes into the ring); a call without a window, or before the clock offset is
known, falls back to the networking process's capture -> receive.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from i18n import N_, _

#: 5 Hz sampling x 24 s of history fits a sparkline ~60-120 cells wide.
HISTORY = 120
#: Children report once a second: three missed reports and a figure is no longer current.
STALE_S = 3.0


@dataclass(frozen=True, slots=True)
class Source:
    """One child's field: ``part`` picks a percentile out of a ``{"p50": .., "p99": ..}`` map."""

    child: str  # "tracking", "peer" or "render"
    field: str
    part: str | None = None


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    #: English message ids (``N_``): the panel shows them through ``_``.
    label: str
    unit: str
    #: Where the value comes from, in order of preference (the first known one is shown);
    #: empty = computed by the TUI itself (see :meth:`StatsModel.set`).
    sources: tuple[Source, ...]
    decimals: int = 0
    #: One line for the user: what the figure measures.
    explain: str = ""
    #: Describes the link to the peer: meaningless (shown "-") while no peer is connected.
    needs_peer: bool = False
    #: A voice figure: meaningless (shown "-") while the call carries no voice.
    needs_voice: bool = False


def _metric(
    key: str, label: str, unit: str, decimals: int, sources: str, needs: str, explain: str
) -> Metric:
    """One row of :data:`METRICS`: ``sources`` is ``child.field[.part]`` words, preferred first
    ("" = the TUI computes it); ``needs`` holds "peer" and/or "voice"."""
    return Metric(
        key,
        label,
        unit,
        tuple(Source(*word.split(".", 2)) for word in sources.split()),
        decimals,
        explain,
        needs_peer="peer" in needs.split(),
        needs_voice="voice" in needs.split(),
    )


# fmt: off
#: key, label, unit, decimals, where the value comes from, what it needs, what it measures.
_ROWS = (
    ("track_fps", N_("Tracking"), "fps", 1, "tracking.fps", "",
     N_("camera frames your face was tracked in, per second")),
    ("render_fps", N_("Render"), "fps", 1, "render.fps", "",
     N_("frames the avatar window drew, per second")),
    ("send_hz", N_("Send"), "Hz", 1, "peer.send_hz", "",
     N_("expression frames sent to your peer per second")),
    ("recv_hz", N_("Receive"), "Hz", 1, "peer.recv_hz", "peer",
     N_("expression frames received from your peer per second")),
    ("bytes", N_("Bytes/frame"), "B", 0, "peer.bytes_per_frame", "peer",
     N_("size of one received frame (no video is ever sent)")),
    ("rtt", N_("RTT"), "ms", 1, "peer.rtt_ms", "peer",
     N_("network round trip to your peer and back")),
    ("latency", N_("Latency"), "ms", 1, "render.e2e_present_ms.p50 peer.e2e_ms.p50", "peer",
     N_("peer's camera to your screen, median of recent frames")),
    ("audio_delay", N_("Audio delay"), "ms", 0, "peer.voice.audio_delay_ms", "peer voice",
     N_("peer's microphone to your speaker (the avatar waits as long)")),
    ("lipsync_hold", N_("Sync hold"), "ms", 0, "peer.voice.lipsync_hold_ms", "peer voice",
     N_("lip sync: of the audio delay, the wait for the avatar")),
    ("jitter_buffer", N_("Jitter buf."), "ms", 0, "peer.voice.jitter_buffer_ms", "peer voice",
     N_("how long received voice waits to smooth out network jitter")),
    ("audio_loss", N_("Audio loss"), "%", 1, "peer.voice.loss_pct", "peer voice",
     N_("voice packets lost on the way (gaps are filled in)")),
    ("cpu", N_("CPU (1 core)"), "%", 0, "", "",
     N_("this call's processes; 100% = one full core of this machine")),
)
# fmt: on
METRICS: tuple[Metric, ...] = tuple(_metric(*row) for row in _ROWS)
BY_KEY = {m.key: m for m in METRICS}
#: Header extras (text): path = the selected ICE candidate type (host/srflx/relay), sas = the
#: short authentication string derived from both DTLS fingerprints.
EXTRAS: dict[str, Source] = {
    "path": Source("peer", "candidate_pair"),
    "sas": Source("peer", "sas"),
}
METRIC_KEYS = tuple(m.key for m in METRICS)
#: The voice figures (the panel can leave them out of a call without voice).
VOICE_KEYS = tuple(m.key for m in METRICS if m.needs_voice)
#: Voice figures about what we receive: unknown (not 0) until a packet has arrived.
RECEIVED_AUDIO_KEYS = frozenset({"audio_delay", "audio_loss"})
#: Shown only while the voice is held for the avatar (call.lipsync): at 0 the audio delay is
#: the voice's own path and a row reading "0 ms" would only take the chat's line.
HOLD_KEY = "lipsync_hold"


def _number(value: Any, part: str | None) -> float | None:
    """The finite number at ``value`` (or ``value[part]``); None for anything else."""
    if part is not None:
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class StatsModel:
    """Latest value per metric plus a sampled history."""

    def __init__(self, history: int = HISTORY, clock: Callable[[], float] = time.monotonic) -> None:
        self.current: dict[str, float | None] = dict.fromkeys(METRIC_KEYS)
        #: Which child the current value came from (its report age decides staleness).
        self._origin: dict[str, str] = {}
        self._reported_at: dict[str, float] = {}
        self._clock = clock
        #: The call's state, set by the screen: what no longer applies shows "-".
        self.peer_connected = False
        self.paused = False
        self.history: dict[str, deque[float]] = {k: deque(maxlen=history) for k in METRIC_KEYS}
        #: Text extras the header shows (path, SAS) once the networking process reports them.
        self.extras: dict[str, str] = {}
        self._known: dict[Source, float | None] = {}
        #: The networking process's last ``voice`` map (issue 14); empty = no voice reported.
        self.voice: dict[str, Any] = {}
        #: The render window's last report said it draws fewer idle frames to save CPU.
        self.render_economy = False

    def ingest(self, child: str, values: Mapping[str, Any]) -> None:
        """Take one child's ``stats`` values. A field the child left out or sent as null is
        unknown until its next report says otherwise."""
        self._reported_at[child] = self._clock()
        if child == "peer":
            voice = values.get("voice")
            self.voice = dict(voice) if isinstance(voice, Mapping) else {}
        if child == "render":
            self.render_economy = values.get("economy") is True
        for metric in METRICS:
            if any(s.child == child for s in metric.sources):
                for source in metric.sources:
                    if source.child == child:
                        self._known[source] = _number(values.get(source.field), source.part)
                        if metric.key in RECEIVED_AUDIO_KEYS and not self._audio_received():
                            self._known[source] = None
                self._resolve(metric)
        for key, source in EXTRAS.items():
            text = values.get(source.field) if source.child == child else None
            if isinstance(text, str) and text:
                self.extras[key] = text

    def _resolve(self, metric: Metric) -> None:
        for source in metric.sources:
            value = self._known.get(source)
            if value is not None:
                self.current[metric.key] = value
                self._origin[metric.key] = source.child
                return
        self.current[metric.key] = None
        self._origin.pop(metric.key, None)

    def value(self, key: str) -> float | None:
        """What the figure is now, or None when it no longer applies (stale, no peer)."""
        metric = BY_KEY[key]
        if metric.needs_peer and not self.peer_connected:
            return None
        if metric.needs_voice and not self.voice_on:
            return None
        if key == "send_hz" and self.paused:
            return 0.0
        origin = self._origin.get(key)
        if origin is not None:
            reported = self._reported_at.get(origin)
            if reported is None or self._clock() - reported > STALE_S:
                return None
        return self.current[key]

    def _audio_received(self) -> bool:
        """Some of the peer's voice has arrived: until then the networking process reports its
        delay and loss as 0, which would read as a perfect path rather than no path yet."""
        received = self.voice.get("packets_received")
        return not isinstance(received, int) or received > 0

    @property
    def voice_on(self) -> bool:
        """The networking process's last report says the call carries voice, and is current."""
        reported = self._reported_at.get("peer")
        current = reported is not None and self._clock() - reported <= STALE_S
        return current and self.voice.get("on") is True

    def set(self, key: str, value: float | None) -> None:
        self.current[key] = value

    def forget(self, child: str) -> None:
        """A child stopped: its figures are unknown until it reports again (a metric with
        another source falls back to it)."""
        for source in [s for s in self._known if s.child == child]:
            del self._known[source]
        if child == "peer":
            self.voice = {}
        if child == "render":
            self.render_economy = False
        for metric in METRICS:
            if any(s.child == child for s in metric.sources):
                self._resolve(metric)

    def sample(self) -> None:
        """Append the current values to the histories (missing = 0, a visible dip)."""
        for key in METRIC_KEYS:
            value = self.value(key)
            self.history[key].append(value if value is not None else 0.0)

    def text(self, key: str) -> str:
        metric = BY_KEY[key]
        value = self.value(key)
        if value is None:
            return "-"
        if key == "send_hz" and self.paused:
            return _("0 (paused)")
        shown = f"{value:.{metric.decimals}f} {metric.unit}"
        if key == "render_fps" and self.render_economy:
            # The machine is saturated: the window draws fewer idle frames on purpose.
            return _("{fps} (saving CPU)").format(fps=shown)
        return shown
