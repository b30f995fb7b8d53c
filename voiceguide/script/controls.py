"""Control characters and terminal escape sequences: out of the model, escaped in messages.

A script is shared like any text file, and its words reach a terminal (the
status line, ``list``, ``preview``, error messages), logs, ``--text`` and
caption files. YAML refuses raw control characters, but a double-quoted
string can still write them (``"\\e[2J"`` clears a screen, ``"\\a"`` rings,
``"\\0"`` truncates C strings), and bidi overrides (U+202E) may be written
raw and reverse what a reader sees. So:

* :func:`strip_controls` removes them from every text value the loader keeps
  -- whole escape sequences, not only the ESC, so no ``[31m`` is left to be
  spoken -- and names what it removed, for a ``validate`` warning;
* :func:`escape_controls` makes any message safe to print: each such
  character becomes a visible ``\\x1b`` or ``\\u202e`` (it is
  :func:`voiceguide.visible.visible` keeping tab and line feed; the
  character class is that module's, so the loader and every printer agree).

Kept: tab and line feed (ordinary text), and the bidi *marks* U+200E/U+200F
that right-to-left text uses legitimately; only overrides, embeddings and
isolates (U+202A-U+202E, U+2066-U+2069) and the line and paragraph separators
(U+2028, U+2029) are removed.
"""

from __future__ import annotations

import re
from typing import List, Tuple

from voiceguide.visible import CONTROL_CLASS, visible

#: visible()'s characters but tab and line feed: C0, DEL, C1, bidi embeddings, overrides and isolates.
_CONTROL = re.compile(f"(?![\t\n])[{CONTROL_CLASS}]")

#: ESC or CSI with what follows: CSI ... final, OSC ... BEL/ST, or a two-character sequence.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?",
)

_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x0D: "CR", 0x1B: "ESC", 0x7F: "DEL", 0x9B: "CSI"}


def _name(char: str) -> str:
    code = ord(char)
    return _NAMES.get(code) or f"U+{code:04X}"


def strip_controls(text: str) -> Tuple[str, List[str]]:
    """(*text* without control characters and escape sequences, the names of what was removed)."""
    found = _CONTROL.findall(text)
    if not found:
        return text, []
    names: List[str] = []
    for char in found:
        name = _name(char)
        if name not in names:
            names.append(name)
    return _CONTROL.sub("", _SEQUENCE.sub("", text)), names


def escape_controls(text: str) -> str:
    """*text* with each control character but tab and line feed written as a visible escape."""
    return visible(text, keep="\t\n")
