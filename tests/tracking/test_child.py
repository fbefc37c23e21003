"""``python -m tracking`` as a real child process: the control channel, the ring, commands,
camera faults, signals - and privacy: nothing but parameter frames and stats leave it."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from protocol.frame import TARGET_FRAME_BYTES, Emotion, FrameFlags, ParamFrame
from protocol.ring import ShmRing

from .conftest import child_env

TIMEOUT = 30.0
EVENTS = {"ready", "status", "stats", "error", "bye"}
#: Any run of base64-ish characters this long would be an encoded image (or a leak of one).
LONG_BLOB = re.compile(r"[A-Za-z0-9+/=]{120,}")


class Child:
    """A running tracking child: its events on a queue (read by a thread), commands to stdin."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            self.events.put(json.loads(line))
        self.events.put({"event": "_eof"})

    def send(self, cmd: str, **fields: Any) -> None:
        assert self.proc.stdin is not None
        # Raw lines, not protocol.commands objects: this also tests the child's parser.
        self.proc.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.proc.stdin.flush()

    def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if pred(event):
                return event
            if event["event"] == "_eof":
                raise AssertionError("child exited before the expected event")

    def event(self, name: str, **match: Any) -> dict[str, Any]:
        return self.wait_for(
            lambda e: e["event"] == name and all(e.get(k) == v for k, v in match.items())
        )


