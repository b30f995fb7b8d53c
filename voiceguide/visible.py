"""Text from outside made safe to show: control characters become visible escapes.

An exercise id is a file name, and a file name may hold anything but ``/``
and NUL: a newline, ``ESC [2J`` (clear the screen), a bell, or U+202E (which
reverses what a reader sees after it). Titles, cues and schedule names come
from files and requests too. Printed raw, such text moves the cursor, forges
an extra line in ``list`` or in the station's log, or hides what it says.

:func:`visible` is the one place that turns it into something a person can
read and a terminal cannot act on: each such character is written as a
Python-style escape (``\\n``, ``\\x1b``, ``\\u202e``), so the name is still
recognisable and can be typed back. It is a foundation module (no voiceguide
imports) so every layer -- the loader's messages, the command line, the
station's log lines -- uses the same rule. ``script/controls.py`` builds the
loader's stripping on the same character class.

Which characters: C0 controls (tab and line feed too, unless *keep* says
otherwise), DEL, C1 controls, the bidi embeddings, overrides and isolates
(U+202A-U+202E, U+2066-U+2069) and the line and paragraph separators
(U+2028, U+2029). Kept as they are: the bidi *marks* U+200E/U+200F that
right-to-left text uses legitimately, and every other printable character.
"""

from __future__ import annotations

import re

#: The characters :func:`visible` escapes, as the body of a regular-expression class.
CONTROL_CLASS = "\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029"

_CONTROL = re.compile(f"[{CONTROL_CLASS}]")


def has_controls(text: str, keep: str = "") -> bool:
    """Whether :func:`visible` would change *text* (a check for values that must be plain)."""
    return any(char not in keep for char in _CONTROL.findall(text))


def visible(text: object, keep: str = "") -> str:
    """*text* with every control character written as a visible escape.

    ``visible("evil\\nname")`` is ``'evil\\\\nname'`` (a backslash and an
    ``n``: one line on the terminal). Characters in *keep* stay as they are:
    multi-line messages keep ``"\\t\\n"``. Anything not a string is shown
    through ``str`` first, so a caller can pass what a request held.
    """
    text = text if isinstance(text, str) else str(text)
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: m.group() if m.group() in keep else _escape(m.group()), text)


def _escape(char: str) -> str:
    """``\\n``, ``\\x1b``, ``\\u202e``: how Python writes *char* in a string literal."""
    return char.encode("unicode_escape").decode("ascii")
