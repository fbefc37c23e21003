#!/usr/bin/env python3
"""Benchmark voice (issue 14): real calls, real relay, speech from espeak-ng as the microphone.

    python scripts/bench_voice.py --json out.json                 # everything this host can run
    python scripts/bench_voice.py --seconds 20 --skip impaired --json out.json

Each measurement is one function returning a dict of keys; ``main`` runs those asked for
(``--only`` / ``--skip``, by name) and merges their keys into one JSON. Other measurements (A/V
skew, lip sync, echo cancellation) are added to :data:`MEASUREMENTS` as functions of the same
shape.

- ``transport`` (loopback): ``mouth_to_ear_ms_p50/p95``, ``speech_correlation_clean``.
  Mouth-to-ear is from the moment a sample was captured (``--mic file:`` is paced like a
  sound card, sample n at its epoch + n/48 kHz) to the moment it was played (``--speaker
  file:`` is consumed like a sound card, sample m at its start + m/48 kHz): the lag of each
  0.5 s window of voiced speech found in the recording (``netlab.voice_call.heard``). It
  includes 20 ms of Opus packetisation, encoding, the network, our jitter buffer and the
  playout tick; it excludes the sound devices' own buffers (input and output latency of a real
  card, typically 5-20 ms each, added on top by the hardware). Correlation: the median
  normalised cross-correlation of those windows (1 = identical).
- ``impaired`` (network lab, root + iptables + TUN): the same at 5% loss per direction and 40
  +- 10 ms one-way delay: ``mouth_to_ear_impaired_ms_p50/p95``,
  ``speech_correlation_impaired``.
- ``cpu``: ``cpu_pct_voice``: the networking process's CPU (its own ``cpu`` stat, % of one
  core) with voice minus without, on loopback, averaged over the two clients. Per side too:
  ``cpu_pct_voice_talker`` (A: says the speech, hears B's silent microphone) and
  ``cpu_pct_voice_listener`` (B: a silent microphone, as when muted or without one, hears the
  speech); a silent microphone is cheaper to send (see ``peer.voice.track``).
- ``lipsync`` (no call): ``lipsync_open_acc``, ``lipsync_vowel_acc``: the voice-driven mouth
  scored against espeak-ng's phoneme timings; ``aec`` (no call): ``aec_erle_db`` through
  synthetic echo paths; ``av_skew`` (a call with a window, Xvfb if no display):
  ``av_skew_ms_p50/p95``. What each measures: :mod:`netlab.lipsync_bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import platform
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import netlab
from netlab import lipsync_bench
from netlab.voice_call import VoiceCallResult, espeak_wav, voice_call

Measurement = Callable[[argparse.Namespace, Path], dict[str, Any]]


def _round(value: float, digits: int = 1) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def _speech(workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    wav = espeak_wav(workdir / "speech.wav")
    if wav is None:
        raise SystemExit("espeak-ng is not installed (scripts/system-deps.sh installs it)")
    return wav


def _summary(result: VoiceCallResult) -> dict[str, Any]:
    vb = result.voice_b
    return {
        "windows": len(result.heard.lags_s),
        "loss_pct": vb.get("loss_pct"),
        "concealed_pct": vb.get("concealed_pct"),
        "jitter_buffer_ms": vb.get("jitter_buffer_ms"),
        "audio_delay_ms_reported": vb.get("audio_delay_ms"),
        "stayed_connected": result.stayed_connected,
    }


def transport(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    result = asyncio.run(voice_call(_speech(workdir), workdir / "clean", seconds=args.seconds))
    got = result.heard
    return {
        "mouth_to_ear_ms_p50": _round(got.delay_ms(50)),
        "mouth_to_ear_ms_p95": _round(got.delay_ms(95)),
        "speech_correlation_clean": _round(got.correlation, 3),
        "clean": _summary(result),
    }


def impaired(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    reason = netlab.unavailable_reason("iptables", netlab.TUN_DEVICE)
    if reason is not None:
        print(f"impaired: skipped ({reason})", file=sys.stderr)
        return {"impaired_skipped": reason}
    speech = _speech(workdir)
    with netlab.routed(loss=0.05, delay_ms=40.0, jitter_ms=10.0) as lab:
        result = asyncio.run(
            voice_call(speech, workdir / "impaired", seconds=args.seconds, lab=lab)
        )
    got = result.heard
    return {
        "mouth_to_ear_impaired_ms_p50": _round(got.delay_ms(50)),
        "mouth_to_ear_impaired_ms_p95": _round(got.delay_ms(95)),
        "speech_correlation_impaired": _round(got.correlation, 3),
        "impaired": _summary(result),
    }


def cpu(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    speech = _speech(workdir)
    seconds = max(args.seconds, 10.0)
    with_voice = asyncio.run(voice_call(speech, workdir / "cpu-voice", seconds=seconds))
    without = asyncio.run(voice_call(speech, workdir / "cpu-novoice", seconds=seconds, voice=False))
    on = (with_voice.cpu_a + with_voice.cpu_b) / 2
    off = (without.cpu_a + without.cpu_b) / 2
    return {
        "cpu_pct_voice": _round(on - off),
        "cpu_pct_voice_talker": _round(with_voice.cpu_a - without.cpu_a),
        "cpu_pct_voice_listener": _round(with_voice.cpu_b - without.cpu_b),
        "cpu_pct_peer_with_voice": _round(on),
        "cpu_pct_peer_without_voice": _round(off),
    }


def lipsync(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    return lipsync_bench.lipsync()


def aec(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    return lipsync_bench.echo()


def av_skew(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    # The sample clip: a face speaking, its audio track the microphone (--mic clip).
    return lipsync_bench.av_skew("sample", workdir, seconds=args.seconds)


#: name -> measurement, run in this order. Other voice measurements are added here.
MEASUREMENTS: dict[str, Measurement] = {
    "transport": transport,
    "impaired": impaired,
    "cpu": cpu,
    "lipsync": lipsync,
    "aec": aec,
    "av_skew": av_skew,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", required=True, type=Path, help="results file")
    p.add_argument("--seconds", type=float, default=15.0, help="speech per call (after connect)")
    p.add_argument("--only", nargs="*", choices=list(MEASUREMENTS), help="run only these")
    p.add_argument("--skip", nargs="*", choices=list(MEASUREMENTS), default=[], help="skip these")
    args = p.parse_args(argv)
    names = [n for n in (args.only or MEASUREMENTS) if n not in args.skip]
    out: dict[str, Any] = {
        "host": platform.node(),
        "seconds": args.seconds,
        "device_buffers": "excluded (file source and sink paced like sound cards)",
    }
    with tempfile.TemporaryDirectory(prefix="bench_voice-") as tmp:
        for name in names:
            print(f"{name} ...", file=sys.stderr)
            out.update(MEASUREMENTS[name](args, Path(tmp) / name))
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
