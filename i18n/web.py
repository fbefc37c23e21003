"""The browser page's Korean: the page's strings, their translations, and ``web/i18n/ko.json``.

Why the page shares the TUI's catalog: the same sentence ("Hang up", "Your name", "Join") must
read the same in both front-ends, and a translator should find it once. So a page string is
looked up in ``avatarchat.po`` first; only what the TUI does not say lives in the page's own
domain, ``i18n/locale/ko/LC_MESSAGES/web.po`` (same format, English msgids). The page cannot read
``.po`` files (no build step, no parser worth shipping), so ``python -m i18n compile`` writes the
merged table as ``web/i18n/ko.json`` (msgid -> msgstr, sorted; committed), which
``web/i18n.js`` fetches. ``python -m i18n check`` (and tests/web/test_page_i18n.py) fails when a
page string has no Korean, when ``web.po`` holds a stale or duplicate entry, or when the JSON is
not what compile would write.

What counts as a page string (so extraction needs no JavaScript parser):

- ``web/index.html``: an element marked ``data-i18n`` (its text, whitespace collapsed, is the
  msgid; it holds no child elements; ``data-i18n-context="chat"`` gives it gettext's msgctxt
  where the TUI uses the same English word otherwise, e.g. the chat's "Send"), and
  ``data-i18n-attrs="aria-label placeholder"`` naming attributes whose English values are
  msgids.
- ``web/*.js``: ``t("literal")`` or ``t("literal {name}", {name: …})``; ``N_("literal")`` marks a
  text looked up later with ``t(variable)``. Any other ``t(`` is reported as a problem.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from .catalog import REPO, Extracted, Message, merge, read_po, write_po

WEB_DIR = REPO / "web"
WEB_DOMAIN = "web"
#: The page's own domain and the TUI's, looked up in this order of preference: TUI first.
TUI_DOMAIN = "avatarchat"

_CALL = re.compile(r"(?<![\w.$])(t|N_)\(\s*")
_LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def _collapse(text: str) -> str:
    return " ".join(text.split())


class _PageHtml(HTMLParser):
    def __init__(self, rel: str, out: Extracted) -> None:
        super().__init__(convert_charrefs=True)
        self.rel, self.out = rel, out
        self.depth = 0  # > 0 inside a data-i18n element
        self.text: list[str] = []
        self.context = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        where = f"{self.rel}:{self.getpos()[0]}"
        for name in (values.get("data-i18n-attrs") or "").split():
            value = values.get(name)
            if not value:
                self.out.problems.append(f"{where}: data-i18n-attrs names {name}, which is empty")
            else:
                _add(self.out, _collapse(value), self.rel)
        if self.depth:
            self.out.problems.append(f"{where}: <{tag}> inside a data-i18n element")
        if "data-i18n" in values:
            self.depth, self.text = 1, []
            self.context = values.get("data-i18n-context") or ""

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth = 0
            text = _collapse("".join(self.text))
            if not text:
                self.out.problems.append(f"{self.rel}:{self.getpos()[0]}: empty data-i18n")
            else:
                _add(self.out, text, self.rel, self.context)

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)


def key(msgid: str, context: str = "") -> str:
    """The lookup key: gettext's ``context EOT msgid`` (what ``.mo`` files and ko.json use)."""
    return f"{context}\x04{msgid}" if context else msgid


def _add(out: Extracted, msgid: str, rel: str, context: str = "") -> None:
    msg = out.messages.setdefault((key(msgid, context), ""), Message(msgid, context=context))
    if rel not in msg.refs:
        msg.refs.append(rel)


def extract_js(source: str, rel: str, out: Extracted) -> None:
    """The ``t("…")``/``N_("…")`` literals of one module (see the module docstring)."""
    for match in _CALL.finditer(source):
        before = source[max(0, match.start() - 9):match.start()]
        if before.endswith("function "):
            continue  # the definition itself
        literal = _LITERAL.match(source, match.end())
        line = source.count("\n", 0, match.start()) + 1
        if literal is None:
            if match.group(1) == "t":
                # t(variable) looks up an N_-marked text; anything else cannot be extracted.
                rest = source[match.end():match.end() + 40]
                if re.match(r"[A-Za-z_$][\w$.]*\s*[,)]", rest):
                    continue
            out.problems.append(f"{rel}:{line}: {match.group(1)}() needs a double-quoted literal")
            continue
        _add(out, json.loads(f'"{literal.group(1)}"'), rel)


def extract_page(web_dir: Path = WEB_DIR) -> Extracted:
    """Every string the page shows (index.html first, then the modules by name)."""
    out = Extracted()
    html = web_dir / "index.html"
    parser = _PageHtml(html.name, out)
    parser.feed(html.read_text(encoding="utf-8"))
    parser.close()
    for path in sorted(web_dir.glob("*.js")):
        if path.name == "i18n.js":
            continue  # the lookup itself (its comments show the markers)
        extract_js(path.read_text(encoding="utf-8"), path.name, out)
    return out


def _translated(po: Path) -> dict[str, str]:
    if not po.is_file():
        return {}
    return {m.msgid: m.strings[0] for m in read_po(po) if m.msgid and not m.plural and m.translated}


def page_table(lang_dir: Path, found: Extracted) -> tuple[dict[str, str], list[str]]:
    """msgid -> translation for every page string, and the problems (missing, stale, twice)."""
    tui = _translated(lang_dir / f"{TUI_DOMAIN}.po")
    web_po = lang_dir / f"{WEB_DOMAIN}.po"
    entries = read_po(web_po) if web_po.is_file() else []
    own = {key(m.msgid, m.context): m for m in entries if m.msgid}
    table: dict[str, str] = {}
    problems: list[str] = []
    for (msgid, _plural), msg in found.messages.items():
        entry = own.get(msgid)
        if msgid in tui:
            table[msgid] = tui[msgid]
            if entry is not None:
                problems.append(f"{web_po}: {msgid!r} is in {TUI_DOMAIN}.po already: drop it here")
        elif entry is not None and entry.translated:
            table[msgid] = entry.strings[0]
        else:
            problems.append(f"{web_po}: untranslated page string {msgid!r} ({msg.refs[0]})")
    for msgid in own:
        if (msgid, "") not in found.messages:
            problems.append(f"{web_po}: {msgid!r} is no page string (stale): "
                            "run python -m i18n update")
    return dict(sorted(table.items())), problems


def json_bytes(table: dict[str, str]) -> bytes:
    return (json.dumps(table, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()


def json_path(lang: str, web_dir: Path = WEB_DIR) -> Path:
    return web_dir / "i18n" / f"{lang}.json"


def update_po(lang_dir: Path, found: Extracted) -> None:
    """``web.po`` for the current page: translations kept, page strings the TUI catalog lacks
    added untranslated, the rest dropped."""
    tui = _translated(lang_dir / f"{TUI_DOMAIN}.po")
    web_po = lang_dir / f"{WEB_DOMAIN}.po"
    existing = read_po(web_po) if web_po.is_file() else read_po(lang_dir / f"{TUI_DOMAIN}.po")[:1]
    own = Extracted(messages={  # keyed and named "context EOT msgid" while merging
        k: Message(k[0], refs=m.refs) for k, m in found.messages.items() if k[0] not in tui})
    kept = {key(m.msgid, m.context): m for m in existing}
    merged = merge([Message(k, m.plural, m.strings, m.refs, m.fuzzy) for k, m in kept.items()], own)
    for m in merged:  # merge keys by msgid: put the contexts back
        if "\x04" in m.msgid:
            m.context, m.msgid = m.msgid.split("\x04", 1)
    write_po(web_po, merged)