def next_frame(
    reader: Any, pred: Callable[[ParamFrame], bool], timeout: float = TIMEOUT
) -> ParamFrame:
    """Wait (on the ring's wake-up socket) for a frame that satisfies ``pred``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reader.wait(0.5)
        record = reader.read_latest()
        if record is not None:
            frame = ParamFrame.decode(record.payload)
            if pred(frame):
                return frame
    raise AssertionError("no matching frame in the ring")


@pytest.fixture
def ring() -> Any:
    with ShmRing.create("local") as r:
        yield r


def test_commands_drive_the_frames_in_the_ring(
    spawn_tracking: Any, ring: ShmRing, tmp_path: Path
) -> None:
    reader = ring.reader(wake=True)
    child = Child(spawn_tracking("--source", "sample", "--ring", ring.name))
    ready = child.event("ready")["info"]
    assert ready["ring"] == ring.name and ready["fps"] == 30.0 and "d10" in ready["source"]
    child.event("status", state="running")
    first = next_frame(reader, lambda f: f.face_present)
    assert ring.writer_pid == child.proc.pid and first.timestamp_us > 0

    stats = child.event("stats")["values"]
    for key in ("fps", "frames", "faces", "stage_ms", "face_present", "cpu"):
        assert key in stats
    assert set(stats["stage_ms"]) >= {"capture", "inference", "params", "encode", "ring"}

    child.send("emotion", preset=int(Emotion.HAPPY), weight=1.0)
    happy = next_frame(reader, lambda f: f.emotion is Emotion.HAPPY)
    assert happy.emotion_weight == 1.0 and happy.weight("mouthSmileLeft") >= 0.85

    child.send("pause", on=True)
    child.event("status", state="paused")
    paused = next_frame(reader, lambda f: bool(f.flags & FrameFlags.PAUSED))
    assert paused.flags == FrameFlags.PAUSED and paused.blendshapes == bytes(52)
    child.send("pause", on=False)
    next_frame(reader, lambda f: f.face_present and not f.flags & FrameFlags.PAUSED)

    child.send("smoothing", groups={"eyes": {"beta": 5.0}})
    child.send("smoothing", groups={"lips": {"beta": 5.0}})
    assert "lips" in child.event("error", fatal=False)["message"]
    child.send("warp")  # unknown: logged and ignored (a newer parent may say more)
    child.send("pause", on="yes")  # malformed: counted, reported once, never fatal
    assert "bad command line" in child.event("error", fatal=False)["message"]
    child.send("mirror", on=True)
    assert "on" in child.wait_for(lambda e: "mirror" in e.get("message", ""))["message"]
    child.send("mirror", on=False)

    child.send("recalibrate", seconds=0.5)
    child.event("status", state="calibrating")
    done = child.wait_for(lambda e: e.get("state") == "calibrated" or e["event"] == "error")
    assert done["event"] == "status", done
    assert (tmp_path / "avatarchat-config" / "calibration.toml").is_file()
    next_frame(reader, lambda f: bool(f.flags & FrameFlags.CALIBRATED))

    child.send("quit")
    child.event("bye")
    assert child.proc.wait(TIMEOUT) == 0
    assert not ring.writer_alive()
    reader.close()


def snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*")}


def test_privacy_only_parameter_frames_and_stats_leave(
    spawn_tracking: Any, ring: ShmRing, tmp_path: Path
) -> None:
    """A real child on a real face clip: every ring payload is a valid ParamFrame of at most
    128 bytes; stdout carries only small JSON control events; stderr no data; no file is
    written anywhere (a private HOME, XDG dirs, TMPDIR and cwd stay as they were, and the
    process never holds a file open for writing other than the ring)."""
    home = tmp_path / "home"
    cwd = tmp_path / "cwd"
    for d in (home / ".config", home / ".cache", home / "tmp", home / "avatarchat-config", cwd):
        d.mkdir(parents=True)
    before = snapshot(tmp_path)
    reader = ring.reader(wake=True)
    frames = 60
    child = Child(
        spawn_tracking(
            "--source",
            "sample",
            "--ring",
            ring.name,
            "--max-frames",
            str(frames),
            cwd=cwd,
            env=child_env(home),
        )
    )
    proc = psutil.Process(child.proc.pid)
    payloads: list[bytes] = []
    writable: set[str] = set()
    while child.proc.poll() is None:
        try:
            writable |= {f.path for f in proc.open_files() if f.mode not in ("r", "rb")}
        except psutil.Error:
            pass
        if reader.wait(0.2):
            record = reader.read_latest()
            if record is not None:
                payloads.append(record.payload)
    assert child.proc.wait(TIMEOUT) == 0
    child._thread.join(TIMEOUT)
    stderr = child.proc.stderr.read() if child.proc.stderr else ""

    assert ring.write_count == frames
    assert len(payloads) >= frames // 2
    decoded = [ParamFrame.decode(p) for p in payloads]
    assert all(len(p) <= TARGET_FRAME_BYTES for p in payloads)
    assert sum(f.face_present for f in decoded) >= len(decoded) - 2

    events = [json.loads(line) for line in child.lines]
    assert {e["event"] for e in events} <= EVENTS and events[-1]["event"] == "bye"
    assert all(len(line) < 2048 and not LONG_BLOB.search(line) for line in child.lines)
    assert len(stderr) < 4096 and not LONG_BLOB.search(stderr)

    assert snapshot(tmp_path) == before
    assert writable <= {f"/dev/shm/{ring.name}"}
    reader.close()


def test_privacy_syscalls_no_file_written_no_program_run(
    spawn_tracking: Any, ring: ShmRing, tmp_path: Path
) -> None:
    """The strict version of the check above, with strace: over a whole run on a real face
    clip, the process opens nothing for writing but the ring and /dev/null, creates, renames or
    removes no file, and runs no other program."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    log = tmp_path / "strace.log"
    calls = (
        "openat,open,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,link,symlink,"
        "execve"
    )
    proc = subprocess.Popen(
        [
            strace,
            "-f",
            "-qq",
            "-e",
            f"trace={calls}",
            "-o",
            str(log),
            sys.executable,
            "-m",
            "tracking",
            "--source",
            "sample",
            "--ring",
            ring.name,
            "--max-frames",
            "45",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(tmp_path),
    )
    proc.wait(timeout=120)  # stdin stays open: EOF would mean quit
    assert proc.stderr is not None and proc.stdin is not None and proc.stdout is not None
    err = proc.stderr.read()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        stream.close()
    if proc.returncode != 0 and "ptrace" in err:
        pytest.skip(f"strace cannot trace here: {err.strip()[:200]}")
    assert proc.returncode == 0, err
    assert ring.write_count == 45
    allowed = {"/dev/null", f"/dev/shm/{ring.name}"}
    offending = []
    for line in log.read_text().splitlines():
        if " = -1 " in line:
            continue  # failed calls changed nothing
        m = re.search(r'(\w+)\((?:AT_FDCWD, )?"([^"]*)"(.*)', line)
        if not m:
            continue
        call, path, rest = m.groups()
        if call == "execve":
            if path != sys.executable and not path.endswith("/python"):
                offending.append(line)
        elif call in ("openat", "open"):
            if re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", rest) and path not in allowed:
                offending.append(line)
        else:
            offending.append(line)
    assert not offending, "\n".join(offending[:10])


def test_camera_faults_are_reported_and_the_process_keeps_running(spawn_tracking: Any) -> None:
    child = Child(spawn_tracking("--source", "camera:63"))
    child.event("ready")
    status = child.event("status", state="camera_error")
    assert "no camera at /dev/video63" in status["message"]
    child.event("stats")  # still alive and reporting while it retries
    child.event("stats")
    assert child.proc.poll() is None
    child.send("quit")
    child.event("bye")
    assert child.proc.wait(TIMEOUT) == 0
    assert "Traceback" not in (child.proc.stderr.read() if child.proc.stderr else "")


def test_sigterm_and_eof_exit_cleanly_and_the_own_ring_is_removed(spawn_tracking: Any) -> None:
    child = Child(spawn_tracking("--source", "synthetic"))
    name = child.event("ready")["info"]["ring"]
    assert name and os.path.exists(f"/dev/shm/{name}")  # headless: a ring of its own
    child.event("status", state="running")
    child.proc.send_signal(signal.SIGTERM)
    child.event("bye")
    assert child.proc.wait(TIMEOUT) == 0
    assert not os.path.exists(f"/dev/shm/{name}")

    child = Child(spawn_tracking("--source", "synthetic"))
    child.event("ready")
    assert child.proc.stdin is not None
    child.proc.stdin.close()  # EOF means quit
    child.event("bye")
    assert child.proc.wait(TIMEOUT) == 0


def test_json_mode_prints_seed_frames(spawn_tracking: Any) -> None:
    proc = spawn_tracking("--source", "sample", "--json", "--unpaced", "--max-frames", "5")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 5
    bodies = 0
    for line in lines:
        seed = json.loads(line)
        # body tracking is on by default (2 cores here): once the pose model has had its first
        # turn (frame 2) its readable names ride along
        body = seed.pop("body", None)
        if body is not None:
            bodies += 1
            assert {"shoulderShrug", "torsoRoll", "leftArm", "rightHand"} <= set(body)
        assert set(seed) == {
            "headRotation",
            "eyeBlinkLeft",
            "eyeBlinkRight",
            "mouthOpen",
            "smile",
            "timestamp",
        }
        back = ParamFrame.from_seed(seed).to_seed()
        for key, value in seed.items():  # smile is a mean of two bytes: re-quantised, 1 LSB
            assert back[key] == pytest.approx(value, abs=1 / 255), key
    assert bodies >= 3
