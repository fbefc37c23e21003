"""wss:// served by the relay itself (--tls-cert/--tls-key), with a throwaway self-signed
certificate made by ``cryptography`` (installed with aiortc)."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
import trio
from relay_testkit import assert_alive, http_get, join, new_room_code, recv, running_relay
from trio_websocket import open_websocket_url

x509 = pytest.importorskip("cryptography.x509")


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.mark.trio
async def test_wss_with_own_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    async with running_relay(tls_cert=str(cert), tls_key=str(key)) as server:
        room = new_room_code()
        url = f"wss://localhost:{server.port}/ws?room={room}"
        async with open_websocket_url(url, ssl_context=client_ctx) as a, \
                open_websocket_url(url, ssl_context=client_ctx) as b:
            await join(a, room)
            await join(b, room)
            assert (await recv(a))["type"] == "peer_joined"
            await assert_alive(a, b)
        # A plaintext client on the TLS port gets nowhere and hurts nothing.
        with trio.fail_after(15):
            try:
                status, _ = await http_get(server.port, "/healthz")
            except (trio.BrokenResourceError, ValueError, IndexError):
                status = 0
        assert status != 200


@pytest.mark.trio
async def test_the_browser_page_over_https(tmp_path: Path) -> None:
    """The relay's own TLS serves the browser peer's page as https:// (what gives the page the
    camera and microphone), with its CSP, and the link for a wss:// relay says https://."""
    from protocol.signaling import web_link

    cert, key = _self_signed(tmp_path)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    async with running_relay(tls_cert=str(cert), tls_key=str(key)) as server:
        assert web_link(f"wss://localhost:{server.port}", "C") == (
            f"https://localhost:{server.port}/#room=C")
        tcp = await trio.open_tcp_stream("127.0.0.1", server.port)
        # https_compatible: an HTTP server may close without a TLS close_notify.
        stream = trio.SSLStream(tcp, client_ctx, server_hostname="localhost", https_compatible=True)
        async with stream:
            await stream.send_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            with trio.fail_after(10):
                while chunk := await stream.receive_some(65536):
                    data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert b"content-security-policy: default-src 'self'" in head.lower()
        assert b'src="app.js"' in body
