"""The window's control channel under Xvfb: overlays, live avatar/variant switch, self-view,
fullscreen, present timestamps, SIGTERM."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest

from avatars.pack import builtin_ids, load_pack
from protocol.frame import FrameFlags
from protocol.ring import ShmRing

from .harness import Feeder, Window, changed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

W, H = 480, 270


def test_commands_drive_the_window(xvfb_display: str, tmp_path: Path) -> None:
    ids = builtin_ids()
    if len(ids) < 2:
        pytest.skip("needs two built-in avatars")
    remote, local = ShmRing.create("remote"), ShmRing.create("local")
    peer, me = Feeder(remote), Feeder(local)
    win = Window(
        xvfb_display,
        [
            "--remote-ring",
            remote.name,
            "--local-ring",
            local.name,
            "--avatar",
            ids[0],
            "--self-avatar",
            ids[1],
            "--no-breath",
            "--width",
            str(W),
            "--height",
            str(H),
        ],
        tmp_path,
    )
    try:
        ready = win.wait("ready")
        assert ready["avatar"] == ids[0] and ready["self_avatar"] == ids[1]
        assert ready["renderer"] == "layered2d"
        # Nothing received yet: the automatic overlay says "connecting".
        win.wait("overlay", lambda e: e["state"] == "connecting")
        seq = peer.set({})
        me.set({})
        win.wait("overlay", lambda e: e["state"] == "")
        base = win.shot(min_seq=seq + 2)

        # Garbage on the control pipe: reported once, counted, and the window keeps obeying.
        assert win.proc.stdin is not None
        win.proc.stdin.write('\x1b[2J not json\n{"cmd": 5}\n{"cmd": "warp"}\n')
        win.proc.stdin.flush()
        assert "bad command line" in win.wait("error")["message"]

        # Overlays on command, and back to automatic.
        win.cmd("overlay", state="peer_lost")
        win.wait("overlay", lambda e: e["state"] == "peer_lost")
        lost = win.shot()
        band = slice(int(H * 0.65), int(H * 0.95))
        assert changed(base[band], lost[band]).sum() > 500  # a text band over the avatar
        win.cmd("overlay", state="auto")
        win.wait("overlay", lambda e: e["state"] == "")

        # Self-view inset (bottom right) goes away on command.
        win.cmd("self_view", on=False)
        no_self = win.shot(min_seq=peer.seq + 1)
        inset = (slice(int(H * 0.6), H), slice(int(W * 0.75), W))
        assert changed(base[inset], no_self[inset]).sum() > 500
        win.cmd("self_view", on=True)

        # Live avatar and variant switch.
        win.cmd("peer_avatar", ref=ids[1])
        ev = win.wait("avatar_shown", lambda e: e["view"] == "peer")
        assert ev["avatar"] == ids[1]
        other = win.shot(min_seq=peer.seq + 2)
        centre = (slice(0, int(H * 0.6)), slice(int(W * 0.25), int(W * 0.7)))
        assert changed(base[centre], other[centre]).sum() > 2000
        # A variant of the same avatar recolours it.
        pack = load_pack(ids[1])
        others = [v for v in pack.variants if v != pack.default_variant]
        if others:
            win.cmd("peer_avatar", ref=ids[1], variant=others[0])
            ev = win.wait("avatar_shown", lambda e: e["view"] == "peer")
            assert ev["variant"] == others[0]
            recoloured = win.shot(min_seq=peer.seq + 2)
            assert changed(other[centre], recoloured[centre]).sum() > 500
        win.cmd("peer_avatar", ref="/no/such/pack")
        err = win.wait("error")
        assert not err["fatal"] and "/no/such/pack" in err["message"]

        # The peer paused tracking: the avatar idles and the overlay says so.
        peer.set({}, flags=FrameFlags.FACE_PRESENT | FrameFlags.PAUSED)
        win.wait("overlay", lambda e: e["state"] == "paused")
        peer.set({})
        win.wait("overlay", lambda e: e["state"] == "")

        # Resizing re-lays out: the avatar stays centred and fills the new height.
        win.cmd("size", width=360, height=360)
        square = win.shot(min_seq=peer.seq + 2)
        assert square.shape[:2] == (360, 360)
        fg = np.abs(square.astype(np.int16) - square[2, 2].astype(np.int16)).sum(-1) > 30
        fg[int(360 * 0.6) :, int(360 * 0.65) :] = False  # ignore the self-view inset
        ys, xs = np.nonzero(fg)
        assert abs(xs.mean() - 180) < 40 and ys.max() - ys.min() > 200
        win.cmd("size", width=W, height=H)

        # Fullscreen toggles without killing the loop.
        win.cmd("fullscreen", on=True)
        win.cmd("fullscreen", on=False)
        win.shot(min_seq=peer.seq + 2)

        # Capture -> present, measured by the window from the slots' capture times.
        stats = win.wait("stats", lambda e: bool(e.get("e2e_present_ms")))
        live, run, ring = (
            stats["e2e_present_ms"],
            stats["run_e2e_present_ms"],
            stats["ring_to_present_ms"],
        )
        assert 0.0 <= live["p50"] <= live["p99"] < 1000.0
        assert 0.0 <= run["p50"] <= run["p99"] < 1000.0
        assert 0.0 <= ring["p50"] <= live["p50"]  # the ring write comes after the capture
        assert not [e for e in win.all_events if e["event"] == "present"]

        # A corrupt frame is counted and dropped, never fatal. (The feeder pauses first: the
        # window reads only the newest slot, so a good frame right after would hide it.)
        peer.pause()
        with peer._lock:
            peer.writer.write(b"\xff not cbor")
        win.wait("stats", lambda e: e["decode_errors"] >= 1)

        # The peer process dies (its ring writer goes away): "peer lost".
        peer.close()
        win.wait("overlay", lambda e: e["state"] == "peer_lost")

        win.proc.send_signal(signal.SIGTERM)
        assert win.proc.wait(15) == 0
        win.wait("bye")
    finally:
        win.close()
        peer.close()
        me.close()
        remote.close()
        local.close()
