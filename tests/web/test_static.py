"""The relay serves the browser peer's page on its own port: the files of web/ with the CSP and
security headers, nothing outside that folder, nothing but the allow-listed kinds."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

import web
from protocol.signaling import web_link
from relay.static import CSP, StaticSite

from ..relay.relay_testkit import running_relay

pytestmark = pytest.mark.trio


async def raw_request(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(request)
        data = b""
        with trio.fail_after(5):
            while chunk := await stream.receive_some(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, body


def get(path: str, method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()


async def test_page_and_modules_are_served_with_the_csp() -> None:
    async with running_relay() as server:
        status, headers, body = await raw_request(server.port, get("/"))
        assert status == 200
        assert body == (web.ROOT / "index.html").read_bytes()
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert headers["content-security-policy"] == CSP
        assert "default-src 'self'" in CSP and "connect-src 'self';" in CSP
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        cbor = "/vendor/cbor-x@1.6.9/decode.js"
        status, headers, body = await raw_request(server.port, get(cbor))
        assert status == 200 and headers["content-type"].startswith("text/javascript")
        assert int(headers["content-length"]) == len(body) > 1000
        # HEAD: the headers (with the real length), no body.
        status, headers, body = await raw_request(server.port, get("/app.js", "HEAD"))
        assert status == 200 and body == b""
        assert int(headers["content-length"]) == len((web.ROOT / "app.js").read_bytes())


@pytest.mark.parametrize(
    "path",
    [
        "/../pyproject.toml", "/%2e%2e/pyproject.toml", "/vendor/../../relay/server.py",
        "/__init__.py", "/node_modules/cbor-x/package.json", "/package.json",
        "/package-lock.json", "/.gitignore", "/refresh-vendor.sh", "/nope.js", "/vendor",
        "/%00.js", "/" + "a" * 300 + ".js", "/vendor/cbor-x@1.6.9/package.json",
        "/i18n/../package.json", "/vendor/cbor-x/decode.js",
    ],
)
async def test_nothing_else_is_served(path: str) -> None:
    async with running_relay() as server:
        status, headers, _ = await raw_request(server.port, get(path))
        assert status in (400, 404), path
        assert "content-security-policy" not in headers


async def test_websocket_upgrades_and_healthz_are_unchanged() -> None:
    async with running_relay() as server:
        status, _, body = await raw_request(server.port, get("/healthz"))
        assert (status, body) == (200, b"ok\n")
        status, _, _ = await raw_request(server.port, get("/ws"))  # a GET without the upgrade
        assert status == 404


async def test_lookup_stays_inside_its_folder(tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text("<p>hi</p>")
    (tmp_path / "secret.js").write_text("no")
    (root / "link.js").symlink_to(tmp_path / "secret.js")
    site = StaticSite(root)
    page = site.lookup("/")
    assert page is not None and page.body == b"<p>hi</p>"
    assert site.lookup("/link.js") is None  # resolves outside the folder
    assert site.lookup("/../secret.js") is None


@pytest.mark.parametrize(
    ("relay", "link"),
    [
        ("ws://127.0.0.1:8765", "http://127.0.0.1:8765/#room=C"),
        ("ws://10.0.0.5:8765/ws", "http://10.0.0.5:8765/#room=C"),
        ("wss://relay.example/avatar/ws", "https://relay.example/avatar/#room=C"),
        ("wss://relay.example", "https://relay.example/#room=C"),
    ],
)
async def test_web_link_puts_the_room_in_the_fragment(relay: str, link: str) -> None:
    assert web_link(relay, "C") == link


async def test_builtin_packs_are_served_from_the_avatars_package() -> None:
    """The page draws the real built-ins: /packs/index.json lists each one's files (hidden ones
    left out, as a pack's identity leaves them out), /packs/<id>/<file> serves them, and the
    relay found the folder without importing ``avatars``."""
    import json
    import subprocess
    import sys

    site = StaticSite()
    index = site.lookup("/packs/index.json")
    assert index is not None and index.content_type == "application/json"
    packs = {p["id"]: p["files"] for p in json.loads(index.body)["packs"]}
    assert set(packs) >= {"aria", "bolt", "fox", "mochi"}
    assert "avatar.toml" in packs["fox"] and "preview.png" in packs["fox"]
    assert all(not part.startswith(".") for f in packs["aria"] for part in f.split("/"))
    assert site.packs_root is not None
    toml = site.lookup("/packs/aria/avatar.toml")
    assert toml is not None and toml.body == (site.packs_root / "aria" / "avatar.toml").read_bytes()
    png = site.lookup(f"/packs/fox/{packs['fox'][-1]}")
    assert png is not None and png.content_type == "image/png"
    for bad in ("/packs/../compose.py", "/packs/%2e%2e/pack.py", "/packs/aria/../../pack.py",
                "/packs/aria/../../../pyproject.toml", "/packs/", "/packs/aria/"):
        assert site.lookup(bad) is None, bad
    probe = "import sys, relay.static as s; s.StaticSite(); print('avatars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_packs_route_absent_without_a_packs_folder(tmp_path: Path) -> None:
    site = StaticSite(tmp_path, packs_root=None)
    site.packs_root = None  # as when the avatars package is not installed
    assert site.lookup("/packs/index.json") is None
    assert site.lookup("/packs/aria/avatar.toml") is None


async def test_face_tracking_files_are_served_from_their_packages() -> None:
    """The page's MediaPipe runtime from web/vendor, its face model straight from the Python
    tracker's package (one copy of the file, found without importing ``tracking``)."""
    from tracking.model import DEFAULT_MODEL

    async with running_relay() as server:
        status, headers, body = await raw_request(server.port, get("/models/face_landmarker.task"))
        assert status == 200 and body == DEFAULT_MODEL.read_bytes()
        assert headers["content-security-policy"] == CSP
        wasm = "/vendor/tasks-vision@1.1.0/vision_wasm_module_internal.wasm"
        status, headers, body = await raw_request(server.port, get(wasm, "HEAD"))
        assert status == 200 and headers["content-type"] == "application/wasm"
        assert int(headers["content-length"]) > 1_000_000
        for other in ("/models/hand_landmarker.task", "/models/", "/models/../models/x.task"):
            status, _, _ = await raw_request(server.port, get(other))
            assert status == 404, other
    assert web.borrowed_file("/models/face_landmarker.task") == DEFAULT_MODEL
    assert web.borrowed_file("/models/nope.task") is None


async def test_page_texts_are_the_only_json_served() -> None:
    """web/i18n/ko.json (the page's Korean) is served; no other .json (package manifests)."""
    site = StaticSite()
    found = site.lookup("/i18n/ko.json")
    assert found is not None and found.content_type == "application/json"
    assert "참여" in found.body.decode()  # "Join", from the TUI's catalog
    assert site.lookup("/package.json") is None
    assert site.lookup("/vendor/cbor-x@1.6.9/package.json") is None
