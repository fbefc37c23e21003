"""``avatarchat call``: a headless call (tracking + networking [+ render window]) to one room.

It is the same machinery the TUI uses (:class:`call.Call`): the rings are created here and
unlinked however the call ends, the children are supervised (a crashed child is restarted and
its settings replayed), the window shows the connection state, and a compact status line is
printed once a second. Typed lines on an interactive stdin are sent as chat. Text from the peer
(names, chat, reasons) is shown with control characters replaced: it must not be able to
drive the user's terminal.

Voice is on: the default microphone is sent beside the avatar's parameters (never any video)
and the peer's voice is played on the default speaker, with echo cancellation. --no-voice
makes the call text and avatar only; --mic and --speaker choose a device by name or a WAV file
(file:PATH: what tests and soaks use); --mic clip sends the audio of the --source clip. With no
sound device the call runs silent and says so once. The status line and --stats-json carry the
voice figures (the networking process's "voice" map: audio delay, jitter buffer, loss, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Coroutine
from typing import Any

from call import Call, CallConfig, CallError, CallEvent, ChildFailed, RelayStarted
from call.gestures import GESTURE_EMOJI, gesture_sentence
from call.progress import TransferNotice
from cli.helptext import plain
from i18n import N_, _
from protocol.events import (
    AvatarProgress,
    AvatarShown,
    ChatReceived,
    Error,
    GestureMade,
    OverlayShown,
    PeerGesture,
    PeerHello,
    Stats,
    Status,
)
from protocol.signaling import ROOM_ENV, new_room_code, web_link
from protocol.text import printable

log = logging.getLogger(__name__)

#: Call and window states as the status lines name them (English: the state itself, as before).
STATE_WORDS = {
    "signaling": N_("signaling"),
    "connecting": N_("connecting"),
    "waiting": N_("waiting"),
    "connected": N_("connected"),
    "peer_lost": N_("peer_lost"),
    "peer_left": N_("peer_left"),
    "reconnecting": N_("reconnecting"),
    "refused": N_("refused"),
    "closed": N_("closed"),
    "paused": N_("paused"),
}


def state_word(state: str) -> str:
    word = STATE_WORDS.get(state)
    return _(word) if word else state


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "call",
        help="join a room and hold a headless call (camera or clip as the camera)",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--relay",
        default="",
        help="relay URL, e.g. ws://127.0.0.1:8765 (default: start one on this machine)",
    )
    p.add_argument(
        "--lan",
        action="store_true",
        help="without --relay: let people on your network reach the relay this call starts "
        "(default: this machine only)",
    )
    p.add_argument(
        "--join",
        metavar="CODE",
        help="join the room someone invited you to: if nobody is in it (a wrong or expired "
        "code), say so and end instead of waiting in an empty room",
    )
    p.add_argument(
        "--room",
        default=os.environ.get(ROOM_ENV),
        help=f"room code (or ${ROOM_ENV}, which other local users cannot read in ps; "
        "default: a new one, printed so the peer can join)",
    )
    p.add_argument(
        "--source",
        default="camera:0",
        help="camera:N, /dev/videoN, a clip path, 'sample' or 'synthetic'",
    )
    p.add_argument("--avatar", default="aria", help="your avatar (built-in id or pack path)")
    p.add_argument("--name", default="", help="display name shown to the peer")
    p.add_argument("--window", action="store_true", help="open the render window")
    p.add_argument(
        "--mirror",
        action="store_true",
        help="the camera image is mirrored (selfie): swap left and right back",
    )
    p.add_argument(
        "--body",
        choices=("on", "off"),
        help="track hands and upper body beside the face (default: on when the CPU allows it)",
    )
    p.add_argument(
        "--vmc-to",
        default="",
        metavar="HOST:PORT",
        help="also send our tracking to a VMC receiver (VSeeFace, Warudo, ...) at HOST:PORT: "
        "plain UDP, unencrypted, outside the call's privacy",
    )
    p.add_argument("--stats-json", metavar="FILE", help="keep FILE updated with call stats")
    p.add_argument("--duration", type=float, metavar="S", help="hang up after S seconds")
    p.add_argument(
        "--ice-server",
        action="append",
        default=[],
        metavar="URL",
        help="STUN/TURN URL (overrides the relay's TURN credentials)",
    )
    p.add_argument("--turn-user", help="TURN username for --ice-server")
    p.add_argument("--turn-pass", help="TURN password for --ice-server")
    p.add_argument("--turn-only", action="store_true", help="connect through TURN only")
    voice = p.add_argument_group("voice")
    voice.add_argument(
        "--no-voice",
        dest="voice",
        action="store_false",
        help="no audio track: text and avatar only (nothing about sound is opened)",
    )
    voice.add_argument(
        "--mic",
        default="default",
        metavar="SPEC",
        help="microphone: default | a device name (part of it) | file:PATH (a WAV file, "
        "looped; file:PATH,once plays it once) | clip (the --source clip's audio) | silence",
    )
    voice.add_argument(
        "--speaker",
        default="default",
        metavar="SPEC",
        help="speaker: default | a device name | file:PATH (writes a WAV, 48 kHz mono) | none",
    )
    voice.add_argument(
        "--no-echo-cancel",
        dest="echo_cancel",
        action="store_false",
        help="no echo cancellation (fine with headphones; speakers then echo to the peer)",
    )
    voice.add_argument("--muted", action="store_true", help="start with the microphone muted")
    p.add_argument("--log-dir", help="write each child's stderr to DIR/<child>.log")
    p.add_argument("--quiet", action="store_true", help="no per-second status line")
    p.set_defaults(func=run)


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"


def format_stats(ev: dict[str, Any], render: dict[str, Any] | None = None) -> str:
    """One compact line from the networking process's ``stats`` values (and the render
    window's, which measures capture -> present itself)."""
    e2e = ev.get("e2e_ms") or {}
    present = (render or {}).get("e2e_present_ms") or {}
    parts = [
        f"[{ev.get('state', '?')}]",
        f"tx {ev.get('send_hz', 0):.0f} Hz",
        f"rx {ev.get('recv_hz', 0):.0f} Hz",
        f"{ev.get('bytes_per_frame') or 0:.0f} B/frame",
        f"rtt {_ms(ev.get('rtt_ms'))} ms",
        f"e2e {_ms(e2e.get('p50'))}/{_ms(e2e.get('p99'))} ms",
    ]
    if present:
        parts.append(f"present {_ms(present.get('p50'))}/{_ms(present.get('p99'))} ms")
    if ev.get("loss"):
        parts.append(f"loss {100 * ev['loss']:.1f}%")
    if ev.get("bad_frames"):
        parts.append(f"bad {ev['bad_frames']}")
    if ev.get("candidate_pair"):
        parts.append(str(ev["candidate_pair"]))
    if ev.get("sas"):
        parts.append(f"SAS {ev['sas']}")
    voice = ev.get("voice")
    if isinstance(voice, dict):
        parts.append(format_voice(voice))
    return "  ".join(parts)


