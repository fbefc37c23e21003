"""The headless commands as a user runs them: ``avatarchat call`` x2 and ``avatarchat demo``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol.signaling import new_room_code

pytestmark = pytest.mark.slow

AVATARCHAT = [sys.executable, "-m", "cli"]


@pytest.fixture
def relay_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "relay", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())  # the relay's first line is its ready event
        yield f"ws://127.0.0.1:{ready['port']}"
    finally:
        proc.terminate()
        proc.wait(10)


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
            "8",
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
        assert doc["call"]["frames_received"] > 60
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
