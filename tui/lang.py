"""The TUI's side of i18n: applying the language setting, translated key bindings, and the
language choices the settings screen offers.

Textual builds a node's bindings from the class's ``BINDINGS`` once per instance; their
descriptions (what the footer shows) are English message ids marked with ``N_``. Each screen
calls :func:`translate_bindings` when it is created and again when the language changes, so
the footer speaks the current language without a restart.
"""

from __future__ import annotations

import dataclasses

from textual.binding import BindingsMap
from textual.dom import DOMNode

import i18n
from i18n import N_, _

#: (label, value) for the settings screen. Language names are written in their own language,
#: so someone who cannot read the current one still finds theirs.
LANGUAGE_LABELS = {"auto": N_("Automatic (system language)"), "en": "English", "ko": "한국어"}


def language_options() -> list[tuple[str, str]]:
    return [
        (_(LANGUAGE_LABELS[v]) if v == "auto" else LANGUAGE_LABELS[v], v)
        for v in i18n.SETTING_CHOICES
    ]


def apply_language(setting: str, *, startup: bool = True) -> str:
    """Switch to the language for ``setting``. At start-up ``$AVATARCHAT_LANG`` wins (one run's
    override); a choice made later on the settings screen wins over it."""
    if not startup and setting in i18n.LANGUAGES:
        return i18n.set_language(setting)
    return i18n.setup(setting)


def translate_bindings(node: DOMNode) -> None:
    """Rebuild ``node``'s bindings from its class's, descriptions in the current language."""
    merged = type(node)._merged_bindings
    if merged is None:
        return
    keys = {
        key: [
            dataclasses.replace(b, description=_(b.description) if b.description else "")
            for b in bindings
        ]
        for key, bindings in merged.key_to_bindings.items()
    }
    node._bindings = BindingsMap.from_keys(keys)
