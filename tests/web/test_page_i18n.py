"""The page's Korean (web/i18n.js, i18n/web.py): every string the page shows has a translation
(the TUI's catalog or the page's web.po), web/i18n/ko.json is what ``python -m i18n compile``
writes, a string added without Korean fails the check, and the page picks its language as the
brief says (saved switch, else navigator.languages, else English). Fast: no browser; the
Chromium test (test_browser_i18n.py) shows the translated page."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import web as web_pkg
from i18n import LOCALE_DIR
from i18n.__main__ import main as i18n_main
from i18n.catalog import Extracted
from i18n.web import extract_js, extract_page, json_bytes, json_path, key, page_table

KO = LOCALE_DIR / "ko" / "LC_MESSAGES"


def test_every_page_string_has_korean_and_the_json_is_fresh() -> None:
    found = extract_page()
    assert not found.problems
    table, problems = page_table(KO, found)
    assert problems == []
    assert set(table) == {k for k, _ in found.messages}
    assert json_path("ko").read_bytes() == json_bytes(table)
    # Shared sentences come from the TUI's catalog (one translation for both front-ends) ...
    assert table["Hang up"] == "끊기" and table["Join"] == "참여"
    # ... and a word the TUI means otherwise has the page's own context ("Send" a message).
    assert table[key("Send", "chat")] == "보내기"
    # The strings the brief names are all marked: notices, states, stats, placeholders.
    for msgid in ("WebGL is not available in this browser", "Message", "chat message",
                  "this page cannot use a camera here (needs https or localhost)",
                  "in the room; waiting for the peer", "bytes/frame", "Voice (microphone on)"):
        assert msgid in table
    assert i18n_main(["check"]) == 0


def test_a_page_string_without_korean_fails_the_check(tmp_path: Path) -> None:
    found = extract_page()
    extract_js('note(t("A sentence nobody translated, {n}", { n }));', "new.js", found)
    _, problems = page_table(KO, found)
    assert problems == [f"{KO / 'web.po'}: untranslated page string "
                        "'A sentence nobody translated, {n}' (new.js)"]
    # Text the extractor cannot see is an error too, not a silently English string.
    bad = Extracted()
    extract_js("el.textContent = t(`template ${x}`); t('single');", "bad.js", bad)
    assert len(bad.problems) == 2 and not bad.messages
    # Copy the page, add an unmarked-but-marked element: the check names it.
    page = tmp_path / "web"
    shutil.copytree(web_pkg.ROOT, page, ignore=shutil.ignore_patterns("vendor", "node_modules"))
    html = page / "index.html"
    html.write_text(html.read_text().replace("</main>", "<p data-i18n>Brand new</p></main>"))
    _, problems = page_table(KO, extract_page(page))
    assert any("'Brand new'" in p for p in problems)


NODE = shutil.which("node")
SCRIPT = """
import { pickLanguage, t, setLanguage, currentLanguage } from "./i18n.js";
const out = {
  picks: [pickLanguage(null, ["ko-KR", "en-US"]), pickLanguage(null, ["en-US", "ko"]),
          pickLanguage(null, ["fr-FR", "ko_KR"]), pickLanguage(null, ["de"]),
          pickLanguage("en", ["ko-KR"]), pickLanguage("ko", ["en"]), pickLanguage("xx", ["ko"])],
  en: [t("Join"), t("peer hung up ({reason})", { reason: "<b>bye</b>" })],
};
globalThis.fetch = async (url) => ({ ok: true, json: async () => JSON.parse(
  (await import("node:fs")).readFileSync(new URL(url), "utf8")) });
await setLanguage("ko");
out.ko = [currentLanguage(), t("Join"), t("peer hung up ({reason})", { reason: "<b>{x}</b>" }),
          t("not in the table")];
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(NODE is None, reason="needs node to run the page's modules")
def test_language_choice_and_lookup_in_node() -> None:
    assert NODE is not None
    run = subprocess.run([NODE, "--input-type=module", "-e", SCRIPT], cwd=web_pkg.ROOT,
                         capture_output=True, text=True, timeout=30, check=True)
    out = json.loads(run.stdout)
    assert out["picks"] == ["ko", "en", "ko", "en", "en", "ko", "ko"]
    assert out["en"] == ["Join", "peer hung up (<b>bye</b>)"]
    # Parameters go in as given (the caller sets textContent), never re-expanded.
    assert out["ko"] == ["ko", "참여", "상대가 통화를 끊었습니다 (<b>{x}</b>)", "not in the table"]
