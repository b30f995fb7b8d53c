"""Atomic file writes: a reader sees the old file or the whole new one, never half.

Write into a temporary file in the target's own folder (so the final
``os.replace`` is a rename on one file system), then replace the target; on
any failure the temporary file is removed and the target is left as it was.

Trap: ``mkstemp`` makes the temporary file 0600, and the rename keeps that
mode. Right for caches and the practice log (private by design); wrong for
a file a person asked for (a rendered session, captions, a new script),
which gets the usual mode, 0666 less the umask: pass ``public=True``
(or call :func:`usual_mode` for files written another way).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Optional


def umask() -> int:
    """The process's umask, read without changing it where the system allows.

    Linux shows it in /proc; elsewhere it is read by setting it (and setting
    it straight back), which another thread could notice for a moment.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def usual_mode() -> int:
    """The mode a new file a person asked for gets: 0666 less the umask (0644 usually)."""
    return 0o666 & ~umask()


def make_folder(folder: Path, mode: int = 0o777) -> None:
    """``mkdir -p`` that says what is in the way instead of "File exists".

    A file where the folder should be raises :class:`NotADirectoryError`; a
    symbolic link that loops or leads nowhere raises the error of following
    it (ELOOP, ENOENT), each naming *folder*.
    """
    import errno

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=mode)
    except FileExistsError:
        os.stat(folder)  # a loop of links or a dangling one raises here, with the folder's name
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder)) from None


def place(temp: Path, path: Path, replace: bool = True) -> None:
    """Move the finished *temp* to *path*; without *replace*, never over an existing file.

    Without *replace* the file is hard-linked into place, which fails if the
    name is taken (even if it was taken a moment ago, after every check):
    :class:`FileExistsError`. Where hard links are not supported (some FAT
    or network file systems) it falls back to a check and a rename, which a
    file created in between could still lose to. *temp* is gone afterwards
    unless an error was raised.
    """
    import errno

    if replace:
        os.replace(temp, path)
        return
    try:
        os.link(temp, path)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path)) from None
        os.rename(temp, path)
        return
    os.unlink(temp)


@contextmanager
def atomic_file(path: Path, mode: str = "wb", temp: Optional[Path] = None, public: bool = False,
                replace: bool = True, **open_args) -> Iterator[IO]:
    """Open a temporary file for writing; it replaces *path* when the block ends cleanly.

    *temp* names the temporary file (it must be in *path*'s folder); by
    default a fresh hidden name is made there (mode 0600). With
    *public* the finished file gets 0666 less the umask instead: for
    files a person asked for, not caches. Without *replace* an existing
    *path* is kept and :class:`FileExistsError` raised (see :func:`place`).
    """
    path = Path(path)
    try:
        if temp is None:
            fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
            handle = os.fdopen(fd, mode, **open_args)
            temp = Path(name)
        else:
            handle = open(temp, mode, **open_args)
    except OSError as exc:  # making the temporary file is writing the target, as the person sees it
        if exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with handle:
            yield handle
        if public:
            os.chmod(temp, usual_mode())
        place(temp, path, replace)
    except BaseException as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, FileExistsError):
            raise _as_target(exc, path, temp) from None
        raise


def _as_target(exc: OSError, path: Path, temp: Optional[Path]) -> OSError:
    """*exc* naming *path* where it named the temporary file (or nothing): what the person knows.

    A full disk or a folder that cannot be written is reported as a failure
    to write ``config.toml``, not ``.config.toml.k2j4x9.tmp``. An error about
    another file (raised by the caller's own code) is left as it is.
    """
    if exc.errno is None or exc.filename not in (None, str(temp), str(path.parent)):
        return exc
    return OSError(exc.errno, exc.strerror, str(path))
