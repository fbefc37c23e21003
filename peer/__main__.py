"""``python -m peer``: the networking process (spawned by ``avatarchat call`` and the TUI).

See :mod:`peer.app` for the events it prints and the commands it reads.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from protocol.signaling import ROOM_ENV, TURN_PASS_ENV

from .app import run_peer
from .options import PeerOptions
from .signaling import GIVE_UP_AFTER_S

#: Default for --relay-give-up (tests shorten it for every peer a front-end starts).
GIVE_UP_ENV = "AVATARCHAT_RELAY_GIVE_UP_S"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"{text} s is not in (0, 86400)")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m peer", description=__doc__)
    p.add_argument("--relay", required=True, help="relay URL, e.g. ws://127.0.0.1:8765")
    p.add_argument(
        "--room",
        default=os.environ.get(ROOM_ENV),
        help=f"room code (or ${ROOM_ENV}, kept out of ps; call/ passes it that way)",
    )
    p.add_argument("--local-ring", required=True, help="ring the tracker writes (we send it)")
    p.add_argument("--remote-ring", required=True, help="ring we write the peer's frames into")
    p.add_argument("--name", default="", help="display name sent in hello")
    p.add_argument("--avatar", default="aria", help="avatar id or pack path announced to the peer")
    p.add_argument(
        "--ice-server",
        action="append",
        default=[],
        metavar="URL",
        help="STUN/TURN URL (repeatable); overrides the relay's TURN credentials",
    )
    p.add_argument("--turn-user", help="TURN username for --ice-server")
    p.add_argument(
        "--turn-pass",
        default=os.environ.get(TURN_PASS_ENV),
        help=f"TURN password for --ice-server (or ${TURN_PASS_ENV}, kept out of ps)",
    )
    p.add_argument(
        "--turn-only",
        action="store_true",
        help="use only relay (TURN) candidates (iceTransportPolicy=relay)",
    )
    p.add_argument("--stats-json", metavar="FILE", help="rewrite FILE with the stats every second")
    p.add_argument(
        "--join-existing",
        action="store_true",
        help="join only a room someone is already in; otherwise say 'no_room' and wait for "
        "an open_room command",
    )
    p.add_argument(
        "--relay-give-up",
        type=_seconds,
        default=os.environ.get(GIVE_UP_ENV, str(GIVE_UP_AFTER_S)),
        metavar="SECONDS",
        help=f"end the call when the relay stays unreachable this long (or ${GIVE_UP_ENV}; "
        f"default {GIVE_UP_AFTER_S:.0f})",
    )
    voice = p.add_argument_group("voice (issue 14)")
    voice.add_argument(
        "--no-voice",
        dest="voice",
        action="store_false",
        help="no audio track: text and avatar only (the SDP carries no m=audio)",
    )
    voice.add_argument(
        "--mic",
        default="default",
        metavar="SPEC",
        help="microphone: default | a device name (substring) | file:PATH (WAV, loops) | "
        "file:PATH,once (then silence) | clip (the tracker's clip, needs --clip) | silence",
    )
    voice.add_argument(
        "--speaker",
        default="default",
        metavar="SPEC",
        help="speaker: default | a device name | file:PATH (WAV 48 kHz mono 16-bit) | none",
    )
    voice.add_argument(
        "--no-echo-cancel",
        dest="echo_cancel",
        action="store_false",
        help="no echo cancellation on the microphone path",
    )
    voice.add_argument("--muted", action="store_true", help="start with the microphone muted")
    voice.add_argument("--deafened", action="store_true", help="start with playback off")
    voice.add_argument(
        "--clip", metavar="PATH", help="the clip file the tracker plays (for --mic clip)"
    )
    voice.add_argument(
        "--clip-epoch-ns",
        type=int,
        metavar="NS",
        help="time.monotonic_ns() at which the clip's first frame is due, the same value the "
        "tracker is given, so the clip's audio and video stay in step (default: now)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.room:
        parser.error(f"a room code is needed: --room or ${ROOM_ENV}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s peer %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("aioice", "aiortc", "websockets"):
        logging.getLogger(noisy).setLevel(logging.INFO if args.verbose else logging.WARNING)
    opts = PeerOptions(
        relay=args.relay,
        room=args.room,
        local_ring=args.local_ring,
        remote_ring=args.remote_ring,
        name=args.name,
        avatar=args.avatar,
        ice_servers=args.ice_server,
        turn_user=args.turn_user,
        turn_pass=args.turn_pass,
        turn_only=args.turn_only,
        stats_json=args.stats_json,
        join_existing=args.join_existing,
        relay_give_up_s=args.relay_give_up,
        voice=args.voice,
        mic=args.mic,
        speaker=args.speaker,
        echo_cancel=args.echo_cancel,
        muted=args.muted,
        deafened=args.deafened,
        clip_path=args.clip,
        clip_epoch_ns=args.clip_epoch_ns,
    )
    try:
        return asyncio.run(run_peer(opts))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
