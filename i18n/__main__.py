"""``python -m i18n [update|compile|check]``: keep the Korean catalog in step with the sources.

- ``update``: add new message ids from the sources to every ``.po`` (untranslated), drop the
  ones no longer used, then compile.
- ``compile``: write each ``.mo`` from its ``.po``.
- ``check``: exit 1 naming what is untranslated, stale or not a literal (what the test checks).
"""

from __future__ import annotations

import sys

from . import LOCALE_DIR
from .catalog import compile_po, extract, merge, mo_bytes, read_po, write_po


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "check"
    catalogs = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))
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
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
