"""The chat pane: a scrolling, wrapping log of messages and an input line.

Messages are rich ``Text`` (never markup: a peer could otherwise style or hide text with
``[...]``), and every name and line goes through :func:`protocol.text.printable` (a peer's
escape sequences must not reach the terminal, nor a newline split a name). Wrapping is by
terminal cells, so Korean and other wide characters wrap at the right column on both ends.
Each message is its own ``Static`` rather than a line of a ``RichLog``: RichLog wraps once, at
write time (and at a 78-column minimum), so a narrow pane or a resized terminal would cut
wide-character lines; a Static re-wraps whenever its width changes.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static

from i18n import _
from protocol.ctl import MAX_CHAT_CHARS
from protocol.text import printable

#: Older lines are dropped: a long call must not grow the widget tree without bound.
MAX_LINES = 500


class ChatPane(Vertical):
    """Emits :class:`ChatPane.Send` when the user submits a non-empty line."""

    DEFAULT_CSS = """
    ChatPane { height: 1fr; }
    ChatPane #chat-log { height: 1fr; border: round $surface-lighten-2; }
    ChatPane .chat-line { height: auto; width: 1fr; }
    ChatPane Input { height: 3; }
    """

    class Send(Message):
        """The user wants to send ``text`` to the peer."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._plain: list[str] = []

    def compose(self) -> ComposeResult:
        log = VerticalScroll(id="chat-log", can_focus=False)
        log.border_title = _("Chat")
        yield log
        yield Input(
            placeholder=_("Type a message, Enter to send"),
            max_length=MAX_CHAT_CHARS,
            id="chat-input",
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            return
        event.input.clear()
        self.post_message(self.Send(text))

    def add_mine(self, text: str) -> None:
        """A line we sent, labelled "you". Both ends use the same scheme (their own lines
        "you", the other person's under their name), so the two chats read alike."""
        self.add_message(_("you"), text, mine=True)

    def add_theirs(self, name: str, text: str) -> None:
        """A line from the other person, under their name ("peer" before they gave one)."""
        self.add_message(name or _("peer"), text, mine=False)

    def add_message(self, who: str, text: str, *, mine: bool) -> None:
        line = Text()
        line.append(f"{printable(who, 64)}: ", style="bold cyan" if mine else "bold magenta")
        line.append(printable(text, MAX_CHAT_CHARS))
        self._append(line)

    def add_notice(self, text: str) -> None:
        self._append(Text(f"* {printable(text)}", style="dim italic"))

    def _append(self, text: Text) -> None:
        log = self.query_one("#chat-log", VerticalScroll)
        at_end = log.is_vertical_scroll_end or log.max_scroll_y == 0
        lines = log.query(".chat-line")
        if len(lines) >= MAX_LINES:
            lines.first().remove()
        log.mount(Static(text, classes="chat-line", markup=False))
        self._plain.append(text.plain)
        del self._plain[:-MAX_LINES]
        if at_end:
            log.scroll_end(animate=False)

    def lines(self) -> list[str]:
        """The plain text of every line (tests read this)."""
        return list(self._plain)
