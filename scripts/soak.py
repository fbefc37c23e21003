#!/usr/bin/env python3
"""Soak: N full calls between two headless clients in network namespaces, measured per frame.

Why: "5-minute calls succeed 99% of the time, under 120 ms" has to hold on a bad network too.
Each call gets fresh namespaces from the network lab (``netlab``): a clean direct link,
a routed path with loss (iptables) and delay/jitter (TUN shim), or a TURN-only split where the
two clients cannot reach each other and must go through coturn. The relay runs in the lab
(with ``--turn-secret`` in TURN-only mode, so the clients use the relay's REST credentials).

Each client is a :class:`call.Call` -- the exact machinery of
``avatarchat call`` (tracking + ``python -m peer`` [+ render window]) -- with its children
wrapped in ``ip netns exec``, clips from ``../shared/testdata/faces`` as cameras. Running the
sessions in this process lets the soak read what the CLI only prints:

- every frame the receiving peer writes to its remote ring (the ring is in ``/dev/shm``, shared
  by all namespaces): end-to-end latency = ring write time - sender's capture time, exact,
  since all namespaces share one CLOCK_MONOTONIC; and the longest gap without frames;
- the peers' ``stats`` events (frames sent, reconnects, candidate pair) and supervisor events
  (restarts) for recoveries;
- CPU and RSS of every process (psutil) every few seconds.

Success of a call: both peers connected within 5 s of both being up, and no gap of more than
2 s without frames in either direction after the first frame. Delivered ratio = frames written
to the receiver's ring / frames the sender's peer sent (trackers are stopped first so the
counts are final).

    python scripts/soak.py --calls 2 --minutes 0.5 --loss 5 --delay 40 --jitter 10 \\
        --json docs/bench/soak-impaired.json

``--voice``: both clients talk (espeak-ng speech as ``--mic file:``, looping) and record what
they hear (``--speaker file:``); each call's result gains ``voice``: per direction, the median
window correlation of heard vs said speech, mouth-to-ear p50/p95 (``netlab.voice_call.heard``),
and the receiver's loss, concealment and jitter buffer. Without it the clients run with
``--no-voice``, as before voice existed, so earlier soak results stay comparable.

Needs root (namespaces). Writes JSON (``--json``), and a Markdown summary plus PNG plots next
to it (see ``netlab/soak_report.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import netlab
from call import Call, CallConfig
from netlab import soak_report
from netlab.soak_probes import PROC_SAMPLE_S, ProcSampler, RingTap, Side
from netlab.voice_call import espeak_wav, heard
from peer.voice.sources import read_wav
from protocol.signaling import new_room_code

log = logging.getLogger("soak")

REPO = Path(__file__).resolve().parent.parent
FACES = Path(os.environ.get("AVATARCHAT_SHARED", REPO.parent / "shared")) / "testdata" / "faces"
SAMPLE_CLIP = REPO / "tracking" / "samples" / "d10.mp4"
RELAY_PORT = 8765
#: The receiver's voice stats kept per direction in ``--voice`` mode.
VOICE_KEYS = ("loss_pct", "concealed_pct", "jitter_buffer_ms", "audio_delay_ms", "underruns")
#: The issue's success criteria.
CONNECT_LIMIT_S = 5.0
MAX_GAP_S = 2.0
#: A call not connected after this long is given up (it has failed long before).
CONNECT_GIVE_UP_S = 45.0
#: Ring poll period: 32 slots at 30 Hz last ~1 s, so 50 ms never loses a frame; it also bounds
#: the error of the gap measurement (gaps come from the ring's own write times, not the poll).
RING_POLL_S = 0.05
#: After the trackers stop, in-flight frames (delay <= a few hundred ms) and one more stats
#: event (1 s) must arrive before the counts are final.
DRAIN_S = 2.5


def clips() -> list[Path]:
    """Face clips used as cameras: the project's set, or the vendored sample without it."""
    found = sorted(FACES.glob("*.mp4")) if FACES.is_dir() else []
    return found or [SAMPLE_CLIP]


@contextlib.contextmanager
def make_lab(args: argparse.Namespace) -> Any:
    loss = args.loss / 100
    if args.turn_only:
        if args.delay or args.jitter:
            raise SystemExit("--delay/--jitter need the routed path; not with --turn-only")
        with netlab.turn_split() as lab:
            if loss > 0:
                lab.set_loss(loss)
            yield lab
    elif loss > 0 or args.delay > 0 or args.jitter > 0:
        with netlab.routed(loss=loss, delay_ms=args.delay, jitter_ms=args.jitter) as lab:
            yield lab
    else:
        with netlab.direct() as lab:
            yield lab


