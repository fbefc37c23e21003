"""The Korean catalog stays complete and in step with the sources, and the language is chosen
the way the README says: $AVATARCHAT_LANG, then the setting, then the locale."""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import i18n
from i18n.__main__ import main as i18n_main
from i18n.catalog import Extracted, Message, extract, extract_file, mo_bytes, read_po, write_po

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

KO_PO = i18n.LOCALE_DIR / "ko" / "LC_MESSAGES" / "avatarchat.po"
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


@pytest.fixture(autouse=True)
def english_after() -> Iterator[None]:
    yield
    i18n.set_language("en")


def _catalog() -> dict[tuple[str, str], Message]:
    return {(m.msgid, m.plural): m for m in read_po(KO_PO)}


def test_every_wrapped_message_has_a_korean_translation() -> None:
    found = extract()
    assert not found.problems, "\n".join(found.problems)
    # The front-ends and the window really are wrapped (not an empty extraction).
    files = {ref.split("/")[0] for m in found.messages.values() for ref in m.refs}
    assert {"tui", "render_window", "cli"} <= files, files
    catalog = _catalog()
    missing = [
        f"{m.msgid!r} ({m.refs[0]})"
        for key, m in found.messages.items()
        if key not in catalog or not catalog[key].translated
    ]
    assert not missing, "untranslated (run python -m i18n update, then translate):\n" + "\n".join(
        missing
    )


def test_translations_keep_every_placeholder() -> None:
    """A translation that drops or renames ``{who}`` would raise at .format() on screen."""
    for m in _catalog().values():
        if m.msgid and m.translated:
            for text in m.strings:
                assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(m.msgid)), (
                    m.msgid,
                    text,
                )


def test_committed_mo_is_the_compiled_po() -> None:
    mo = KO_PO.with_suffix(".mo")
    assert mo.read_bytes() == mo_bytes(read_po(KO_PO)), "run python -m i18n compile"
    assert i18n_main(["check"]) == 0


def test_gettext_reads_the_mo() -> None:
    """The stdlib's own reader (not ours) finds Korean for the ids, and the plural rule."""
    with open(KO_PO.with_suffix(".mo"), "rb") as f:
        t = gettext.GNUTranslations(f)
    assert t.gettext("Create room") == "방 만들기"
    assert t.info()["content-type"] == "text/plain; charset=UTF-8"
    i18n.set_language("ko")
    assert i18n._("Connected") == "연결됨"
    assert i18n._("no such message id") == "no such message id"


def test_po_round_trips_through_our_writer(tmp_path: Path) -> None:
    messages = read_po(KO_PO)
    copy = tmp_path / "copy.po"
    write_po(copy, messages)
    assert mo_bytes(read_po(copy)) == mo_bytes(messages)
    tricky = [
        Message(
            "",
            strings=[
                "Language: ko\nContent-Type: text/plain; charset=UTF-8\n"
                "Plural-Forms: nplurals=1; plural=0;\n"
            ],
        ),
        Message('say "hi"\\now', strings=['"안녕"\\지금']),
        Message("{n} file", "{n} files", ["파일 {n}개"]),
        Message("untranslated", strings=[""]),
        Message("fuzzy one", strings=["흐릿함"], fuzzy=True),
    ]
    write_po(copy, tricky)
    back = read_po(copy)
    assert [(m.msgid, m.plural, m.strings, m.fuzzy) for m in back] == [
        (m.msgid, m.plural, m.strings, m.fuzzy) for m in tricky
    ]
    mo = tmp_path / "x.mo"
    mo.write_bytes(mo_bytes(back))
    with open(mo, "rb") as f:
        t = gettext.GNUTranslations(f)
    assert t.gettext('say "hi"\\now') == '"안녕"\\지금'
    assert t.ngettext("{n} file", "{n} files", 3) == "파일 {n}개"
    assert t.gettext("untranslated") == "untranslated"
    assert t.gettext("fuzzy one") == "fuzzy one"  # fuzzy entries are not shipped


def test_extraction_refuses_what_cannot_be_translated(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text(
        'x = 1\n_(f"hello {x}")\nN_(name)\n_("ok")\n_(TABLE[k])\n'
        'ngettext("one", "many", x)\nngettext("one", plural, x)\ni18n._("qualified")\n'
    )
    out = Extracted()
    extract_file(src, "m.py", out)
    assert [key for key in out.messages] == [("ok", ""), ("one", "many"), ("qualified", "")]
    assert len(out.problems) == 3, out.problems  # the f-string, N_(name), ngettext(.., plural)


@pytest.mark.parametrize(
    ("env", "setting", "expected"),
    [
        ({}, "auto", "en"),
        ({"LANG": "C.UTF-8"}, "auto", "en"),
        ({"LANG": "ko_KR.UTF-8"}, "auto", "ko"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "ko_KR.UTF-8"}, "auto", "ko"),
        ({"LANG": "ko_KR.UTF-8", "LC_MESSAGES": "en_GB.UTF-8"}, "auto", "en"),
        ({"LANG": "de_DE.UTF-8"}, "auto", "en"),  # no German: English, not the ids' guess
        ({"LANG": "en_US.UTF-8", "LANGUAGE": "ko:en"}, "auto", "ko"),
        ({"LANG": "C", "LANGUAGE": "ko"}, "auto", "en"),  # gettext ignores LANGUAGE under C
        ({"LANG": "ko_KR.UTF-8"}, "en", "en"),  # the setting beats the locale
        ({"LANG": "en_US.UTF-8"}, "ko", "ko"),
        ({"AVATARCHAT_LANG": "ko", "LANG": "en_US.UTF-8"}, "en", "ko"),  # the variable wins
        ({"AVATARCHAT_LANG": "auto", "LANG": "ko_KR.UTF-8"}, "en", "en"),
        ({"AVATARCHAT_LANG": "ko_KR"}, "auto", "ko"),
    ],
)
def test_language_choice(env: dict[str, str], setting: str, expected: str) -> None:
    assert i18n.resolve(setting, env) == expected


def test_child_env_carries_the_language() -> None:
    i18n.set_language("ko")
    env = i18n.child_env({"PATH": "/bin"})
    assert env == {"PATH": "/bin", i18n.LANG_ENV: "ko"}
    assert i18n.resolve("en", env) == "ko"
    assert i18n.set_language("fr") == "en"  # no catalog: English, never an exception
    assert i18n._("Connected") == "Connected"
