"""``avatarchat demo``: a whole call on this machine with no configuration.

Starts a relay on a free loopback port and two headless clients ("alice" and "bob") whose
cameras are the vendored sample clip (``--synthetic`` swaps in the synthetic face, which needs
no MediaPipe), prints both sides' stats once a second (RTT, end-to-end latency, rates,
bytes/frame) and a summary at the end. ``--window`` also opens both render windows.

Voice: alice's microphone is the sample clip's audio (silence with ``--synthetic``) and bob's
speaker plays it, so you hear the clip's speech with the avatar's lips in step; bob sends
silence and alice plays nothing. Two clients on one machine must not both open the microphone
and the speaker: each would hear the other's output and the sound would feed back.
``--no-voice``: no audio track.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from call import Call, CallConfig, LocalRelay
from cli.helptext import plain
from i18n import _
from protocol.signaling import new_room_code

from .cmd_call import CallPrinter, cancel_on_signals, format_stats, run_to_exit_code


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help="a local relay and two headless clients holding a call (no setup needed)",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--seconds", type=float, default=15.0, help="call length (default 15)")
    p.add_argument("--window", action="store_true", help="open both render windows")
    p.add_argument(
        "--synthetic",
        action="store_true",
        help="use the synthetic face instead of the sample clip (no MediaPipe)",
    )
    p.add_argument(
        "--no-voice",
        dest="voice",
        action="store_false",
        help="no audio track (default: bob plays alice's clip audio on the speaker)",
    )
    p.add_argument("--json", metavar="FILE", help="write the summary as JSON to FILE")
    p.set_defaults(func=run)


def _summary(
    name: str, stats: dict[str, Any] | None, render: dict[str, Any] | None
) -> dict[str, Any]:
    if not stats:
        return {"client": name, "connected": False}
    return {
        "client": name,
        "connected": True,
        "recv_hz": stats.get("recv_hz"),
        "bytes_per_frame": stats.get("bytes_per_frame"),
        "rtt_ms": stats.get("rtt_ms"),
        "e2e_ms": stats.get("e2e_ms"),
        "e2e_present_ms": (render or {}).get("e2e_present_ms"),
        "frames_sent": stats.get("frames_sent"),
        "frames_received": stats.get("frames_received"),
        "seq_gaps": stats.get("seq_gaps"),
        "bad_frames": stats.get("bad_frames"),
        "candidate_pair": stats.get("candidate_pair"),
        "sas": stats.get("sas"),
        "voice": stats.get("voice"),
    }


#: Who sends and who plays in the demo (see the module docstring): (mic, speaker) per client.
def demo_voice(name: str, source: str) -> tuple[str, str]:
    if name == "alice":
        return ("clip" if source == "sample" else "silence"), "none"
    return "silence", "default"


async def run_demo(args: argparse.Namespace) -> int:
    cancel_on_signals()
    source = "synthetic" if args.synthetic else "sample"
    printers = {n: CallPrinter(prefix=f"{n:>5} | ", quiet=True) for n in ("alice", "bob")}
    calls: dict[str, Call] = {}
    final: dict[str, dict[str, Any] | None] = {}
    final_render: dict[str, dict[str, Any] | None] = {}
    started = time.monotonic()
    relay = LocalRelay(lambda _source, _event: None, host="127.0.0.1")
    try:
        await relay.start()
        url = relay.local_url
        room = new_room_code()
        print(
            _("relay on {url}, room {room}..., cameras: {source}").format(
                url=url, room=room[:8], source=source
            ),
            flush=True,
        )
        for name in ("alice", "bob"):
            mic, speaker = demo_voice(name, source)
            cfg = CallConfig(
                voice=args.voice,
                mic=mic,
                speaker=speaker,
                relay=url,
                room=room,
                source=source,
                name=name,
                avatar="aria",
                window=args.window,
            )
            calls[name] = Call(cfg, printers[name])
            await calls[name].start()
        deadline = started + args.seconds
        next_print = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            await asyncio.sleep(max(0.0, min(next_print, deadline) - time.monotonic()))
            if time.monotonic() >= next_print:
                next_print += 1.0
                for printer in printers.values():
                    if printer.last_stats is not None:
                        printer.say(format_stats(printer.last_stats, printer.render_stats))
            if any(p.fatal for p in printers.values()):
                break
        # Freeze the figures now: once one side hangs up, the other's rates fall.
        final = {n: p.last_stats for n, p in printers.items()}
        final_render = {n: p.render_stats for n, p in printers.items()}
    finally:
        for call in calls.values():
            await call.close()
        await relay.stop()
    summary = {
        "seconds": round(time.monotonic() - started, 1),
        "source": source,
        "clients": [_summary(n, final.get(n), final_render.get(n)) for n in ("alice", "bob")],
    }
    print("summary:", json.dumps(summary, indent=1), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1)
    return 0 if all(p.connected_once for p in printers.values()) else 1


def run(args: argparse.Namespace) -> int:
    return run_to_exit_code(run_demo(args), "avatarchat demo")
