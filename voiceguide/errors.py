"""Exception types. The command line turns each into a one-line message.

Every error a user can cause is a :class:`VoiceguideError` subclass carrying an
exit code, so the Click layer never needs to guess. Anything else that escapes
is a bug and is shown as one, with a hint to rerun with ``--debug``.
"""

from __future__ import annotations

import os
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


class ScheduleError(UsageError):
    """A schedule or a unit cannot be written as asked (bad time, days, name, a unit that is not ours...)."""


class NotFoundError(UsageError):
    """No exercise with that id or path."""


class EngineError(VoiceguideError):
    """The speech engine is missing, failed or hung."""

    exit_code = EXIT_RUNTIME


class UnknownVoice(EngineError):
    """No installed voice has the name asked for (an option, the config, the environment or a script).

    A usage error, not an engine failure: the message names the voice and
    ``voiceguide voices``; :class:`~voiceguide.player.session.Session` adds
    where the name came from.
    """

    exit_code = EXIT_USAGE


class CacheError(VoiceguideError):
    """A cache folder cannot be used (unwritable, full, not a folder); the message names it."""

    exit_code = EXIT_RUNTIME


class DeviceError(VoiceguideError):
    """No usable audio output device, or it was lost."""

    exit_code = EXIT_RUNTIME


class FileAccessError(VoiceguideError):
    """A file or folder cannot be read or written for a reason a person can fix.

    Permissions, a full disk, a read-only file system, a loop of symbolic
    links: none of them is a bug, and each message names the path the person
    knows (the ``-o`` they gave, their scripts folder), never a hidden
    temporary file, and says what to do. Made by :func:`file_error`.
    """

    exit_code = EXIT_RUNTIME

    def __init__(self, message: str, path=None, errno_: Optional[int] = None):
        super().__init__(message)
        self.path = path
        self.errno = errno_


class DiskFullError(FileAccessError):
    """No space left (or the quota used up) while writing *path*."""


class OutputStreamError(VoiceguideError):
    """Standard output cannot be written (``voiceguide list > /dev/full``); a closed pipe is not this."""

    exit_code = EXIT_RUNTIME


def file_error(path, exc: OSError, doing: str = "write it", *,
               elsewhere: str = "or choose another place", writing: Optional[bool] = None) -> FileAccessError:
    """The :class:`FileAccessError` for *exc*, raised while *doing* something with *path*.

    *path* is what the person gave or knows (not a temporary file beside
    it); *doing* completes "cannot ..." (``"write it"``, ``"read it"``,
    ``"look in it"``). For a permission problem the folder or file that
    lacks the permission is found and named with the ``chmod`` that fixes
    it (*writing* says whether *path* was to be written or created; by
    default *doing* tells: "write ...", "create ...", "save ..."). *elsewhere* ends the advice; give ``""``
    where there is no other place to choose (the config folder, the scripts folder).

    Trap: the culprit is found with :func:`os.access`, which answers for
    the real user id; voiceguide is not setuid, so that is the user.
    """
    import errno as E

    code = exc.errno
    why = exc.strerror or str(exc)
    other = f", {elsewhere}" if elsewhere else ""
    link = getattr(exc, "link", None)  # voiceguide.ownfiles.PlantedLink (layer 0: no import)
    reason = getattr(exc, "reason", None)
    if link is not None and isinstance(reason, str):
        same = os.path.abspath(os.fspath(link)) == os.path.abspath(os.fspath(path))
        return FileAccessError(reason if same else f"{path}: cannot {doing}: {reason}", path, code)
    kind = getattr(exc, "kind", None)  # voiceguide.readfile.NotRegularFile: a FIFO, a device, a folder
    if code is None and isinstance(kind, str):
        return FileAccessError(f"{path}: cannot {doing}: it is {kind}, not a regular file; check the path",
                               path, code)
    if code in (E.ENOSPC, E.EDQUOT):
        what = "the disk is full" if code == E.ENOSPC else "your disk quota is used up"
        return DiskFullError(f"{path}: cannot {doing}: {what} ({why}); free some space{other}",
                             path, code)
    if code in (E.EACCES, E.EPERM):
        if writing is None and doing.startswith(("write", "create", "save")):
            writing = True
        elif writing is None and doing.startswith(("read", "look")):
            writing = False
        if writing is None:  # not told: a missing file was being made, an existing one read
            first = not os.path.lexists(path)
            culprit, bits = _lacks_permission(path, first)
            if culprit is None:
                culprit, bits = _lacks_permission(path, not first)
        else:
            culprit, bits = _lacks_permission(path, writing)
        if culprit is not None:
            kind = "folder" if os.path.isdir(culprit) else "file"
            return FileAccessError(f"{path}: cannot {doing}: permission denied on the {kind} {culprit}; "
                                   f"allow it with `chmod u+{bits} {culprit}`{other}", path, code)
        return FileAccessError(f"{path}: cannot {doing}: permission denied; check who owns it and its "
                               f"permissions (`ls -ld {path}`){other}", path, code)
    if code == E.EROFS:
        return FileAccessError(f"{path}: cannot {doing}: the file system is read-only; "
                               f"{elsewhere or 'make it writable'}", path, code)
    if code == E.ELOOP:
        link = _looping_link(path)
        return FileAccessError(f"{path}: cannot {doing}: the symbolic link {link} goes round in a loop; "
                               f"remove it (`rm {link}`) or point it at a real folder", path, code)
    if code == E.EFBIG:
        return FileAccessError(f"{path}: cannot {doing}: the file grew past the largest size this system or "
                               f"your limits allow (`ulimit -f`); write a shorter session or somewhere else",
                               path, code)
    if code == E.ENOTDIR:
        return FileAccessError(f"{path}: cannot {doing}: a part of the path is a file, not a folder; "
                               f"check the path", path, code)
    if code == E.EIO:
        return FileAccessError(f"{path}: cannot {doing}: the disk reported an input/output error; check the "
                               f"disk or choose another place", path, code)
    return FileAccessError(f"{path}: cannot {doing}: {why}; check the path", path, code)


def _lacks_permission(path, writing: bool):
    """(the file or folder on the way to *path* that lacks a permission, the chmod bits), or (None, "")."""
    p = os.path.abspath(os.fspath(path))
    chain = []  # the folders above p, from / down
    head = os.path.dirname(p)
    while True:
        chain.append(head)
        up = os.path.dirname(head)
        if up == head:
            break
        head = up
    chain.reverse()
    nearest = next((f for f in reversed(chain) if os.path.isdir(f)), os.sep)  # where a new name is made
    for folder in chain:
        if os.path.isdir(folder) and not os.access(folder, os.X_OK):
            return folder, ("rwx" if writing and folder == nearest else "x")
    if os.path.isdir(p):
        if writing and not os.access(p, os.W_OK | os.X_OK):
            return p, "rwx"
        if not os.access(p, os.R_OK | os.X_OK):
            return p, "rx"
        return None, ""
    if os.path.lexists(p):
        if not os.access(p, os.W_OK if writing else os.R_OK):
            return p, "w" if writing else "r"
        if not writing:
            return None, ""
    if writing and not os.access(nearest, os.W_OK | os.X_OK):
        return nearest, "rwx"
    return None, ""


def _looping_link(path) -> str:
    """The first symbolic link on the way to *path* that cannot be followed (or *path* itself)."""
    p = os.path.abspath(os.fspath(path))
    head = os.sep
    for part in p.split(os.sep)[1:]:
        head = os.path.join(head, part)
        if os.path.islink(head):
            try:
                os.stat(head)
            except OSError:
                return head
    return p


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
