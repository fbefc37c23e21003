"""The catalog tools: extract message ids from the sources, read and write ``.po``, write ``.mo``.

Stdlib only, so ``python -m i18n`` works in any checkout (no gettext binaries, no Babel). The
``.mo`` writer is deterministic (entries sorted, no hash table, which gettext does not need), so
a test can compile the ``.po`` and compare the bytes with the committed ``.mo``.

Extraction reads the Python syntax tree: calls to ``_("...")`` and ``N_("...")`` with one
string literal, and ``ngettext("...", "...", n)``. ``_(name)`` of a variable is a lookup of an
``N_``-marked text (extracted where it is marked); an f-string or an ``N_`` of anything but a
literal cannot be translated and is reported as a problem, not skipped quietly.
"""

from __future__ import annotations

import ast
import struct
from dataclasses import dataclass, field
from pathlib import Path

#: The packages whose user-visible text goes through i18n.
SOURCE_PACKAGES = ("tui", "cli", "render_window", "call", "tracking")
REPO = Path(__file__).resolve().parent.parent
MO_MAGIC = 0x950412DE


@dataclass(slots=True)
class Message:
    """One catalog entry (``plural`` set: ``strings`` holds one form per plural index)."""

    msgid: str
    plural: str = ""
    strings: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    fuzzy: bool = False
    #: gettext's msgctxt (only the page's catalog uses it: a word the TUI means otherwise)
    context: str = ""

    @property
    def translated(self) -> bool:
        return bool(self.strings) and all(self.strings) and not self.fuzzy


@dataclass(slots=True)
class Extracted:
    messages: dict[tuple[str, str], Message] = field(default_factory=dict)
    #: "path:line: why" for every call that is not a literal (cannot be translated).
    problems: list[str] = field(default_factory=list)


# -- extraction --------------------------------------------------------------------------------
def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def extract_file(path: Path, rel: str, out: Extracted) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            name = func.id
        elif isinstance(func, ast.Attribute) and getattr(func.value, "id", None) == "i18n":
            name = func.attr  # i18n._("...") where a module imports the package itself
        else:
            continue
        where = f"{rel}:{node.lineno}"
        if name in ("_", "N_"):
            arg = node.args[0] if len(node.args) == 1 else None
            looked_up = arg is not None and not isinstance(arg, ast.JoinedStr | ast.Constant)
            if name == "_" and looked_up:
                continue  # a looked-up id (a table of N_-marked texts): extracted at the N_
            text = _literal(arg) if arg is not None else None
            key = (text or "", "")
        elif name == "ngettext":
            texts = [_literal(a) for a in node.args[:2]]
            ok = len(node.args) == 3 and None not in texts
            text = texts[0] if ok else None
            key = (texts[0] or "", texts[1] or "") if ok else ("", "")
        else:
            continue
        if not text:
            out.problems.append(f"{where}: {name}() needs string literals (not f-strings)")
            continue
        msg = out.messages.setdefault(key, Message(key[0], key[1]))
        if rel not in msg.refs:  # files, not lines: the catalog does not churn with every edit
            msg.refs.append(rel)


def extract(root: Path = REPO, packages: tuple[str, ...] = SOURCE_PACKAGES) -> Extracted:
    """Every translatable message in ``packages`` (in source order: file by file)."""
    out = Extracted()
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            extract_file(path, path.relative_to(root).as_posix(), out)
    return out


# -- .po ---------------------------------------------------------------------------------------
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


