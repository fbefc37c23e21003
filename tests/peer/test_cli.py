"""The headless commands as a user runs them: ``avatarchat call`` x2 and ``avatarchat demo``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from protocol.signaling import new_room_code

pytestmark = pytest.mark.slow

AVATARCHAT = [sys.executable, "-m", "cli"]


@pytest.mark.timeout(120)
def test_two_avatarchat_call_processes_hold_a_call(relay_url: str, tmp_path: Path) -> None:
    room = new_room_code()
    procs = []
    for name, source in (("alice", "sample"), ("bob", "synthetic")):
        cmd = [
            *AVATARCHAT,
            "call",
            "--relay",
            relay_url,
            "--room",
            room,
            "--source",
            source,
            "--name",
            name,
            "--duration",
            "10",
            "--stats-json",
            str(tmp_path / f"{name}.json"),
        ]
        procs.append(
            subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    outputs = [p.communicate(timeout=60) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, (out, err[-2000:])
        assert "connected: connected (host path)" in out
        assert "Traceback" not in err
    stats = {n: json.loads((tmp_path / f"{n}.json").read_text()) for n in ("alice", "bob")}
    for doc in stats.values():
        assert doc["call"]["frames_received"] > 30  # MediaPipe start-up eats into 10 s
    # Each printed the same authentication string.
    sas = [line.rsplit("SAS ", 1)[1] for out, _ in outputs for line in out.splitlines()
           if line.startswith("connected: connected (")]  # fmt: skip
    assert len(sas) == 2 and sas[0] == sas[1]


@pytest.mark.timeout(120)
def test_demo_runs_a_whole_call_with_no_configuration(tmp_path: Path) -> None:
    out_json = tmp_path / "demo.json"
    proc = subprocess.run(
        [*AVATARCHAT, "demo", "--seconds", "6", "--synthetic", "--json", str(out_json)],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, (proc.stdout, proc.stderr[-2000:])
    assert "[connected]" in proc.stdout
    summary = json.loads(out_json.read_text())
    for client in summary["clients"]:
        assert client["connected"] and client["recv_hz"] > 20
        assert client["rtt_ms"] is not None and client["e2e_ms"]["p50"] < 50
    assert summary["clients"][0]["sas"] == summary["clients"][1]["sas"]


@pytest.mark.timeout(60)
def test_joining_a_wrong_code_says_so_at_once(relay_url: str) -> None:
    """Issue 16: ``--join`` with a code nobody is behind used to wait forever in a new empty
    room; it now ends at once with what to do, in the user's language."""
    code = new_room_code()
    for lang, expected in (
        ("en", f"no one is in room {code}: check the code, or ask for a new one"),
        ("ko", f"{code} 방에 아무도 없습니다"),
    ):
        proc = subprocess.run(
            [
                *AVATARCHAT,
                "call",
                "--relay",
                relay_url,
                "--join",
                code,
                "--source",
                "synthetic",
                "--duration",
                "40",
            ],
            capture_output=True,
            text=True,
            timeout=50,
            env={**os.environ, "AVATARCHAT_LANG": lang},
        )
        assert proc.returncode == 1, (proc.stdout, proc.stderr[-2000:])
        assert expected in proc.stdout
        assert "connected" not in proc.stdout.replace("connected to the relay", "")


@pytest.mark.timeout(60)
def test_third_client_is_refused_with_a_clear_error(relay_url: str, tmp_path: Path) -> None:
    """``python -m peer`` on its own (no tracker: nothing writes its ring), three in one room."""
    from protocol.ring import ShmRing

    room = new_room_code()
    rings = [ShmRing.create("test") for _ in range(6)]
    procs: list[subprocess.Popen[str]] = []
    try:
        for i in range(3):
            local, remote = rings[2 * i].name, rings[2 * i + 1].name
            cmd = [sys.executable, "-m", "peer", "--relay", relay_url, "--room", room,
                   "--local-ring", local, "--remote-ring", remote]  # fmt: skip
            procs.append(
                subprocess.Popen(
                    cmd,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            if i < 2:  # the first two must be in the room before the third knocks
                assert procs[i].stdout is not None
                for line in procs[i].stdout:
                    if '"state":"waiting"' in line or '"state":"connecting"' in line:
                        break
        third = procs[2]
        assert third.stdout is not None and third.stderr is not None
        out = third.stdout.read()  # until it exits (stdin stays open: EOF would mean quit)
        err = third.stderr.read()
        assert third.wait(10) == 3, (out, err[-1000:])
        errors = [json.loads(line) for line in out.splitlines() if '"event":"error"' in line]
        assert errors and errors[0]["fatal"] is True and "room_full" in errors[0]["message"]
        assert "Traceback" not in err
    finally:
        for proc in procs[:2]:
            proc.communicate("", timeout=15)  # EOF on stdin = quit
            assert proc.returncode == 0
        for ring in rings:
            ring.close()


@pytest.mark.timeout(60)
def test_sigterm_mid_call_stops_children_and_unlinks_rings(relay_url: str) -> None:
    import os
    import re
    import signal

    import psutil

    proc = subprocess.Popen(
        [*AVATARCHAT, "call", "--relay", relay_url, "--source", "synthetic", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("waiting:"):
            break
    children = psutil.Process(proc.pid).children()
    rings = {
        r for c in children for r in re.findall(r"avatarchat-\w+-[0-9a-f]+", " ".join(c.cmdline()))
    }
    assert len(children) == 2 and len(rings) == 2
    assert all(os.path.exists(f"/dev/shm/{r}") for r in rings)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert not any(os.path.exists(f"/dev/shm/{r}") for r in rings)
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)
