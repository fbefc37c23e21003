"""Scale-out with the real deploy files: Debian's nginx (``hash $arg_room consistent`` from
deploy/nginx/) in front of two ``python -m relay`` processes; plus the process-level contract
(``ready`` line, ``--help``, SIGTERM -> peers told, exit 0)."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from relay_testkit import assert_alive, http_get, join, new_room_code, recv, send
from trio_websocket import open_websocket_url

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "nginx"


#: Every test client is 127.0.0.1; the rooms test opens 40 rooms in a second or two.
UNLIMITED_RATE_FLAGS = ("--conn-rate", "100000", "--conn-burst", "100000",
                        "--room-rate", "100000", "--room-burst", "100000")


class RelayProcess:
    def __init__(self, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "relay", "--port", "0", "--trusted-proxy", "127.0.0.1",
             "--max-conns-per-ip", "1000", *UNLIMITED_RATE_FLAGS, *extra],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the `ready` event
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"relay did not start: {err}")
        event = json.loads(line)
        assert event["event"] == "ready"
        self.port = int(event["info"]["port"])

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


@pytest.fixture
def relays() -> Iterator[list[RelayProcess]]:
    started = [RelayProcess(), RelayProcess()]
    try:
        yield started
    finally:
        for relay in started:
            relay.stop()


def _free_tcp_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def nginx(relays: list[RelayProcess], tmp_path: Path) -> Iterator[int]:
    """nginx with deploy/nginx/relay-{http,locations}.conf, upstream pointed at ``relays``."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                       else None)
    if binary is None:
        pytest.skip("nginx is not installed (nginx-light; scripts/system-deps.sh installs it)")
    http = (DEPLOY / "relay-http.conf").read_text()
    servers = "\n".join(f"    server 127.0.0.1:{r.port} max_fails=1 fail_timeout=5s;"
                        for r in relays)
    http, count = re.subn(r"(?m)^    server 127\.0\.0\.1:87\d\d[^\n]*\n", "", http)
    assert count == 4, "deploy/nginx/relay-http.conf changed shape; update this test"
    http = http.replace("    hash $arg_room consistent;\n",
                        f"    hash $arg_room consistent;\n{servers}\n")
    # The test opens dozens of connections from one address in a burst; production's per-IP
    # request rate would (rightly) refuse that.
    http = http.replace("rate=5r/s", "rate=10000r/s")
    (tmp_path / "relay-http.conf").write_text(http)
    port = _free_tcp_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/relay-http.conf;
    server {{
        listen 127.0.0.1:{port};
        include {DEPLOY}/relay-locations.conf;
    }}
}}
""")
    proc = subprocess.Popen([binary, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                             "-c", str(conf), "-g", "daemon off;"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        import socket
        import time

        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    log = (tmp_path / "error.log").read_text() if (
                        tmp_path / "error.log").exists() else ""
                    pytest.fail(f"nginx did not start:\n{out}\n{log}")
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _metric(body: str, name: str) -> int:
    match = re.search(rf"(?m)^{re.escape(name)} (\d+)$", body)
    assert match, name
    return int(match.group(1))


@pytest.mark.trio
async def test_rooms_meet_through_nginx_and_spread_over_both(
        relays: list[RelayProcess], nginx: int) -> None:
    base = f"ws://127.0.0.1:{nginx}/ws"
    status, _ = await http_get(nginx, "/healthz")
    assert status == 200
    assert (await http_get(nginx, "/metrics"))[0] == 404  # counters stay internal
    # The browser peer's page and the built-in packs pass through (deploy/nginx serves them).
    status, page = await http_get(nginx, "/")
    assert status == 200 and '<script type="module" src="app.js">' in page
    status, index = await http_get(nginx, "/packs/index.json")
    assert status == 200 and '"id":"aria"' in index

    async def call(room: str) -> None:
        async with open_websocket_url(f"{base}?room={room}") as a, \
                open_websocket_url(f"{base}?room={room}") as b:
            assert (await join(a, room))["position"] == 1
            assert (await join(b, room))["position"] == 2
            assert (await recv(a))["type"] == "peer_joined"
            await assert_alive(a, b)

    rooms = [new_room_code() for _ in range(40)]
    with trio.fail_after(60):
        for start in range(0, len(rooms), 10):
            async with trio.open_nursery() as nursery:
                for room in rooms[start:start + 10]:
                    nursery.start_soon(call, room)
    created = []
    for relay in relays:
        status, body = await http_get(relay.port, "/metrics")
        assert status == 200
        created.append(_metric(body, "avatarchat_relay_rooms_created_total"))
        assert 'reason="room_full"' not in body  # no room was split or crowded
    assert sum(created) == len(rooms)
    assert all(n >= 5 for n in created), created  # both processes got a fair share


@pytest.mark.trio
async def test_sigterm_tells_peers_and_exits_zero() -> None:
    relay = RelayProcess()
    try:
        room = new_room_code()
        async with open_websocket_url(f"ws://127.0.0.1:{relay.port}/ws?room={room}") as a:
            await join(a, room)
            await send(a, type="ping", t=1)
            assert (await recv(a))["type"] == "pong"
            relay.proc.send_signal(signal.SIGTERM)
            error = await recv(a, timeout=10)
            assert error["code"] == "shutting_down"
        code = await trio.to_thread.run_sync(relay.proc.wait, 10)
        assert code == 0
        assert relay.proc.stderr is not None
        log = relay.proc.stderr.read()
        assert room not in log  # privacy: the room code never appears in logs
        assert "shutting down" in log
    finally:
        relay.stop()


def test_help_explains_flags_and_env() -> None:
    out = subprocess.run([sys.executable, "-m", "relay", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=30, check=True).stdout
    for flag in ("--turn-secret", "--turn-uri", "--turn-ttl", "--max-conns-per-ip",
                 "--idle-timeout", "--tls-cert", "--allowed-origin", "AVATARCHAT_RELAY_PORT"):
        assert flag in out


def test_busy_port_is_one_clear_line_not_a_traceback() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "relay", "--port", str(port)], cwd=REPO,
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "cannot listen" in result.stderr and "Traceback" not in result.stderr
