#!/usr/bin/env python3
"""Write docs/avatars/<id>-<pose>.png for every built-in avatar, rendered by the real window.

Starts a private Xvfb, runs ``python -m render_window`` once, switches avatars with the
``avatar`` command, feeds each pose through a real ring and saves the presented frame. Small
(400x300) so the repo stays light.

    python scripts/screenshots.py [--out docs/avatars] [--avatar fox ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from avatars.pack import builtin_ids
from protocol.blendshapes import BLENDSHAPE_INDEX, NUM_BLENDSHAPES
from protocol.channel import read_events
from protocol.commands import command_from
from protocol.events import flat
from protocol.frame import FrameFlags, ParamFrame
from protocol.ring import ShmRing
from render_window.headless import start_xvfb

REPO = Path(__file__).resolve().parent.parent

WIDTH, HEIGHT = 400, 300
POSES: dict[str, tuple[dict[str, float], tuple[float, float, float]]] = {
    "neutral": ({}, (0.0, 0.0, 0.0)),
    "blink": ({"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}, (0.0, 0.0, 0.0)),
    "wink": ({"eyeBlinkLeft": 1.0, "mouthSmileLeft": 0.4, "mouthSmileRight": 0.4}, (0.0, 0.0, 0.0)),
    "mouth-open": ({"jawOpen": 0.9, "browInnerUp": 0.5}, (0.0, 0.0, 0.0)),
    "smile": (
        {
            "mouthSmileLeft": 1.0,
            "mouthSmileRight": 1.0,
            "cheekSquintLeft": 0.5,
            "cheekSquintRight": 0.5,
        },
        (0.0, 0.0, 0.0),
    ),
    "turned": ({"eyeLookOutLeft": 0.5, "eyeLookInRight": 0.5}, (0.08, 0.4, 0.12)),
}


def frame(seq: int, weights: dict[str, float], rot: tuple[float, float, float]) -> bytes:
    w = [0.0] * NUM_BLENDSHAPES
    for name, value in weights.items():
        w[BLENDSHAPE_INDEX[name]] = value
    return ParamFrame.from_weights(
        seq, time.monotonic_ns() // 1000, w, flags=FrameFlags.FACE_PRESENT, head_rotation=rot
    ).encode()


class Feeder(threading.Thread):
    """Writes the current pose at 30 Hz (the window interpolates between frames)."""

    def __init__(self, ring: ShmRing) -> None:
        super().__init__(daemon=True)
        self.writer = ring.writer()
        self.lock = threading.Lock()
        self.pose: tuple[dict[str, float], tuple[float, float, float]] = ({}, (0.0, 0.0, 0.0))
        self.seq = 0
        self.running = True

    def set(self, weights: dict[str, float], rot: tuple[float, float, float]) -> int:
        with self.lock:
            self.pose = (weights, rot)
            return self.seq + 1

    def run(self) -> None:
        while self.running:
            with self.lock:
                self.seq += 1
                self.writer.write(frame(self.seq, *self.pose))
            time.sleep(1 / 30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "avatars")
    ap.add_argument("--avatar", action="append", help="only these (default: all built-ins)")
    args = ap.parse_args()
    avatars = args.avatar or builtin_ids()
    args.out.mkdir(parents=True, exist_ok=True)
    xvfb, display = start_xvfb(WIDTH, HEIGHT)
    ring = ShmRing.create("remote")
    feeder = Feeder(ring)
    feeder.start()
    win = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "render_window",
            "--remote-ring",
            ring.name,
            "--avatar",
            avatars[0],
            "--no-self-view",
            "--no-breath",
            "--width",
            str(WIDTH),
            "--height",
            str(HEIGHT),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=dict(os.environ, DISPLAY=display),
    )
    assert win.stdout is not None
    events = read_events(win.stdout)

    def wait(name: str, **match: Any) -> dict[str, Any]:
        while True:
            event = events.get(timeout=60)
            if event is None:
                raise SystemExit("render window exited")
            ev = flat(event)
            if ev["event"] == "error":
                print(f"window: {ev['message']}", file=sys.stderr)
            if ev["event"] == name and all(ev.get(k) == v for k, v in match.items()):
                return ev

    def send(cmd: str, **fields: Any) -> None:
        assert win.stdin is not None
        win.stdin.write(command_from(cmd, **fields).encode())
        win.stdin.flush()

    try:
        wait("ready")
        for i, avatar in enumerate(avatars):
            if i:
                send("peer_avatar", ref=avatar)
                wait("avatar_shown", view="peer", avatar=avatar)
            for pose, (weights, rot) in POSES.items():
                seq = feeder.set(weights, rot)
                path = (args.out / f"{avatar}-{pose}.png").resolve()
                send("screenshot", path=str(path), min_seq=seq + 2)
                wait("screenshot", path=str(path))
                print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    finally:
        feeder.running = False
        send("quit")
        win.wait(10)
        feeder.join(1)
        feeder.writer.close()
        ring.close()
        xvfb.terminate()
        xvfb.wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
