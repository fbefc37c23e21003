"""The emotion presets as a small menu: one Ctrl key on the call screen opens it.

F1-F5 set a preset directly, but terminals often take F1 (help), and the chat input holds the
focus so plain letters would be typed into the chat. This menu is reached with a Ctrl key and
then takes a digit or the preset's letter (or arrows and Enter), so every preset is two plain
keystrokes away in any terminal. Dismisses with the preset's name, or None.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from i18n import N_, _
from tui.lang import translate_bindings

#: (preset, label, digit, letter, F-key): in the order of the F-keys, so both ways read alike.
PRESETS = [
    ("happy", N_("Happy"), "1", "h", "F1"),
    ("sad", N_("Sad"), "2", "s", "F2"),
    ("angry", N_("Angry"), "3", "a", "F3"),
    ("surprised", N_("Surprised"), "4", "u", "F4"),
    ("neutral", N_("Neutral"), "5", "n", "F5"),
]


class EmotionScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel")),
        *[
            Binding(f"{digit},{letter}", f"pick('{name}')", show=False)
            for name, _label, digit, letter, _fkey in PRESETS
        ],
    ]

    def __init__(self, current: str = "neutral") -> None:
        super().__init__()
        self.current = current
        translate_bindings(self)

    def compose(self) -> ComposeResult:
        options = [
            Option(
                f"{digit} {letter}  {_(label)}  ({fkey})",
                id=name,
            )
            for name, label, digit, letter, fkey in PRESETS
        ]
        with Vertical(id="emotion-box", classes="box"):
            yield OptionList(*options, id="emotion-list")

    def on_mount(self) -> None:
        self.query_one("#emotion-box").border_title = _("Emotion")
        options = self.query_one(OptionList)
        names = [name for name, *_rest in PRESETS]
        options.highlighted = names.index(self.current) if self.current in names else 0
        options.focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_pick(self, name: str) -> None:
        self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)
