"""The page brings its own 2D pack: a .zip picked on the join form is checked with pack.js's
rules (a broken one is refused with the reason, a good one named), drawn in the self-view,
announced in the hello with its content hash, and sent over ctl when the real Python peer asks
(16 KiB chunks, paced, as peer/ctl_handler.py sends one). The Python peer checks the hash,
installs it and tells its window to draw it: what it installed is the pack the user zipped
(same content hash) and avatars.compose draws it."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from avatars.compose import compose
from avatars.pack import load_pack
from protocol.signaling import new_room_code, web_link

from ..peer.helpers import relay_running
from .browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium, python_peer

if TYPE_CHECKING:  # playwright is a test extra: the module must import without it
    from playwright.async_api import FilePayload

pytestmark = [pytest.mark.slow, pytest.mark.asyncio, needs_chromium]


def _user_zip(folder: Path) -> bytes:
    """The pack as a person zips it: one top folder, the file manager's own order and times."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*"), reverse=True):
            zf.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return buf.getvalue()


def _payload(name: str, data: bytes) -> FilePayload:
    return {"name": name, "mimeType": "application/zip", "buffer": data}


@pytest.mark.timeout(90)
async def test_page_sends_its_own_pack_to_the_python_peer(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    mine = tmp_path / "myfox"
    shutil.copytree(load_pack("fox").root, mine)
    toml = mine / "avatar.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('id = "fox"', 'id = "myfox"', 1),
                    encoding="utf-8")
    digest = load_pack(str(mine)).content_hash
    good = _user_zip(mine)
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        'param = "jawOpen"', 'param = "jawOpenWide"', 1), encoding="utf-8")
    bad = _user_zip(mine)

    room = new_room_code()
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}  # nothing received before
    async with (
        relay_running() as relay,
        async_playwright() as pw,
        python_peer(relay.url, room, env=env) as (_, log),
    ):
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(web_link(relay.url, room))
            # A pack that breaks the format is refused on the form, with the reason.
            await page.set_input_files("#pack-file", files=[_payload("bad.zip", bad)])
            await page.wait_for_function(
                "() => document.getElementById('pack-note').textContent.includes('cannot')")
            note = await page.inner_text("#pack-note")
            assert 'unknown parameter "jawOpenWide"' in note, note
            await page.set_input_files("#pack-file", files=[_payload("myfox.zip", good)])
            await page.wait_for_function(
                "() => document.getElementById('pack-note').textContent.includes('myfox')")
            checked = "document.querySelectorAll('input[name=avatar]:checked').length"
            assert await page.evaluate(checked) == 0  # the pack, not a built-in, is the choice

            await page.fill("#name", "브라우저")
            await page.uncheck("#voice")
            await page.click("#join")
            # The Python peer asked for it, received it in chunks, checked it and installed it.
            shown = await log.wait_for(
                lambda: [e for e in log.of("peer_avatar")
                         if e.get("avatar_id") == "myfox" and not e.get("pending")],
                40, "the page's pack installed at the Python peer")
            hello = log.of("peer_hello")[-1]
            assert (hello["avatar_id"], hello["avatar_hash"]) == ("myfox", digest)
            installed = load_pack(shown[-1]["ref"])
            assert installed.id == "myfox" and installed.content_hash == digest
            picture = np.asarray(compose(installed, {}))
            assert picture.shape[2] == 4 and (picture[..., 3] > 0).mean() > 0.1  # fox drawn
            stats = await page.evaluate(
                "({ sent: window.avatarchat.call.outbox.sent,"
                "   self: window.avatarchat.selfView.pack.id })")
            assert stats == {"sent": 1, "self": "myfox"}
            assert errors == []
        finally:
            await browser.close()