def _num(value: Any, unit: str, decimals: int = 0) -> str:
    """A figure the networking process reported, or "-" (unknown is never shown as 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return f"{value:.{decimals}f}{unit}"


def format_voice(voice: dict[str, Any]) -> str:
    """The voice part of the status line: ``voice delay 48 ms buf 40 ms loss 1.5%`` (with
    ``lip-sync hold 60 ms`` after ``buf`` while the voice waits for a slower avatar; part of
    the delay) and the mute/deafen state, or why there is no voice."""
    if voice.get("on") is False:
        return "voice off"
    # Before any of the peer's voice arrived, delay and loss are reported as 0: not a perfect
    # path, no path yet.
    received = voice.get("packets_received")
    heard = not isinstance(received, int) or received > 0
    parts = [
        "voice",
        f"delay {_num(voice.get('audio_delay_ms') if heard else None, ' ms')}",
        f"buf {_num(voice.get('jitter_buffer_ms'), ' ms')}",
    ]
    hold = voice.get("lipsync_hold_ms")
    if isinstance(hold, int | float) and hold > 0:  # part of the delay: waiting for the avatar
        parts.append(f"lip-sync hold {_num(hold, ' ms')}")
    parts += [
        f"loss {_num(voice.get('loss_pct') if heard else None, '%', 1)}",
        f"in {_num(voice.get('in_level'), '', 2)}",
    ]
    if voice.get("muted"):
        parts.append("MUTED")
    if voice.get("deafened"):
        parts.append("DEAFENED")
    if voice.get("speaking"):
        parts.append("you speak")
    if voice.get("peer_speaking"):
        parts.append("peer speaks")
    sdp = voice.get("sdp")
    if voice.get("agreed") is False and isinstance(sdp, dict) and sdp.get("remote"):
        parts.append("(the peer has voice off)")
    return " ".join(parts)


class CallPrinter:
    """Turns call events into terse terminal lines (and remembers what a summary needs)."""

    def __init__(
        self, prefix: str = "", quiet: bool = False, stream: Any = None, room: str = ""
    ) -> None:
        self.prefix = prefix
        #: The room, for the browser link printed when an embedded relay starts.
        self.room = room
        self.quiet = quiet
        self.stream = stream or sys.stdout
        self.connected_once = False
        self.first_connected_at: float | None = None
        self.last_stats: dict[str, Any] | None = None
        #: The render window's last ``stats`` values (capture -> present), with ``--window``.
        self.render_stats: dict[str, Any] | None = None
        self.fatal: str | None = None
        #: We joined with an invitation's code and nobody is in that room.
        self.no_room = False
        #: The peer's display name from its hello (untrusted; printable where shown).
        self.peer_name = ""
        self.transfer = TransferNotice()

    def say(self, text: str) -> None:
        self.stream.write(f"{self.prefix}{text}\n")
        self.stream.flush()

    def __call__(self, source: str, ev: CallEvent) -> None:
        if isinstance(ev, Stats) and source == "render":
            self.render_stats = ev.values
        elif isinstance(ev, Stats) and source == "peer":
            self.last_stats = ev.values
            if not self.quiet:
                self.say(format_stats(ev.values, self.render_stats))
        elif isinstance(ev, Status) and source == "peer" and ev.state == "no_room":
            self.no_room = True
        elif isinstance(ev, Status) and source == "peer":
            if ev.state == "connected" and not self.connected_once:
                self.connected_once = True
                self.first_connected_at = time.monotonic()
            self.say(f"{state_word(ev.state)}: {printable(ev.message)}")
        elif isinstance(ev, Status) and source == "tracking" and not self.quiet:
            status = ev.message or state_word(ev.state)
            self.say(_("tracking: {status}").format(status=status))
        elif isinstance(ev, ChatReceived):
            self.say(f"<{printable(ev.sender or _('peer'), 64)}> {printable(ev.text)}")
        elif isinstance(ev, PeerGesture):
            self.say(gesture_sentence(ev.name, self.peer_name))
        elif isinstance(ev, AvatarProgress):
            if (line := self.transfer.line(ev)) is not None:
                self.say(line)
        elif isinstance(ev, GestureMade) and not self.quiet:
            self.say(_("you: {emoji} sent").format(emoji=GESTURE_EMOJI.get(ev.name, "?")))
        elif isinstance(ev, PeerHello):
            self.peer_name = ev.name
            name, avatar = printable(ev.name or "?", 64), printable(ev.avatar_id)
            self.say(_("peer: {name} (avatar {avatar})").format(name=name, avatar=avatar))
        elif isinstance(ev, OverlayShown):
            state = state_word(ev.state) if ev.state else _("live")
            self.say(_("window: {state}").format(state=state))
        elif isinstance(ev, AvatarShown):
            avatar = printable(ev.avatar, 80)
            shown = (
                _("window: peer avatar {avatar}")
                if ev.view == "peer"
                else _("window: own avatar {avatar}")
            )
            self.say(shown.format(avatar=avatar))
        elif isinstance(ev, RelayStarted):
            where = "" if ev.lan else _(", this machine only: --lan lets your network join")
            self.say(
                _("local relay: {url} (the peer joins with --relay {url}{where})").format(
                    url=ev.share_url, where=where
                )
            )
            if self.room:
                link = web_link(ev.share_url, self.room)
                self.say(_("or in a browser: {link}").format(link=link))
        elif isinstance(ev, Error | ChildFailed):
            message = printable(ev.message)
            self.say(_("error ({source}): {message}").format(source=source, message=message))
            if isinstance(ev, ChildFailed) and ev.fatal:  # a child is gone for good: end
                self.fatal = ev.message


async def _chat_from_tty(call: Call) -> None:
    """Lines typed on an interactive terminal become chat messages."""
    if not sys.stdin.isatty():
        return
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        if line.strip():
            call.chat(line.rstrip("\n"))


def cancel_on_signals() -> None:
    """SIGTERM/SIGHUP (and SIGINT where a shell left it ignored) cancel the running main task,
    so its ``finally`` stops the children and unlinks the rings instead of dying mid-call."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is None:
        return
    sigs = [signal.SIGTERM, signal.SIGHUP]
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        sigs.append(signal.SIGINT)
    for sig in sigs:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, task.cancel)


