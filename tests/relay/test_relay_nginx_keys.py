"""deploy/nginx counts an IPv6 client by its /64 (issue 15, defect 6): the real
``relay-http.conf`` map, exercised by a real nginx.

Every request comes from 127.0.0.1, so the test server believes ``X-Real-IP`` (realip module)
to stand in for clients from anywhere; its location limits on a zone keyed by the deploy
file's ``$avatarchat_relay_client`` at one request a minute, so a second request under the
same key is a 429 and under another key a 200.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from relay_testkit import http_get

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nginx"


def _nginx_binary() -> str:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                       else None)
    if binary is None:
        pytest.skip("nginx is not installed (nginx-light; scripts/system-deps.sh installs it)")
    return binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def keyed_nginx(tmp_path: Path) -> Iterator[int]:
    binary = _nginx_binary()
    port = _free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {DEPLOY}/relay-http.conf;
    limit_req_zone $avatarchat_relay_client zone=keytest:1m rate=1r/m;
    server {{
        listen 127.0.0.1:{port};
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Real-IP;
        include {DEPLOY}/relay-locations.conf;
        # Proxied, not `return`: return runs before limit_req's phase.
        location = /keytest {{
            limit_req zone=keytest;
            limit_req_status 429;
            proxy_pass http://127.0.0.1:{port}/ok;
        }}
        location = /ok {{ return 200 "ok"; }}
    }}
}}
""")
    args = [binary, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)]
    checked = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr  # `nginx -t` on the deploy files
    proc = subprocess.Popen([*args, "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("nginx did not start: "
                                + (tmp_path / "error.log").read_text(errors="replace"))
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.trio
async def test_nginx_limits_key_ipv6_on_the_64_and_mapped_ipv4_on_the_ipv4(
        keyed_nginx: int) -> None:
    async def status(ip: str) -> int:
        return (await http_get(keyed_nginx, "/keytest", f"X-Real-IP: {ip}\r\n"))[0]

    # (address, expected): the first of each key passes, the next one under it is limited.
    steps = [
        ("2001:db8:1:2::1", 200),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", 429),  # same /64
        ("2001:db8:1:3::1", 200),  # the next /64
        ("2001:db8:1:3:a0a:a0a:a0a:a0a", 429),  # 0x0a bytes are address bytes, not newlines
        ("203.0.113.5", 200),
        ("203.0.113.6", 200),  # IPv4 stays per address
        ("::ffff:203.0.113.5", 429),  # mapped IPv4 is that IPv4
        ("203.0.113.5", 429),
    ]
    assert [(ip, await status(ip)) for ip, _ in steps] == steps
