"""Exception types. The command line turns each into a one-line message.

Every error a user can cause is a :class:`VoiceguideError` subclass carrying an
exit code, so the Click layer never needs to guess. Anything else that escapes
is a bug and is shown as one, with a hint to rerun with ``--debug``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Tuple

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class VoiceguideError(Exception):
    """Base of every error meant for a person rather than a programmer."""

    exit_code = EXIT_RUNTIME

    def lines(self) -> Tuple[str, ...]:
        """The message as lines, one per problem; most errors have one."""
        return (str(self),)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a script, located at ``file:line:col`` (1-based)."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class ScriptError(VoiceguideError):
    """A script is invalid. Holds *every* problem found, not just the first."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: Iterable[Problem]):
        self.problems: Tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> Tuple[str, ...]:
        return tuple(str(p) for p in self.problems)


class UsageError(VoiceguideError):
    """A command-line argument is wrong (unknown id, unreachable --length...)."""

    exit_code = EXIT_USAGE


class OutputExists(UsageError):
    """A file a person asked us to write already exists and ``--force`` was not given.

    The words are the same in every command (``new``, ``render -o``,
    ``render --captions``); the rule is in :mod:`voiceguide.sinks.overwrite`.
    """

    def __init__(self, path):
        self.path = path
        super().__init__(f"{path} already exists; choose another name, or add --force to overwrite it")


class NotFoundError(UsageError):
    """No exercise with that id or path."""


class EngineError(VoiceguideError):
    """The speech engine is missing, failed or hung."""

    exit_code = EXIT_RUNTIME


class CacheError(VoiceguideError):
    """A cache folder cannot be used (unwritable, full, not a folder); the message names it."""

    exit_code = EXIT_RUNTIME


class DeviceError(VoiceguideError):
    """No usable audio output device, or it was lost."""

    exit_code = EXIT_RUNTIME


class Interrupted(VoiceguideError):
    """The session was stopped by a signal; carries the exit code to use."""

    def __init__(self, message: str = "stopped", exit_code: int = EXIT_INTERRUPTED):
        super().__init__(message)
        self.exit_code = exit_code


def did_you_mean(word: str, choices: Iterable[str]) -> Optional[str]:
    """Return ``' (did you mean "x"?)'`` for the closest choice, or ``''``."""
    import difflib

    match = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{match[0]}"?)' if match else ""
