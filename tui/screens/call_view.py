"""What the call screen shows: its layout, and the lines drawn from its reactive state.

:class:`tui.screens.call.CallScreen` builds on this: it owns the call (processes, events, keys)
and only sets state; this class turns that state into widgets. Kept apart so that the drawing
can be read (and checked in snapshots) without the call's lifecycle around it, and so neither
half grows past what one reads in a sitting.

Everything the peer or the relay says (names, avatar ids, path, status messages) is untrusted:
it is shown as rich ``Text`` (never as markup) and through :func:`protocol.text.printable`.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Label, RichLog, Static

from call import CallConfig
from i18n import _
from protocol.signaling import web_link
from protocol.text import printable
from tui.invite import join_command
from tui.readable import EMOTION_LABELS, PROC_STATES, child_name, state_label
from tui.stats_model import StatsModel
from tui.widgets.chat import ChatPane
from tui.widgets.picture import QrCode
from tui.widgets.stats import StatsPanel
from tui.widgets.voice import VoiceBar

#: Rows around the QR code: the call header (3), the invite box's border (2), the footer (1).
#: The QR (of the browser link, ~17 rows) is shown whenever it fits with them, 80x24 included:
#: while the invite is up nobody is in the call yet, so the stats and chat may shrink to a line.
QR_CHROME_ROWS = 6
#: Columns the invite's text keeps beside the QR code.
QR_TEXT_COLUMNS = 36
CONNECTED_STATES = frozenset({"connected"})
PEER_LEFT_STATES = frozenset({"peer_left", "peer_lost"})


class CallView(Screen[None]):
    """The call's layout and drawing; ``request`` gives the room, relay and voice flags."""

    state: reactive[str] = reactive("starting")
    status_message: reactive[str] = reactive("")
    path: reactive[str] = reactive("")
    sas: reactive[str] = reactive("")
    peer_name: reactive[str] = reactive("")
    peer_avatar: reactive[str] = reactive("")
    share_url: reactive[str] = reactive("")
    paused: reactive[bool] = reactive(False)
    self_view: reactive[bool] = reactive(True)
    emotion: reactive[str] = reactive("neutral")
    show_invite: reactive[bool] = reactive(False)
    muted: reactive[bool] = reactive(False)
    deafened: reactive[bool] = reactive(False)

    def __init__(self, request: CallConfig) -> None:
        super().__init__()
        self.request = request
        self.stats = StatsModel()
        #: Child name -> process state ("starting", "running", ...), drawn on the process line.
        self.procs: dict[str, str] = {}
        self.set_reactive(CallView.share_url, request.relay)
        self.set_reactive(CallView.show_invite, request.created)
        self.set_reactive(CallView.muted, request.muted)
        self.set_reactive(CallView.deafened, request.deafened)

    # -- layout -------------------------------------------------------------------------------
    #: Set by _draw() on mount: watchers that run earlier (a reactive read before the screen
    #: has composed runs its watcher) leave the widgets alone, and _draw() draws the state.
    _drawn = False

    def compose(self) -> ComposeResult:
        with Vertical(id="call-header"):
            yield Static(id="call-state")
            yield Static(id="call-info")
            yield VoiceBar(id="voice")
        # The QR code beside the text, not under it: so the invite fits at 80x24 too.
        with Horizontal(id="invite", classes="box"):
            with Vertical(id="invite-text"):
                yield Label(id="invite-code")
                yield Label(
                    _(
                        "Send the line (terminal) or the link (browser, nothing to install) to "
                        "the other person, or let them scan the code (Ctrl+N hides this and "
                        "shows it again):"
                    ),
                    classes="dim",
                )
                yield Static(id="invite-command")
                yield Static(id="invite-web")
            yield QrCode(id="invite-qr")
        with Horizontal(id="call-body"):
            with Vertical(id="call-left"):
                yield StatsPanel(id="stats", classes="box")
                yield Static(id="procs")
                yield RichLog(wrap=True, markup=False, id="events", max_lines=200, min_width=20)
            yield ChatPane(id="chat")
        # Compact: at 80 columns every Ctrl key fits, in Korean too.
        yield Footer(compact=True)

    def _draw(self) -> None:
        """Draw everything once from the state the screen starts with (the call screen's mount
        calls this before it starts the call, so the first frame already shows the room)."""
        self._drawn = True
        self.query_one("#invite").border_title = _("Invite")
        self.query_one("#stats").border_title = _("Live stats")
        self.query_one("#events", RichLog).can_focus = False
        self._update_header()
        self._update_invite()
        self._update_procs()
        self.watch_show_invite(self.show_invite)
        self.query_one(StatsPanel).show_voice = self.request.voice and self.stats.peer_connected
        voice = self.query_one(VoiceBar)
        voice.enabled = self.request.voice
        voice.muted, voice.deafened = self.muted, self.deafened
        self.query_one("#chat-input").focus()

    def _notice(self, text: str, *, error: bool = False) -> None:
        line = Text(printable(text), style="red" if error else "dim")
        self.query_one("#events", RichLog).write(line)

    def _chat(self) -> ChatPane:
        return self.query_one(ChatPane)

    def _update_header(self) -> None:
        if not self._drawn:
            return  # _draw() calls this again once the widgets exist
        state = self.state
        colour = (
            "green"
            if state in CONNECTED_STATES
            else "red"
            if state in PEER_LEFT_STATES | {"failed", "ended"}
            else "yellow"
        )
        line = Text()
        line.append("● ", style=colour)
        line.append(state_label(state), style=f"bold {colour}")
        if self.status_message:
            line.append(f"  {printable(self.status_message)}", style="dim")
        flags = []
        if self.paused:
            flags.append(_("tracking paused"))
        if not self.self_view:
            flags.append(_("self-view off"))
        if self.emotion != "neutral":
            emotion = _(EMOTION_LABELS.get(self.emotion, self.emotion))
            flags.append(_("emotion: {emotion}").format(emotion=emotion))
        if flags:
            line.append("  [" + ", ".join(flags) + "]", style="magenta")
        line.no_wrap, line.overflow = True, "ellipsis"
        self.query_one("#call-state", Static).update(line)
        info = Text()
        info.append(_("Peer") + " ", style="dim")
        info.append(printable(self.peer_name, 64) or "-")
        if self.peer_avatar:
            info.append(f" ({printable(self.peer_avatar, 80)})", style="dim")
        info.append("   " + _("Path") + " ", style="dim")
        info.append(printable(self.path, 80) or "-")
        info.append("   SAS ", style="dim")
        info.append(printable(self.sas, 40) or "-", style="bold")
        if self.sas:
            info.append("  " + _("compare these digits with your peer"), style="dim")
        info.no_wrap, info.overflow = True, "ellipsis"
        self.query_one("#call-info", Static).update(info)

    def _update_invite(self) -> None:
        code = self.request.room
        self.query_one("#invite-code", Label).update(
            Text.assemble((_("Room code:") + " ", "dim"), (code, "bold"))
        )
        command = join_command(self.share_url, code) if self.share_url else ""
        self.query_one("#invite-command", Static).update(
            Text(command or _("starting the relay..."), style="" if command else "dim")
        )
        # The browser peer's page on the same relay (relay.static), the room in the fragment.
        # The QR code holds this link: a phone's camera opens it straight in the browser.
        link = web_link(self.share_url, code) if self.share_url else ""
        self.query_one("#invite-web", Static).update(
            Text.assemble((_("Browser:") + " ", "dim"), (link, "underline")) if link else ""
        )
        self.query_one("#invite-qr", QrCode).data = link
        self._fit_qr()

    def _update_procs(self) -> None:
        line = Text()
        for child in ("tracking", "peer", "render"):
            state = self.procs.get(child)
            if state is None:
                continue
            colour = {"running": "green", "starting": "yellow", "restarting": "yellow"}.get(
                state, "red"
            )
            line.append("● ", style=colour)
            line.append(child_name(child))
            if state != "running":
                line.append(f" ({_(PROC_STATES.get(state, state))})", style=colour)
            line.append("  ")
        self.query_one("#procs", Static).update(line)

    def watch_state(self, state: str) -> None:
        self.stats.peer_connected = state in CONNECTED_STATES
        if not self._drawn:
            return  # read before the screen was drawn (a reactive's first read runs this)
        self.query_one(StatsPanel).show_voice = self.request.voice and self.stats.peer_connected
        self._update_header()

    def watch_status_message(self) -> None:
        self._update_header()

    def watch_path(self) -> None:
        self._update_header()

    def watch_sas(self) -> None:
        self._update_header()

    def watch_peer_name(self) -> None:
        self._update_header()

    def watch_peer_avatar(self) -> None:
        self._update_header()

    def watch_paused(self, paused: bool) -> None:
        self.stats.paused = paused
        self._update_header()

    def watch_self_view(self) -> None:
        self._update_header()

    def watch_emotion(self) -> None:
        self._update_header()

    def watch_share_url(self) -> None:
        self._update_invite()

    def watch_show_invite(self, show: bool) -> None:
        self.query_one("#invite").display = show

    def on_resize(self) -> None:
        self._fit_qr()

    def _fit_qr(self) -> None:
        """Show the QR code only where all of it fits (a cut QR code does not scan)."""
        qr = self.query_one("#invite-qr", QrCode)
        blocks = qr.blocks()
        qr.display = blocks is not None and (
            self.size.height >= blocks.height + QR_CHROME_ROWS
            and self.size.width >= blocks.width + QR_TEXT_COLUMNS
        )

    def watch_muted(self, muted: bool) -> None:
        if self.is_mounted:
            self.query_one(VoiceBar).muted = muted

    def watch_deafened(self, deafened: bool) -> None:
        if self.is_mounted:
            self.query_one(VoiceBar).deafened = deafened