def start_relay(lab: netlab.Lab, log_path: Path, turn: netlab.Coturn | None) -> Any:
    argv = [sys.executable, "-m", "relay", "--host", lab.service_addr, "--port", str(RELAY_PORT)]
    env = dict(os.environ)
    if turn is not None:
        argv += ["--turn-uri", turn.url]
        env["AVATARCHAT_RELAY_TURN_SECRET"] = turn.secret  # not on the command line
    logf = open(log_path, "wb")  # noqa: SIM115 - closed with the process by the caller
    proc = lab.popen(lab.service_role, argv, stdout=logf, stderr=subprocess.STDOUT, env=env)
    want = f"{lab.service_addr}:{RELAY_PORT}"
    deadline = time.monotonic() + 20
    while want not in lab.run(lab.service_role, ["ss", "-Hltn"], check=False):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"relay did not listen on {want}: {log_path.read_text()[-500:]}")
        time.sleep(0.05)
    return proc, logf


async def run_call(index: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """One call from fresh namespaces to teardown; returns its measurements."""
    calldir = workdir / f"call{index:02d}"
    calldir.mkdir(parents=True, exist_ok=True)
    all_clips = clips()
    with contextlib.ExitStack() as stack:
        lab = stack.enter_context(make_lab(args))
        turn = stack.enter_context(netlab.Coturn(lab)) if args.turn_only else None
        relay, relay_log = start_relay(lab, calldir / "relay.log", turn)
        stack.callback(relay_log.close)
        url = f"ws://{lab.service_addr}:{RELAY_PORT}"
        room = new_room_code()
        env = dict(os.environ)
        if args.display:
            env["DISPLAY"] = args.display
        sides: list[Side] = []
        for i, name in enumerate(("a", "b")):
            clip = all_clips[(2 * index + i) % len(all_clips)]
            cfg = CallConfig(
                relay=url, room=room, source=str(clip), name=f"soak-{name}",
                window=args.windows, turn_only=args.turn_only, env=env,
                log_dir=str(calldir / name), wrap=lab.argv(name, []),
                stats_json=str(calldir / f"{name}-stats.json"),
                **_voice_config(args, calldir, name),
            )  # fmt: skip
            os.makedirs(cfg.log_dir or "", exist_ok=True)
            side = Side(name)
            side.session = Call(cfg, side.on_event)
            sides.append(side)
        result = await _drive(index, args, lab, sides, relay, turn)
        for side in sides:  # per-frame latency, for digging into outliers (e.g. vs seq gaps)
            with open(calldir / f"frames-to-{side.name}.csv", "w") as f:
                f.write("t_monotonic_s,e2e_ms,seq\n")
                f.writelines(f"{t:.6f},{e2e:.3f},{seq}\n" for t, e2e, seq in side.frames)
        result["clips"] = [Path(s.session.config.source).name for s in sides]
        if args.voice:
            result["voice"] = _voice_result(args, calldir, sides)
        # How late the delay shim released packets (should be ~0: it runs SCHED_FIFO).
        result["shim"] = lab.shim_stats() if lab.shim is not None else None
        return result


def _voice_config(args: argparse.Namespace, calldir: Path, name: str) -> dict[str, Any]:
    """The voice fields of one client's CallConfig (``--voice``: speak and record)."""
    if not args.voice:
        return {"voice": False}
    return {
        "voice": True,
        "mic": f"file:{args.speech}",
        "speaker": f"file:{calldir / f'heard-{name}.wav'}",
    }


def _voice_result(args: argparse.Namespace, calldir: Path, sides: list[Side]) -> dict[str, Any]:
    """Per direction: what the receiver heard vs what the sender said, and its buffer."""
    said = read_wav(str(args.speech))
    out: dict[str, Any] = {}
    for tx, rx in ((sides[0], sides[1]), (sides[1], sides[0])):
        v_tx = _last_voice(tx, "mic_epoch_ns")
        v_rx = _last_voice(rx, "speaker_start_ns", receiving=True)
        rec = calldir / f"heard-{rx.name}.wav"
        entry: dict[str, Any] = {k: v_rx.get(k) for k in VOICE_KEYS}
        if v_tx and v_rx and rec.exists():
            got = heard(
                said,
                v_tx["mic_epoch_ns"],
                read_wav(str(rec)),
                v_rx["speaker_start_ns"],
                settle_s=1.0,
            )
            entry.update(
                speech_correlation=round(got.correlation, 3),
                windows=len(got.lags_s),
                mouth_to_ear_ms_p50=round(got.delay_ms(50), 1) if got.lags_s else None,
                mouth_to_ear_ms_p95=round(got.delay_ms(95), 1) if got.lags_s else None,
            )
        out[f"{tx.name}_to_{rx.name}"] = entry
    return out  # fmt: skip


def _last_voice(side: Side, key: str, *, receiving: bool = False) -> dict[str, Any]:
    """The side's last ``voice`` stats that carry ``key`` (and, ``receiving``, were taken while
    voice was arriving: not after the link closed at the end)."""
    for event in reversed(side.stats):
        voice = event.get("voice") or {}
        if key in voice and (not receiving or voice.get("audio_delay_ms")):
            return dict(voice)
    return {}


async def _drive(
    index: int, args: argparse.Namespace, lab: netlab.Lab, sides: list[Side],
    relay: subprocess.Popen[bytes], turn: netlab.Coturn | None,
) -> dict[str, Any]:  # fmt: skip
    sampler = ProcSampler()
    t_start = time.monotonic()
    t0 = t_end = t_start
    connected = False

    async def poll_rings() -> None:
        # Its own task so nothing else (a slow child stop) can let a ring lap the tap.
        while True:
            for side in sides:
                side.poll_ring()
            await asyncio.sleep(RING_POLL_S)

    poller: asyncio.Task[None] | None = None
    try:
        for side in sides:
            await side.session.start()
            assert side.session.remote is not None
            side.tap = RingTap(side.session.remote.name)
        poller = asyncio.create_task(poll_rings())
        deadline = t_start + CONNECT_GIVE_UP_S
        while time.monotonic() < deadline and not all(s.connected_at for s in sides):
            await asyncio.sleep(RING_POLL_S)
        connected = all(s.connected_at for s in sides)
        t0 = max((s.connected_at or 0) for s in sides) if connected else time.monotonic()
        end = t0 + args.minutes * 60 if connected else t0
        while time.monotonic() < end:
            sampler.sample(_pids(sides, lab, relay, turn))
            await asyncio.sleep(min(PROC_SAMPLE_S, max(0.0, end - time.monotonic())))
        # Stop the senders, let in-flight frames and one more stats event arrive: final counts.
        t_end = time.monotonic()
        await asyncio.gather(*(s.session.tracking.stop() for s in sides if s.session.tracking))
        await asyncio.sleep(DRAIN_S)
    finally:
        if poller is not None:
            poller.cancel()
        for side in sides:
            if side.tap is not None:
                side.poll_ring()
                side.ring_writes = side.tap.write_count
        closing = (s.session.close(hangup=False) for s in sides)
        await asyncio.gather(*closing, return_exceptions=True)
        for side in sides:
            if side.tap is not None:
                side.tap.close()
            with contextlib.suppress(OSError, ValueError):
                stats_json = Path(side.session.config.stats_json or "")
                side.product = json.loads(stats_json.read_text()).get("call", {})
            # The window measures capture -> present itself (whole run = the call).
            side.product["e2e_present_ms"] = side.render_stats.get("run_e2e_present_ms")
    return soak_report.call_result(
        index, sides, sampler.samples, t0=t0, t_end=t_end, connected=connected, kind=lab.kind,
        connect_limit_s=args.connect_limit, max_gap_s=MAX_GAP_S,
    )  # fmt: skip


def _pids(
    sides: list[Side], lab: netlab.Lab, relay: subprocess.Popen[bytes], turn: netlab.Coturn | None
) -> dict[str, int | None]:
    pids: dict[str, int | None] = {"relay": relay.pid}
    for side in sides:
        for child in side.session.children.values():
            pids[f"{child.name}-{side.name}"] = child.pid
    if turn is not None and turn.proc is not None:
        pids["coturn"] = turn.proc.pid
    if lab.shim is not None:
        pids["shim"] = lab.shim.pid
    return pids


@contextlib.contextmanager
def xvfb(enabled: bool) -> Any:
    """A private Xvfb for --windows (render windows on Mesa llvmpipe)."""
    if not enabled:
        yield None
        return
    number = next(n for n in range(150, 250) if not os.path.exists(f"/tmp/.X11-unix/X{n}"))
    proc = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "+extension", "GLX",
         "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not os.path.exists(f"/tmp/.X11-unix/X{number}"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("Xvfb did not start")
        time.sleep(0.05)
    try:
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(5)


def lab_needs(args: argparse.Namespace) -> list[str]:
    """Tools beyond namespaces this run's lab uses, so a missing one is named before call 0."""
    needs = ["iptables"] if args.loss > 0 else []
    if args.delay > 0 or args.jitter > 0:
        needs.append(netlab.TUN_DEVICE)
    if args.turn_only:
        needs.append("turnserver")
    return needs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=1)
    p.add_argument("--minutes", type=float, default=5.0, help="length of each call (fractions ok)")
    p.add_argument("--loss", type=float, default=0.0, help="packet loss per direction, percent")
    p.add_argument("--delay", type=float, default=0.0, help="one-way delay, ms")
    p.add_argument("--jitter", type=float, default=0.0, help="+- uniform jitter, ms")
    p.add_argument("--turn-only", action="store_true", help="no route between the clients")
    p.add_argument("--windows", action="store_true", help="render windows on a private Xvfb")
    p.add_argument(
        "--voice",
        action="store_true",
        help="both clients talk (espeak-ng speech) and record what they hear; scored per call",
    )
    p.add_argument(
        "--connect-limit",
        type=float,
        default=CONNECT_LIMIT_S,
        help="seconds from both peers up to connected for a call to count as a "
        "success (the issue: 5)",
    )
    p.add_argument("--json", required=True, type=Path, help="results file")
    p.add_argument("--no-report", action="store_true", help="JSON only: no Markdown, no PNGs")
    p.add_argument(
        "--keep-logs",
        type=Path,
        help="keep per-call child logs, stats and per-frame CSVs in this folder",
    )
    p.add_argument(
        "--cpus",
        type=parse_cpu_list,
        help="pin the soak and every process it starts to these CPUs (e.g. 0 or 0-1,3), so two "
        "soaks can share a machine without taking turns on each other's cores",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def parse_cpu_list(text: str) -> set[int]:
    """``0,2-3`` -> {0, 2, 3}; only CPUs this process may run on (an argparse type)."""
    cpus: set[int] = set()
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)(?:-(\d+))?\s*", part)
        if not m:
            raise argparse.ArgumentTypeError(f"expected CPU numbers like 0 or 0-1,3, got {text!r}")
        cpus.update(range(int(m[1]), int(m[2] or m[1]) + 1))
    allowed = os.sched_getaffinity(0)
    if not cpus or not cpus <= allowed:
        raise argparse.ArgumentTypeError(
            f"CPUs {sorted(cpus - allowed) or text} are not available (allowed: {sorted(allowed)})"
        )
    return cpus


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    workdir = args.keep_logs or Path(tempfile.mkdtemp(prefix="avc-soak-"))
    results: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for index in range(args.calls):
        t = time.monotonic()
        try:
            res = await run_call(index, args, workdir)
        except Exception as e:  # one broken call must not lose the other 19
            log.exception("call %d could not run", index)
            res = soak_report.failed_call(index, f"{type(e).__name__}: {e}")
        log.info("call %d: %s in %.0f s (%s)", index, "ok" if res["success"] else "FAILED",
                 time.monotonic() - t, "; ".join(res["failures"]) or "e2e p99 "
                 f"{res['e2e_ms']['p99']} ms")  # fmt: skip
        results.append(res)
        # Written after every call: a long run that dies late still leaves its results.
        summary = soak_report.summarize(results, vars(args), command=_command())
        _write_json(args.json, summary)
    return summary


