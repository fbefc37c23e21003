"""A 3D avatar the window cannot draw falls back to 2D and says why, in the user's language
(issue 19): a real ``python -m render_window`` under Xvfb, a broken and a hostile VRM.

The ``error`` event is what reaches call/ and, as it is, the TUI's call screen: the sentence is
translated in the window (the TUI passes its language to the processes it starts).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from avatars.avatar3d import builtin3d_dir
from protocol.ring import ShmRing

from .harness import Feeder, Window

W, H = 320, 240


def with_json(glb: bytes, edit: Callable[[dict[str, Any]], object]) -> bytes:
    """The GLB with its JSON chunk edited (lengths and padding redone)."""
    jlen, jtype = struct.unpack_from("<II", glb, 12)
    doc = json.loads(glb[20 : 20 + jlen])
    edit(doc)
    body = json.dumps(doc).encode()
    body += b" " * (-len(body) % 4)
    out = struct.pack("<II", len(body), jtype) + body + glb[20 + jlen :]
    return struct.pack("<III", 0x46546C67, 2, 12 + len(out)) + out


def test_a_broken_vrm_falls_back_to_2d_with_the_reason_in_korean(
    xvfb_display: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = (builtin3d_dir() / "nova.vrm").read_bytes()
    truncated = tmp_path / "truncated.vrm"
    truncated.write_bytes(data[: len(data) // 3])
    hostile = tmp_path / "hostile.vrm"  # an external URI: never fetched, refused
    hostile.write_bytes(with_json(data, lambda d: d["buffers"][0].update(uri="file:///etc/passwd")))
    assert hostile.read_bytes() != data
    monkeypatch.setenv("AVATARCHAT_LANG", "ko")
    remote = ShmRing.create("remote")
    peer = Feeder(remote)
    win = Window(
        xvfb_display,
        ["--remote-ring", remote.name, "--avatar", str(truncated), "--no-self-view",
         "--no-breath", "--width", str(W), "--height", str(H)],
        tmp_path,
    )  # fmt: skip
    try:
        ready = win.wait("ready")
        assert ready["renderer"] == "layered2d"  # fell back to a built-in 2D avatar
        # Said while starting up (before ready): the first error of the run.
        err = next(e for e in win.all_events if e["event"] == "error")
        assert not err["fatal"]
        assert "3D 아바타 'truncated'" in err["message"] and "2D 아바타" in err["message"]
        assert "truncated GLB" in err["message"]  # the technical reason, as it is
        # Mid-call, the peer's avatar switched to a hostile model: refused, 2D kept, said.
        win.cmd("peer_avatar", ref=str(hostile))
        err = win.wait("error")
        assert "3D 아바타 'hostile'" in err["message"] and "uri" in err["message"].lower()
        # The window still draws (the 2D avatar), and a good model still loads after.
        win.cmd("peer_avatar", ref="nova")
        shown = win.wait("avatar_shown", lambda e: e["view"] == "peer")
        assert shown["avatar"] == "nova" and shown["renderer"] == "gltf3d"
        peer.set({})
        assert win.shot(min_seq=peer.seq + 1).std() > 5
    finally:
        assert win.close() == 0
        peer.close()
        remote.close()
        remote.unlink()
