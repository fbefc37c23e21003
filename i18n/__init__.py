"""The user interface's language: English or Korean, through the standard :mod:`gettext`.

Every front-end (``tui``, ``cli``) and the render window import this package, so it imports no
other project package. Message ids are the English texts; the Korean catalog lives in
``i18n/locale/ko/LC_MESSAGES/avatarchat.po`` and is compiled to the ``.mo`` next to it
(``python -m i18n compile``; a test checks the two agree).

Which language: ``$AVATARCHAT_LANG`` ("en", "ko") for one run, else the user's ``language``
setting ("auto", "en", "ko"), else the locale (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``,
``LANG``, as gettext reads them). The choice is process-wide (one person, one language), and
child processes get it through the environment (:func:`child_env`), so the avatar window speaks
the language the TUI speaks.

The browser page (``web/``) shares this catalog: its strings are looked up here first and the
rest live in the ``web`` domain (``web.po``); ``python -m i18n compile`` writes the merged table
``web/i18n/ko.json`` for the page, which has no build step (see :mod:`i18n.web`).

Why lookups happen at call time: the language can change while the app runs (the settings
screen), so module-level tables hold :func:`N_`-marked English texts and are passed through
:func:`_` where they are shown.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping
from pathlib import Path

DOMAIN = "avatarchat"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: Forces the language for one run (and carries the app's choice to its child processes).
LANG_ENV = "AVATARCHAT_LANG"
#: Languages with a user interface; English is the source language (no catalog).
LANGUAGES = ("en", "ko")
#: Values of the ``language`` setting.
SETTING_CHOICES = ("auto", *LANGUAGES)
DEFAULT_LANGUAGE = "en"
#: The locale variables gettext consults, in its order (``LANGUAGE`` is a list).
LOCALE_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_current = DEFAULT_LANGUAGE
_translations: gettext.NullTranslations = gettext.NullTranslations()


def normalize(value: str) -> str | None:
    """``ko_KR.UTF-8`` -> ``ko``; another language -> ``en``; "", "auto", C, POSIX -> None."""
    code = value.strip().split(":")[0].split(".")[0].split("@")[0].split("_")[0].lower()
    if code in ("", "auto", "c", "posix"):
        return None
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def detect_locale(environ: Mapping[str, str] | None = None) -> str:
    """The language the locale asks for (English when it names none we have)."""
    env = os.environ if environ is None else environ
    # GNU gettext ignores LANGUAGE when the locale itself is C/POSIX: so do we.
    locale_value = next((env[v] for v in ("LC_ALL", "LC_MESSAGES", "LANG") if env.get(v)), "")
    if normalize(locale_value) is not None:
        for entry in env.get("LANGUAGE", "").split(":"):
            lang = normalize(entry)
            if lang is not None:
                return lang
    return normalize(locale_value) or DEFAULT_LANGUAGE


def resolve(setting: str = "auto", environ: Mapping[str, str] | None = None) -> str:
    """The language to use: ``$AVATARCHAT_LANG``, else ``setting``, else the locale."""
    env = os.environ if environ is None else environ
    forced = normalize(env.get(LANG_ENV, ""))
    if forced is not None:
        return forced
    if setting in LANGUAGES:
        return setting
    return detect_locale(env)


def load(language: str) -> gettext.NullTranslations:
    """The catalog for ``language`` (English, or a missing catalog: the message ids)."""
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


def set_language(language: str) -> str:
    """Switch this process's language (``en``/``ko``; anything else: English); returns it."""
    global _current, _translations
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    _translations = load(lang)
    _current = lang
    return lang


def setup(setting: str = "auto") -> str:
    """Pick and switch to the language for this process (see :func:`resolve`)."""
    return set_language(resolve(setting))


def current_language() -> str:
    return _current


def child_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A child process's environment: ``base`` (default: ours) with our language in it."""
    env = dict(os.environ if base is None else base)
    env[LANG_ENV] = _current
    return env


def _(message: str) -> str:
    """``message`` (an English literal: tests extract them) in the current language."""
    return _translations.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the current language."""
    return _translations.ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Marks a literal for the catalog without translating it (module-level tables)."""
    return message


__all__ = [
    "LANGUAGES",
    "LANG_ENV",
    "N_",
    "SETTING_CHOICES",
    "_",
    "child_env",
    "current_language",
    "detect_locale",
    "ngettext",
    "normalize",
    "resolve",
    "set_language",
    "setup",
]