def _write_json(path: Path, summary: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(summary, indent=1) + "\n")
    os.replace(tmp, path)


def _command() -> str:
    return "python " + shlex.join([os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]])


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(message)s")  # fmt: skip
    reason = netlab.unavailable_reason(*lab_needs(args))
    if reason:
        print(f"soak: {reason}", file=sys.stderr)
        return 2
    if args.cpus:
        os.sched_setaffinity(0, args.cpus)  # inherited by every child: trackers, peers, relay
    # SIGTERM (a CI timeout, kill) unwinds like Ctrl+C, so namespaces and children go too.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    args.speech = None
    if args.voice:
        speech_dir = Path(tempfile.mkdtemp(prefix="avc-soak-speech-"))
        args.speech = espeak_wav(speech_dir / "speech.wav")
        if args.speech is None:
            print("soak: --voice needs espeak-ng (scripts/system-deps.sh)", file=sys.stderr)
            return 2
    with xvfb(args.windows) as display:
        args.display = display
        summary = asyncio.run(soak(args))
    if not args.no_report:
        soak_report.write_report(summary, args.json)
    print(json.dumps({k: summary[k] for k in soak_report.HEADLINE}, indent=1))
    return 0 if summary["succeeded"] == summary["calls"] else 1


if __name__ == "__main__":
    sys.exit(main())
