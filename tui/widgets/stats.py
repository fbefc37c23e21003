"""The live statistics panel: one row per metric with its value, a sparkline and, where the
panel is wide enough, one line saying what the figure measures (always in the row's tooltip).

The voice rows (audio delay, jitter buffer, loss) are there only while they can mean something:
in a call with voice, connected to the peer (:attr:`StatsPanel.show_voice`). Otherwise they could
only read "-", and at 80x24 with the invitation open their three rows are the chat's. The
lip-sync hold (the part of the audio delay the voice waits for a slower avatar) shows only while
there is one."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Label, Sparkline

from i18n import _
from tui.stats_model import HOLD_KEY, METRICS, VOICE_KEYS, StatsModel

#: How many samples each sparkline shows (the widget squeezes them into its width).
SPARK_SAMPLES = 60
#: Panel width from which the explanations fit beside the sparklines.
EXPLAIN_MIN_WIDTH = 90


class StatsPanel(Vertical):
    """Reads a :class:`StatsModel`; :meth:`refresh_from` is called by the screen's timer."""

    DEFAULT_CSS = """
    StatsPanel { height: auto; }
    StatsPanel .metric { height: 1; }
    StatsPanel .metric-label { width: 12; color: $text-muted; }
    StatsPanel .metric-value { width: 11; text-align: right; padding-right: 1; }
    StatsPanel Sparkline { width: 1fr; height: 1; }
    StatsPanel .metric-explain { width: 2fr; color: $text-muted; padding-left: 1; }
    """

    show_voice: reactive[bool] = reactive(False)

    def compose(self) -> ComposeResult:
        for metric in METRICS:
            with Horizontal(classes="metric", id=f"row-{metric.key}") as row:
                row.display = self.show_voice or not metric.needs_voice
                row.tooltip = _(metric.explain)
                yield Label(_(metric.label), classes="metric-label")
                yield Label("-", classes="metric-value", id=f"value-{metric.key}")
                yield Sparkline([0.0], id=f"spark-{metric.key}")
                yield Label(_(metric.explain), classes="metric-explain")

    def watch_show_voice(self, show: bool) -> None:
        # query, not query_one: the call screen's state can be read (and this watcher run)
        # before this panel has composed its rows; compose then applies show_voice itself.
        for key in VOICE_KEYS:
            if key != HOLD_KEY:
                for row in self.query(f"#row-{key}"):
                    row.display = show

    def on_resize(self) -> None:
        wide = self.size.width >= EXPLAIN_MIN_WIDTH
        for label in self.query(".metric-explain"):
            label.display = wide

    def refresh_from(self, model: StatsModel) -> None:
        self.query_one(f"#row-{HOLD_KEY}").display = self.show_voice and bool(
            model.value(HOLD_KEY)
        )
        for metric in METRICS:
            self.query_one(f"#value-{metric.key}", Label).update(model.text(metric.key))
            history = list(model.history[metric.key])[-SPARK_SAMPLES:]
            self.query_one(f"#spark-{metric.key}", Sparkline).data = history or [0.0]
