"""TURN REST credentials against a real coturn (Debian's ``turnserver``, use-auth-secret) on
loopback: what the relay issues gets an allocation; tampered or expired credentials do not."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from relay_testkit import client, join, new_room_code, recv, running_relay, send
from relay_turn_client import TurnClient

from relay.turn import issue_credentials, turn_password

REPO = Path(__file__).resolve().parents[2]
SECRET = "test-static-auth-secret"
REALM = "avatarchat.test"


def _free_udp_port() -> int:
    """A port free for UDP *and* TCP: coturn listens on both (TCP and TLS), and a port the
    kernel just handed out for UDP may be some test's TCP connection at the same moment."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no port free for both UDP and TCP")


def _answers_binding(port: int) -> bool:
    from relay_turn_client import BINDING_REQUEST, encode

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        s.sendto(encode(BINDING_REQUEST, b"x" * 12, []), ("127.0.0.1", port))
        try:
            s.recvfrom(2048)
        except (TimeoutError, ConnectionRefusedError):
            return False
        return True


def _start_coturn(args: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["turnserver", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while not _answers_binding(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            pytest.fail(f"turnserver did not come up:\n{out[-2000:]}")
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A coturn with use-auth-secret on a free loopback port; yields the port."""
    if shutil.which("turnserver") is None:
        pytest.skip("coturn's turnserver is not installed (apt-get install coturn)")
    tmp: Path = tmp_path_factory.mktemp("coturn")
    port = _free_udp_port()
    relay_min = 49152 + port % 8000
    proc = _start_coturn(
        ["-n", "--no-cli", "--log-file", "stdout", "--simple-log",
         "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1",
         "--listening-port", str(port), "--no-tls", "--no-dtls", "--no-tcp",
         "--use-auth-secret", f"--static-auth-secret={SECRET}", "--realm", REALM,
         "--min-port", str(relay_min), "--max-port", str(relay_min + 100),
         "--userdb", str(tmp / "turndb"), "--pidfile", str(tmp / "turn.pid"),
         "--no-software-attribute"], port)
    try:
        yield port
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def hardened_coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """coturn running deploy/coturn/turnserver.conf itself, with only what a loopback test
    must change (ports, addresses, secret, no TLS certificate, logs to stdout)."""
    if shutil.which("turnserver") is None:
        pytest.skip("coturn's turnserver is not installed (apt-get install coturn)")
    tmp: Path = tmp_path_factory.mktemp("coturn-hardened")
    port = _free_udp_port()
    relay_min = 49152 + (port + 4000) % 8000
    replace = {
        "listening-port": f"listening-port={port}",
        "tls-listening-port": None, "cert": None, "pkey": None, "cipher-list": None,
        "static-auth-secret": f"static-auth-secret={SECRET}",
        "min-port": f"min-port={relay_min}", "max-port": f"max-port={relay_min + 100}",
        "syslog": "log-file=stdout", "no-stdout-log": None,
    }
    lines = []
    for line in (REPO / "deploy" / "coturn" / "turnserver.conf").read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if key in replace:
            if replace[key] is not None:
                lines.append(str(replace[key]))
            continue
        lines.append(line)
    lines += ["listening-ip=127.0.0.1", "relay-ip=127.0.0.1", "no-tls", "no-dtls",
              f"userdb={tmp / 'turndb'}", f"pidfile={tmp / 'turn.pid'}"]
    conf = tmp / "turnserver.conf"
    conf.write_text("\n".join(lines) + "\n")
    proc = _start_coturn(["-c", str(conf)], port)
    try:
        yield port
    finally:
        _stop(proc)


@pytest.mark.trio
async def test_relay_issued_credentials_get_an_allocation(coturn: int) -> None:
    uri = f"turn:127.0.0.1:{coturn}?transport=udp"
    async with running_relay(turn_secret=SECRET, turn_uris=(uri,), turn_ttl=300) as server:
        room = new_room_code()
        async with client(server, room) as ws:
            creds = (await join(ws, room))["turn"]
            await send(ws, type="turn_request")
            fresh = await recv(ws)
    assert creds["urls"] == [uri]
    async with TurnClient("127.0.0.1", coturn) as turn:
        result = await turn.allocate(creds["username"], creds["credential"])
        assert result.ok, result
        assert result.relayed is not None and result.relayed[0] == "127.0.0.1"
    async with TurnClient("127.0.0.1", coturn) as turn:
        assert (await turn.allocate(fresh["username"], fresh["credential"])).ok


@pytest.mark.trio
async def test_tampered_or_expired_credentials_are_refused(coturn: int) -> None:
    good = issue_credentials(SECRET, [f"turn:127.0.0.1:{coturn}"], 300)
    expiry, _, ident = good.username.partition(":")
    cases = {
        "tampered password": (good.username, good.credential[:-2] + ("A=" if
                              good.credential[-2] != "A" else "B=")),
        "tampered username (later expiry)": (f"{int(expiry) + 86400}:{ident}", good.credential),
        "other secret": (good.username, turn_password("not-the-secret", good.username)),
    }
    expired = issue_credentials(SECRET, ["turn:x"], 60, now=time.time() - 3600)
    cases["expired"] = (expired.username, expired.credential)
    for name, (username, password) in cases.items():
        async with TurnClient("127.0.0.1", coturn) as turn:
            result = await turn.allocate(username, password)
            assert not result.ok, name
            assert result.error_code == 401, (name, result)
    # The untouched one still works (so the refusals above are about the damage).
    with trio.fail_after(5):
        async with TurnClient("127.0.0.1", coturn) as turn:
            assert (await turn.allocate(good.username, good.credential)).ok


@pytest.mark.trio
async def test_hardened_deploy_config_relays_only_to_public_peers(hardened_coturn: int) -> None:
    uri = f"turn:127.0.0.1:{hardened_coturn}?transport=udp"
    async with running_relay(turn_secret=SECRET, turn_uris=(uri,)) as server:
        room = new_room_code()
        async with client(server, room) as ws:
            creds = (await join(ws, room))["turn"]
    async with TurnClient("127.0.0.1", hardened_coturn) as turn:
        assert (await turn.allocate(creds["username"], creds["credential"])).ok
        # A public peer is fine; private, loopback, link-local, CGNAT, documentation and
        # multicast ranges are refused (the open-relay-into-your-LAN attack).
        assert await turn.create_permission("8.8.8.8") is None
        for peer in ("10.1.2.3", "192.168.1.1", "172.16.0.1", "127.0.0.1", "169.254.169.254",
                     "100.64.0.1", "198.51.100.7", "224.0.0.251", "0.0.0.0"):
            assert await turn.create_permission(peer) == 403, peer
    async with TurnClient("127.0.0.1", hardened_coturn) as turn:
        expired = issue_credentials(SECRET, [uri], 60, now=time.time() - 3600)
        assert (await turn.allocate(expired.username, expired.credential)).error_code == 401
