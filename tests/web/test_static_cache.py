"""A second page load costs no 17 MB: real HTTP requests against the real relay. Every file has
a strong ETag and a conditional GET naming it gets ``304 Not Modified`` with no body (the vendor
WASM, the page, the face model, the packs); the vendored packages, whose folders carry their
version, are ``immutable`` for a year, everything else ``no-cache`` (kept, but revalidated, so
an updated relay is seen at once). The CSP and security headers stay on every answer, and the
vendor folders really are versioned as package-lock.json pins them (the immutable promise
rests on that)."""

from __future__ import annotations

import json
import re

import pytest
import trio

import web
from relay.static import CACHE_IMMUTABLE, CACHE_REVALIDATE, CSP, StaticSite, etag_matches

from ..relay.relay_testkit import running_relay

pytestmark = pytest.mark.trio

WASM = "/vendor/tasks-vision@1.1.0/vision_wasm_module_internal.wasm"


def conditional(path: str, etag: str, method: str = "GET") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n"
            "Connection: close\r\n\r\n").encode()


def get(path: str, method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()


async def raw_request(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request on its own connection, read to the close (13 MB in well under a second)."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(request)
        data = bytearray()
        with trio.fail_after(30):
            while chunk := await stream.receive_some(1 << 20):
                data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, body


async def test_second_load_is_304_and_vendor_files_are_immutable() -> None:
    async with running_relay() as server:
        port = server.port
        # The vendor WASM (13 MB): first load in full, with a validator and a year's lifetime.
        status, headers, body = await raw_request(port, get(WASM))
        assert status == 200 and body == (web.ROOT / WASM.lstrip("/")).read_bytes()
        etag = headers["etag"]
        assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
        assert headers["cache-control"] == CACHE_IMMUTABLE == "max-age=31536000, immutable"
        assert headers["content-security-policy"] == CSP
        # Second load: the browser names what it has; no body comes back.
        status, headers, body = await raw_request(port, conditional(WASM, etag))
        assert (status, body) == (304, b"")
        assert headers["etag"] == etag and headers["cache-control"] == CACHE_IMMUTABLE
        assert "content-length" not in headers and "content-type" not in headers
        assert headers["content-security-policy"] == CSP
        # Weak comparison, lists and "*" as RFC 9110 has them; another tag gets the file.
        for header in (f"W/{etag}", f'"0000", {etag}', "*"):
            status, _, body = await raw_request(port, conditional(WASM, header))
            assert (status, body) == (304, b""), header
        status, headers, body = await raw_request(port, conditional("/app.js", '"stale"'))
        assert status == 200 and body == (web.ROOT / "app.js").read_bytes()

        # Everything whose URL stays when its file changes: kept but revalidated, 304 too.
        for path in ("/", "/app.js", "/models/face_landmarker.task", "/packs/index.json",
                     "/packs/aria/avatar.toml", "/i18n/ko.json"):
            status, headers, body = await raw_request(port, get(path))
            assert status == 200 and body, path
            assert headers["cache-control"] == CACHE_REVALIDATE == "no-cache", path
            assert headers["content-security-policy"] == CSP, path
            status, again, body = await raw_request(port, conditional(path, headers["etag"]))
            assert (status, body) == (304, b""), path
            assert again["etag"] == headers["etag"], path
        # The same bytes under the same tag whatever the path looked like; HEAD answers 304 too.
        status, headers, _ = await raw_request(port, get("/index.html", "HEAD"))
        assert status == 200
        status, _, body = await raw_request(port, conditional("/", headers["etag"], "HEAD"))
        assert (status, body) == (304, b"")
        # The vendored modules are immutable as well; errors stay uncached.
        status, headers, _ = await raw_request(port, get("/vendor/cbor-x@1.6.9/decode.js"))
        assert status == 200 and headers["cache-control"] == CACHE_IMMUTABLE
        status, headers, _ = await raw_request(port, get("/nope.js"))
        assert status == 404 and headers["cache-control"] == "no-store" and "etag" not in headers


async def test_etags_follow_the_bytes_and_immutable_needs_a_version() -> None:
    site = StaticSite()
    page, app = site.lookup("/"), site.lookup("/app.js")
    assert page is not None and app is not None and page.etag != app.etag
    assert site.lookup("/index.html") == page
    assert not etag_matches('"a", W/"b"', page.etag) and etag_matches(f'"a",{page.etag}', page.etag)
    # An unversioned vendor path does not exist (so nothing unversioned is immutable) ...
    assert site.lookup("/vendor/cbor-x/decode.js") is None
    # ... and a folder with a version in its name under a pack is no vendor folder.
    toml = site.lookup("/packs/aria/avatar.toml")
    assert toml is not None and toml.cache_control == CACHE_REVALIDATE


async def test_vendor_folders_carry_the_versions_the_lockfile_pins() -> None:
    """``immutable`` is only true if a new version lands under a new path: every vendored folder
    is NAME@VERSION with the lockfile's version, and vendor/VERSIONS says the same."""
    lock = json.loads((web.ROOT / "package-lock.json").read_text())["packages"]
    pinned = {k.removeprefix("node_modules/").split("/")[-1]: v["version"]
              for k, v in lock.items() if k}
    folders = sorted(p.name for p in (web.ROOT / "vendor").iterdir() if p.is_dir())
    assert folders, "web/vendor has no packages"
    for name in folders:
        package, _, version = name.partition("@")
        assert version == pinned[package], (name, pinned.get(package))
    versions = (web.ROOT / "vendor" / "VERSIONS").read_text().split("\n")
    listed = {line.split()[0].split("/")[-1]: line.split()[1] for line in versions if line}
    assert {f"{k}@{v}" for k, v in listed.items()} == set(folders)
