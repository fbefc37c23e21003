"""``python -m i18n [update|compile|check]``: keep the Korean catalog in step with the sources.

- ``update``: add new message ids from the sources to every ``.po`` (untranslated), drop the
  ones no longer used, then compile.
- ``compile``: write each ``.mo`` from its ``.po``.
- ``check``: exit 1 naming what is untranslated, stale or not a literal (what the test checks).

Each also covers the browser page (:mod:`i18n.web`): ``update`` refreshes ``web.po``,
``compile`` writes ``web/i18n/<lang>.json``, ``check`` fails on a page string without Korean.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import DOMAIN, LOCALE_DIR, web
from .catalog import compile_po, extract, merge, mo_bytes, read_po, write_po


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "check"
    catalogs = sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    found = extract()
    for problem in found.problems:
        print(problem, file=sys.stderr)
    failed = bool(found.problems)
    for po in catalogs:
        if command == "update":
            write_po(po, merge(read_po(po), found))
        if command in ("update", "compile"):
            print(f"wrote {compile_po(po)}")
            continue
        messages = {(m.msgid, m.plural): m for m in read_po(po)}
        for key, msg in found.messages.items():
            entry = messages.get(key)
            if entry is None or not entry.translated:
                print(f"{po}: untranslated: {msg.msgid!r} ({msg.refs[0]})", file=sys.stderr)
                failed = True
        mo = po.with_suffix(".mo")
        if not mo.is_file() or mo.read_bytes() != mo_bytes(list(messages.values())):
            print(f"{mo}: stale: run python -m i18n compile", file=sys.stderr)
            failed = True
    return 1 if _page(command, catalogs) or failed else 0


def _page(command: str, catalogs: list[Path]) -> bool:
    """The page's share of ``command`` (see :mod:`i18n.web`); True when something failed."""
    found = web.extract_page()
    for problem in found.problems:
        print(problem, file=sys.stderr)
    failed = bool(found.problems)
    for po in catalogs:
        lang_dir, lang = po.parent, po.parent.parent.name
        if command == "update":
            web.update_po(lang_dir, found)
        table, problems = web.page_table(lang_dir, found)
        out = web.json_path(lang)
        if command in ("update", "compile"):
            out.parent.mkdir(exist_ok=True)
            out.write_bytes(web.json_bytes(table))
            print(f"wrote {out}")
            continue
        for problem in problems:
            print(problem, file=sys.stderr)
        failed = failed or bool(problems)
        if not out.is_file() or out.read_bytes() != web.json_bytes(table):
            print(f"{out}: stale: run python -m i18n compile", file=sys.stderr)
            failed = True
    return failed


if __name__ == "__main__":
    sys.exit(main())
