"""Untrusted text made safe to show in a terminal.

Everything the peer or the relay says (display names, chat lines, bye reasons, avatar ids,
status and error messages that quote them) is untrusted: a raw ESC could clear the screen,
move the cursor, retitle the window or write the clipboard (OSC 52), and a bidi override could
make a line read differently from what it is. Both front-ends show such text (``avatarchat
call`` prints it, the TUI draws it), and they may not import each other, so the one sanitiser
they share lives here, in the shared library. Logs get :func:`log_text` instead: there the
exact bytes matter to whoever reads them, so untrusted text is escaped, not replaced.
"""

from __future__ import annotations

import unicodedata

#: Replaced: controls (C0, C1, ESC, DEL), format characters (bidi overrides and isolates, zero
#: width characters, BOM), lone surrogates (unencodable: writing one would raise) and the
#: Unicode line and paragraph separators (a line must stay one line).
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
REPLACEMENT = "\ufffd"


def printable(text: str, limit: int = 500) -> str:
    """``text`` (at most ``limit`` characters of it) with every unsafe character replaced by
    U+FFFD, so nothing in it can drive the terminal or break the line. Letters, digits,
    punctuation and symbols of every script (Korean, emoji) stay as they are."""
    return "".join(
        REPLACEMENT if unicodedata.category(ch) in UNSAFE_CATEGORIES else ch for ch in text[:limit]
    )


#: How much of an untrusted string a log line quotes.
LOG_TEXT_LIMIT = 120


def log_text(text: str | bytes, limit: int = LOG_TEXT_LIMIT) -> str:
    """Untrusted text (a peer's or client's string, a child's bad line) as a log line may quote
    it: ``ascii()`` of at most ``limit`` characters, marked with "..." when cut. A newline, ESC
    or lone surrogate becomes an escape, so the text can neither forge a log line nor drive the
    terminal the log is read in."""
    shown = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return ascii(shown[:limit]) + ("..." if len(shown) > limit else "")
