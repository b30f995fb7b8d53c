"""Collecting the problems of one script file: every one, located, each once.

The loader never stops at the first problem: an author fixes a file faster
when they see all of it. Every stage (decoding, composing, building) adds to
one :class:`Problems` per file, and :class:`~voiceguide.errors.ScriptError`
is raised once, at the end, with all of them in file order.

Two exceptions steer the reading, and neither ever leaves the loader:

* :class:`Fatal` -- stop reading the file: the rest cannot be trusted (a YAML
  bomb, nesting past the limit) or would cost too much.
* :class:`Bad` -- one value was wrong *and has been reported*; whatever
  depends on it is skipped without a second message.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from voiceguide.errors import Problem
from voiceguide.script.controls import escape_controls
from voiceguide.script.model import MAX_FILE_BYTES
from voiceguide.visible import visible

#: A script with more problems than this is reported up to here, then a note.
MAX_PROBLEMS = 100


class Fatal(Exception):
    """Stop reading: the rest of the file cannot be trusted or is too costly."""


class Bad(Exception):
    """A value was wrong and has been reported; skip what depends on it."""


class Problems:
    """The problems (and warnings) found in one file, deduplicated, sorted when read out.

    Every message and the file name pass :func:`~voiceguide.script.controls.escape_controls`:
    whatever a script quotes back (a key, a value, PyYAML's words about it)
    is printed with its control characters made visible, never acted on.
    The file name keeps no line feed either: ``file:line:col`` is one line.
    """

    def __init__(self, file: str):
        self.file = visible(file)
        self._seen: Dict[Tuple[int, int, str], None] = {}
        self._warnings: Dict[Tuple[str, int, int, str], None] = {}

    def add(self, line: int, col: int, message: str) -> None:
        self._seen.setdefault((max(1, line), max(1, col), escape_controls(message)), None)

    def warn(self, mark: Any, message: str) -> None:
        """A warning at a YAML mark: worth fixing, but the script is valid."""
        self._warnings.setdefault((self.file, mark.line + 1, mark.column + 1, escape_controls(message)), None)

    def carry(self, warnings: Tuple[Problem, ...]) -> None:
        """Keep the warnings of an included file (they name that file)."""
        for w in warnings:
            self._warnings.setdefault((w.file, w.line, w.col, w.message), None)

    def warnings(self) -> Tuple[Problem, ...]:
        return tuple(Problem(*key) for key in self._warnings)

    def at(self, mark: Any, message: str) -> None:
        """Add a problem at a YAML mark (0-based line and column)."""
        self.add(mark.line + 1, mark.column + 1, message)

    def at_or_start(self, mark: Any, message: str) -> None:
        """Add a problem at *mark*, or at 1:1 when there is none."""
        if mark is None:
            self.add(1, 1, message)
        else:
            self.at(mark, message)

    def __bool__(self) -> bool:
        return bool(self._seen)

    def final(self) -> List[Problem]:
        """The problems in file order, at most :data:`MAX_PROBLEMS` and a note."""
        found = sorted(self._seen)
        out = [Problem(self.file, line, col, msg) for line, col, msg in found[:MAX_PROBLEMS]]
        if len(found) > MAX_PROBLEMS:
            line, col, _ = found[MAX_PROBLEMS]
            out.append(
                Problem(
                    self.file,
                    line,
                    col,
                    f"{len(found) - MAX_PROBLEMS} more problems not shown; fix the ones above first",
                )
            )
        return out


def too_big(name: str, size: int) -> Problem:
    """The problem of a file larger than :data:`~voiceguide.script.model.MAX_FILE_BYTES`."""
    return Problem(
        name,
        1,
        1,
        f"the file is {size} bytes, more than the limit of {MAX_FILE_BYTES} bytes;"
        " split it into smaller scripts",
    )


def short(text: str, limit: int = 40) -> str:
    """*text* cut to *limit* characters with "...": messages quote, never flood."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