async def run_call(args: argparse.Namespace) -> int:
    cancel_on_signals()
    if args.join and args.room:
        print(
            _("avatarchat call: --join and --room are two ways to name the room: give one"),
            file=sys.stderr,
        )
        return 2
    room = args.join or args.room or new_room_code()
    if not args.room and not args.join:
        print(_("room: {room}  (the peer joins with --room {room})").format(room=room), flush=True)
        if args.relay:
            link = web_link(args.relay, room)
            print(_("or in a browser: {link}").format(link=link), flush=True)
    printer = CallPrinter(quiet=args.quiet, room=room)
    cfg = CallConfig(
        relay=args.relay,
        lan=args.lan,
        room=room,
        join_existing=bool(args.join),
        source=args.source,
        name=args.name,
        avatar=args.avatar,
        window=args.window,
        mirror=True if args.mirror else None,
        body=None if args.body is None else args.body == "on",
        vmc_to=args.vmc_to,
        stats_json=args.stats_json,
        ice_servers=args.ice_server,
        turn_user=args.turn_user,
        turn_pass=args.turn_pass,
        turn_only=args.turn_only,
        log_dir=args.log_dir,
        voice=args.voice,
        mic=args.mic,
        speaker=args.speaker,
        echo_cancel=args.echo_cancel,
        muted=args.muted,
    )
    call = Call(cfg, printer)
    try:
        await call.start()
        async with asyncio.TaskGroup() as tasks:
            chat = tasks.create_task(_chat_from_tty(call))
            deadline = time.monotonic() + args.duration if args.duration else None
            while deadline is None or time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                if printer.fatal or printer.no_room or call.ended:
                    break
            chat.cancel()
    finally:
        await call.close()
    if printer.last_stats is not None:
        summary = {
            k: printer.last_stats.get(k)
            for k in ("frames_sent", "frames_received", "seq_gaps", "bad_frames", "e2e_ms")
        }
        if isinstance(printer.last_stats.get("voice"), dict):
            summary["voice"] = printer.last_stats["voice"]
        # "summary:" stays English in every language: scripts parse this line.
        print("summary: " + json.dumps(summary), flush=True)
    if printer.fatal:
        return 2
    if printer.no_room:
        print(
            _(
                "no one is in room {room}: check the code, or ask for a new one "
                "(to wait there for them anyway: --room {room})"
            ).format(room=room),
            flush=True,
        )
        return 1
    if not printer.connected_once:
        print(_("the peer never connected"), flush=True)
        return 1
    return 0


def run_to_exit_code(main: Coroutine[Any, Any, int], prog: str) -> int:
    """``asyncio.run(main)`` for the call commands: a CallError is printed and gives 2, Ctrl-C
    130."""
    try:
        return asyncio.run(main)
    except CallError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 130


def run(args: argparse.Namespace) -> int:
    return run_to_exit_code(run_call(args), "avatarchat call")
