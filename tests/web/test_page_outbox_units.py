"""The page's sending half of pack transfer (web/outbox.js) in Node against the Python side: the
zip it makes of a pack is read by avatars.source.read_zip_bytes to the same files and content
hash; chunks go out in order, 16 KiB each, with the sizes protocol/ctl.py checks; a request for
another hash is answered avatar_unavailable; a seventh transfer within a minute is ignored, as
peer/ctl_handler.py does. Fast and browser-free; test_browser_body.py sends one to a real peer."""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

from avatars.pack import load_pack
from avatars.source import content_hash, read_dir, read_zip_bytes
from protocol import ctl

from .node_module import READ_PACK_FILES, needs_node, pack_files, run_module

pytestmark = needs_node

SCRIPT = """
import { packFromFiles } from "./pack.js";
import { PackOutbox, zipPack } from "./outbox.js";
""" + READ_PACK_FILES + """
const pack = await packFromFiles(files);
const sent = [];
const outbox = new PackOutbox({
  send: (kind, values) => { sent.push([kind, { ...values, data: values.data
    ? Buffer.from(values.data).toString("base64") : undefined }]); return true; },
  buffered: () => 0, link: () => 1,
});
outbox.offer(pack);
outbox.request({ hash: "ab".repeat(32) });
outbox.request({ hash: pack.hash });
outbox.request({ hash: pack.hash }); // while the first is being sent: ignored
while (outbox.sending) await new Promise((r) => setTimeout(r, 5));
const zip = Buffer.from(zipPack(pack.files)).toString("base64");
// The per-minute cap with a one-chunk stand-in (the pacing would take seconds per transfer).
outbox.pack = { ...outbox.pack, zip: new Uint8Array(100) };
for (let i = 0; i < 6; i++) {
  outbox.request({ hash: pack.hash });
  while (outbox.sending) await new Promise((r) => setTimeout(r, 5));
}
console.log(JSON.stringify({
  hash: pack.hash, zip, sent, transfers: outbox.sent, refused: outbox.refused }));
"""


def _run(root: Path) -> dict[str, Any]:
    result: dict[str, Any] = run_module(SCRIPT, {"files": pack_files(root)})
    return result


def test_outbox_zips_and_sends_a_pack_as_the_python_peer_does() -> None:
    pack = load_pack("mochi")
    out = _run(pack.root)
    assert out["hash"] == pack.content_hash
    # The page's zip: the same files (and so the same content hash) for the Python reader.
    src = read_zip_bytes(base64.b64decode(out["zip"]))
    assert not src.problems and content_hash(src.files.items()) == pack.content_hash
    assert src.files == read_dir(pack.root).files

    sent = out["sent"]
    assert sent[0] == ["avatar_unavailable", {"hash": "ab" * 32, "reason": "not my current avatar"}]
    chunks = [v for k, v in sent if k == "avatar_chunk"]
    size = len(base64.b64decode(out["zip"]))
    total = math.ceil(size / ctl.AVATAR_CHUNK_BYTES)
    # Six transfers in the minute (the duplicate during the first, and the seventh, ignored).
    assert out["transfers"] == 6 and out["refused"] == 2
    assert len(chunks) == total + 5
    first = chunks[:total]
    assert [c["index"] for c in first] == list(range(total))
    data = b"".join(base64.b64decode(c["data"]) for c in first)
    assert data == base64.b64decode(out["zip"])
    for c in first:  # what the Python peer's ctl parser and inbox accept
        msg = ctl.AvatarChunk(hash=c["hash"], index=c["index"], total=c["total"], size=c["size"],
                              data=base64.b64decode(c["data"]))
        assert ctl.parse_ctl(msg.encode()) == msg
        assert (c["total"], c["size"]) == (total, size) and c["hash"] == pack.content_hash