def _unquote(text: str, where: str) -> str:
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError(f"{where}: expected a quoted string, got {text!r}")
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            esc = body[i + 1]
            if esc not in _ESCAPES:
                raise ValueError(f"{where}: unknown escape \\{esc}")
            out.append(_ESCAPES[esc])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def read_po(path: Path) -> list[Message]:
    """The entries of a ``.po`` file (header included, as msgid ""); obsolete ones skipped."""
    messages: list[Message] = []
    current: Message | None = None
    target: tuple[str, int] = ("", 0)  # which string continuation lines extend
    flags: list[str] = []
    refs: list[str] = []
    context = ""

    def finish() -> None:
        nonlocal current
        if current is not None:
            messages.append(current)
        current = None

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where, line = f"{path}:{lineno}", raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#"):
            if current is not None and current.strings:
                finish()
            if line.startswith("#,"):
                flags += [f.strip() for f in line[2:].split(",")]
            elif line.startswith("#:"):
                refs += line[2:].split()
            continue
        keyword, _, rest = line.partition(" ")
        if keyword == "msgctxt":
            finish()
            context = _unquote(rest, where)
            continue
        if keyword == "msgid":
            finish()
            current = Message(_unquote(rest, where), refs=refs, fuzzy="fuzzy" in flags,
                              context=context)
            context, flags, refs, target = "", [], [], ("msgid", 0)
        elif current is None:
            raise ValueError(f"{where}: {keyword} before msgid")
        elif keyword == "msgid_plural":
            current.plural, target = _unquote(rest, where), ("plural", 0)
        elif keyword == "msgstr" or keyword.startswith("msgstr["):
            index = int(keyword[7:-1]) if keyword != "msgstr" else 0
            if index != len(current.strings):
                raise ValueError(f"{where}: {keyword} out of order")
            current.strings.append(_unquote(rest, where))
            target = ("str", index)
        elif line.startswith('"'):
            text = _unquote(line, where)
            kind, index = target
            if kind == "msgid":
                current.msgid += text
            elif kind == "plural":
                current.plural += text
            else:
                current.strings[index] += text
        else:
            raise ValueError(f"{where}: cannot read {line!r}")
    finish()
    return messages


def _quote(text: str) -> str:
    body = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    if "\n" in body.rstrip("\n") or len(body) > 76:
        parts = body.replace("\n", "\\n\n").split("\n")
        return '""\n' + "\n".join(f'"{p}"' for p in parts if p)
    return '"' + body.replace("\n", "\\n") + '"'


def write_po(path: Path, messages: list[Message]) -> None:
    """Write ``messages`` (header first) in the usual layout: refs, flags, msgid, msgstr."""
    chunks = []
    for m in messages:
        lines = [f"#: {' '.join(m.refs)}"] if m.refs else []
        if m.fuzzy:
            lines.append("#, fuzzy")
        if m.context:
            lines.append(f"msgctxt {_quote(m.context)}")
        lines.append(f"msgid {_quote(m.msgid)}")
        if m.plural:
            lines.append(f"msgid_plural {_quote(m.plural)}")
            strings = m.strings or [""]
            lines += [f"msgstr[{i}] {_quote(s)}" for i, s in enumerate(strings)]
        else:
            lines.append(f"msgstr {_quote(m.strings[0] if m.strings else '')}")
        chunks.append("\n".join(lines))
    path.write_text("\n\n".join(chunks) + "\n", encoding="utf-8")


def merge(existing: list[Message], extracted: Extracted) -> list[Message]:
    """The catalog for the current sources: header and known translations kept, new ids
    added untranslated, ids no longer in the sources dropped."""
    known = {(m.msgid, m.plural): m for m in existing}
    header = known.get(("", ""))
    out = [header] if header is not None else []
    for key, found in extracted.messages.items():
        old = known.get(key)
        strings = list(old.strings) if old is not None else []
        fuzzy = old.fuzzy if old is not None else False
        out.append(Message(found.msgid, found.plural, strings, list(found.refs), fuzzy))
    return out


# -- .mo ---------------------------------------------------------------------------------------
def mo_bytes(messages: list[Message]) -> bytes:
    """A GNU ``.mo`` of the translated entries (and the header), keys sorted."""
    pairs: dict[bytes, bytes] = {}
    for m in messages:
        if m.msgid and not m.translated:
            continue
        msgid = (m.context + "\x04" if m.context else "") + m.msgid
        msgid += "\0" + m.plural if m.plural else ""
        pairs[msgid.encode()] = "\0".join(m.strings).encode()
    keys = sorted(pairs)
    count = len(keys)
    originals_at = 7 * 4
    translations_at = originals_at + count * 8
    data_at = translations_at + count * 8
    table_o: list[tuple[int, int]] = []
    table_t: list[tuple[int, int]] = []
    data = b""
    for key in keys:
        table_o.append((len(key), data_at + len(data)))
        data += key + b"\0"
    for key in keys:
        value = pairs[key]
        table_t.append((len(value), data_at + len(data)))
        data += value + b"\0"
    head = struct.pack("<7I", MO_MAGIC, 0, count, originals_at, translations_at, 0, data_at)
    tables = b"".join(struct.pack("<2I", n, o) for n, o in table_o + table_t)
    return head + tables + data


def compile_po(po: Path, mo: Path | None = None) -> Path:
    """Write the ``.mo`` next to ``po`` (or at ``mo``); returns its path."""
    mo = mo or po.with_suffix(".mo")
    mo.write_bytes(mo_bytes(read_po(po)))
    return mo
