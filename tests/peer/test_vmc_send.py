"""VMC out over real loopback UDP, decoded by a receiver written from the spec with python-osc's
own dispatcher and server (not our decoder): every message's address and argument types, the
bundle's shape per frame, the values; the ``peer.vmc_send`` child reading a real ring; and
``avatarchat vmc send`` as a subprocess (tracker + sender) against such a receiver."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer

from peer.vmc_send import VmcSender
from protocol.blendshapes import BLENDSHAPE_NAMES
from protocol.frame import Emotion, FrameFlags, ParamFrame
from protocol.ring import ShmRing

REPO = Path(__file__).resolve().parents[2]

#: Spec argument types per address (https://protocol.vmc.info/marionette-spec).
SPEC_TYPES: dict[str, tuple[type, ...]] = {
    "/VMC/Ext/OK": (int, int, int, int),  # v2.7: loaded, calibration state, mode, tracking
    "/VMC/Ext/T": (float,),
    "/VMC/Ext/Root/Pos": (str,) + (float,) * 7,
    "/VMC/Ext/Bone/Pos": (str,) + (float,) * 7,
    "/VMC/Ext/Blend/Val": (str, float),
    "/VMC/Ext/Blend/Apply": (),
}
ARKIT = {n[0].upper() + n[1:] for n in BLENDSHAPE_NAMES[1:]} | {"TongueOut"}
VRM0 = {"A", "I", "U", "E", "O", "Blink", "Blink_L", "Blink_R", "Joy", "Angry", "Sorrow"} | {
    "Fun",
    "LookUp",
    "LookDown",
    "LookLeft",
    "LookRight",
}


@dataclass
class SpecReceiver:
    """A marionette reduced to checking: python-osc's BlockingOSCUDPServer (one datagram at a
    time, so messages arrive in order) and Dispatcher; frames split at Blend/Apply."""

    server: BlockingOSCUDPServer
    frames: list[list[tuple[str, tuple[Any, ...]]]] = field(default_factory=list)
    current: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    got: threading.Condition = field(default_factory=threading.Condition)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def on_message(self, address: str, *args: Any) -> None:
        self.current.append((address, args))
        if address == "/VMC/Ext/Blend/Apply":
            with self.got:
                self.frames.append(self.current)
                self.current = []
                self.got.notify_all()

    def on_unknown(self, address: str, *args: Any) -> None:
        self.unknown.append(address)

    def wait_frames(self, n: int, timeout: float = 30.0) -> list[list[tuple[str, tuple[Any, ...]]]]:
        with self.got:
            assert self.got.wait_for(lambda: len(self.frames) >= n, timeout), len(self.frames)
            return list(self.frames)


@pytest.fixture
def receiver() -> Iterator[SpecReceiver]:
    dispatcher = Dispatcher()
    server = BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    recv = SpecReceiver(server)
    for address in SPEC_TYPES:
        dispatcher.map(address, recv.on_message)
    dispatcher.set_default_handler(recv.on_unknown)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield recv
    server.shutdown()
    thread.join(5)
    server.server_close()


def check_frame_against_spec(messages: list[tuple[str, tuple[Any, ...]]]) -> dict[str, Any]:
    """Every message's address and argument types; the frame's shape. Returns its values."""
    for address, args in messages:
        types = SPEC_TYPES[address]
        assert len(args) == len(types), (address, args)
        for value, kind in zip(args, types, strict=True):
            assert type(value) is kind, (address, args)
    addresses = [a for a, _ in messages]
    assert addresses[:5] == [
        "/VMC/Ext/OK",
        "/VMC/Ext/T",
        "/VMC/Ext/Root/Pos",
        "/VMC/Ext/Bone/Pos",
        "/VMC/Ext/Bone/Pos",
    ]
    assert addresses[-1] == "/VMC/Ext/Blend/Apply"
    assert messages[2][1][0] == "root"
    bones = {args[0]: args[1:] for a, args in messages if a == "/VMC/Ext/Bone/Pos"}
    assert set(bones) == {"Neck", "Head"}
    blends = {args[0]: args[1] for a, args in messages if a == "/VMC/Ext/Blend/Val"}
    assert len(blends) == addresses.count("/VMC/Ext/Blend/Val") == 52 + 16
    assert set(blends) == ARKIT | VRM0
    assert all(0.0 <= v <= 1.0 for v in blends.values())
    for quat in [*bones.values(), messages[2][1][1:]]:
        assert math.isclose(sum(q * q for q in quat[3:]), 1.0, abs_tol=1e-5)
    return {"ok": messages[0][1], "t": messages[1][1][0], "bones": bones, "blends": blends}


def frames_to_send() -> list[ParamFrame]:
    out = []
    for k in range(5):
        weights = [((i * 7 + k * 13) % 256) / 255 for i in range(52)]
        out.append(
            ParamFrame.from_weights(
                k + 1,
                1000 * k,
                weights,
                flags=FrameFlags.FACE_PRESENT,
                head_rotation=(0.05 * k, -0.1 * k, 0.02 * k),
                emotion=Emotion.SAD,
                emotion_weight=0.5,
            )
        )
    return out


def test_a_spec_receiver_decodes_what_we_send(receiver: SpecReceiver) -> None:
    sender = VmcSender("127.0.0.1", receiver.port)
    sent = frames_to_send()
    try:
        for frame in sent:
            assert sender.send(frame) > 0
        got = receiver.wait_frames(len(sent))
    finally:
        sender.close()
    assert receiver.unknown == []
    times = []
    for frame, messages in zip(sent, got, strict=True):
        values = check_frame_against_spec(messages)
        assert values["ok"] == (1, 0, 0, 1)
        times.append(values["t"])
        for name in BLENDSHAPE_NAMES[1:]:
            want = frame.weight(name)
            assert values["blends"][name[0].upper() + name[1:]] == pytest.approx(want, abs=1e-6)
        assert values["blends"]["Sorrow"] == pytest.approx(0.5, abs=1 / 255)
        # Head bone: Unity's Quaternion.Euler(pitch, -yaw, roll), written out by hand here.
        pitch, yaw, roll = frame.head_rotation
        qx, qy, qz = _axis(0, pitch), _axis(1, -yaw), _axis(2, roll)
        want_q = _mul(_mul(qy, qx), qz)
        head = values["bones"]["Head"][3:]
        assert head == pytest.approx(want_q, abs=1e-6)
        assert values["bones"]["Neck"][3:] == (0.0, 0.0, 0.0, 1.0)
    assert times == sorted(times)
    assert sender.sent == len(sent) and sender.errors == 0


def _axis(i: int, angle: float) -> tuple[float, float, float, float]:
    q = [0.0, 0.0, 0.0, math.cos(angle / 2)]
    q[i] = math.sin(angle / 2)
    return (q[0], q[1], q[2], q[3])


def _mul(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, float, float, float]:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    )


def test_nobody_listening_is_counted_not_raised() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sender = VmcSender("127.0.0.1", port)  # the port is closed now: ICMP refusals come back
    try:
        for frame in frames_to_send():
            sender.send(frame)
    finally:
        sender.close()
    assert sender.sent + sender.errors == 5 and sender.errors >= 1


def child_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AVATARCHAT_CONFIG_DIR=str(tmp_path / "config"),
        AVATARCHAT_LANG="en",
        PYTHONPATH=str(REPO),
    )
    return env


def test_the_sender_child_reads_the_local_ring(receiver: SpecReceiver, tmp_path: Path) -> None:
    with ShmRing.create("local") as ring:
        writer = ring.writer()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "peer.vmc_send",
                "--ring",
                ring.name,
                "--to",
                f"127.0.0.1:{receiver.port}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(tmp_path),
        )
        try:
            assert proc.stdout is not None and proc.stdin is not None
            ready = json.loads(proc.stdout.readline())
            assert ready["event"] == "ready" and ready["info"]["to"] == f"127.0.0.1:{receiver.port}"
            sent = frames_to_send()
            for i, frame in enumerate(sent):
                writer.write(frame.encode(), time.monotonic_ns())
                receiver.wait_frames(i + 1)  # one bundle per new frame, none repeated
            stats = None
            for line in proc.stdout:
                event = json.loads(line)
                if event["event"] == "stats" and event["values"]["vmc_sent"] == len(sent):
                    stats = event["values"]
                    break
            assert stats is not None and stats["vmc_send_errors"] == 0
            assert stats["vmc_bytes_per_frame"] > 3000
            proc.stdin.close()  # EOF = quit
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            writer.close()
    assert len(receiver.frames) == len(sent)


def test_the_sender_child_refuses_a_bad_address(tmp_path: Path) -> None:
    with ShmRing.create("local") as ring:
        done = subprocess.run(
            [sys.executable, "-m", "peer.vmc_send", "--ring", ring.name, "--to", "nowhere"],
            capture_output=True,
            text=True,
            env=child_env(tmp_path),
            timeout=30,
        )
    assert done.returncode == 2
    assert "HOST:PORT" in done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["event"] == "error"


def test_avatarchat_vmc_send_drives_a_receiver(receiver: SpecReceiver, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "vmc",
            "send",
            "--to",
            f"127.0.0.1:{receiver.port}",
            "--source",
            "synthetic",
            "--seconds",
            "3",
        ],
        capture_output=True,
        text=True,
        env=child_env(tmp_path),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "not encrypted" in done.stderr
    assert "frames sent" in done.stdout
    frames = receiver.wait_frames(10)
    faces = [check_frame_against_spec(f) for f in frames]
    assert all(v["ok"][3] == 1 for v in faces[2:])  # the synthetic face is always there
    # The synthetic face blinks and turns: the values move.
    assert len({v["bones"]["Head"] for v in faces}) > 5
    leftover = list(Path("/dev/shm").glob("avatarchat-local-*"))
    assert all(p.stat().st_uid != os.getuid() or _owner_alive(p) for p in leftover)


def _owner_alive(path: Path) -> bool:
    try:
        ring = ShmRing.attach(path.name)
    except Exception:
        return True
    try:
        return ring.owner_pid != 0 and os.path.exists(f"/proc/{ring.owner_pid}")
    finally:
        ring.close()


def test_avatarchat_vmc_send_refuses_a_bad_address(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "vmc", "send", "--to", "localhost", "--source", "synthetic"],
        capture_output=True,
        text=True,
        env=child_env(tmp_path),
        timeout=60,
    )
    assert done.returncode == 2
    assert "VMC address 'localhost' must look like HOST:PORT" in done.stderr
