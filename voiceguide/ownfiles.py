"""The files and folders voiceguide keeps, opened the one way that never follows a planted link.

voiceguide keeps files of its own: the practice log and its recordings, the
speech and loop caches, the station's token and state. A symbolic link put
where one of them belongs (by a careless ``ln -s``, a restored backup, or
someone who can write the folder) must never make voiceguide read, write,
``chmod`` or delete the file it points at: run as root, a link to
``/etc/passwd`` would otherwise turn it into a private, empty database. So
everything here:

* opens the last component with ``O_NOFOLLOW`` (and ``O_NONBLOCK``, so a
  FIFO put there opens at once and is refused instead of hanging), and
  checks what was opened with ``fstat`` on the descriptor;
* checks voiceguide's own folders with ``lstat`` (a folder that is a link
  is refused) and deletes inside them relative to a descriptor of the
  folder opened with ``O_DIRECTORY | O_NOFOLLOW``, so the folder cannot be
  swapped for a link between the check and the deletion;
* ``chmod``-s only a regular file this user owns, with a single name.

A link is refused with :class:`PlantedLink`, an :class:`OSError` whose
message names the link and says what to do; :func:`voiceguide.errors.file_error`
words it as one line. The folders *above* voiceguide's own (``~/.local/share``,
a home on another disk) may be links: that is the person's choice, not a
planted file.

A foundation module: it imports only :mod:`voiceguide.readfile` (its word
for a FIFO or a device), so every layer can use it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Optional, Union

from voiceguide.readfile import NotRegularFile, kind_of, read_fd

PathLike = Union[str, Path]

#: Never follow the last component; never wait on a FIFO; never leak into a child.
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_SAFE = NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class PlantedLink(OSError):
    """A symbolic link where voiceguide keeps a file or folder of its own; nothing went through it.

    ``reason`` is the part of the message after the path (for
    :func:`voiceguide.errors.file_error`, which puts the path a person
    knows first).
    """

    def __init__(self, path: PathLike, what: str = "file"):
        path = str(path)
        try:
            target = os.readlink(path)
        except OSError:
            target = None
        pointing = f" (to {target})" if target else ""
        self.reason = (f"{path} is a symbolic link{pointing}, not a {what} of voiceguide's own; voiceguide "
                       f"never reads, writes or deletes through one: remove the link (`rm {path}`)")
        super().__init__(errno.ELOOP, self.reason, path)
        self.link = path

    def __str__(self) -> str:
        return self.reason


def refuse_link(path: PathLike, what: str = "file") -> Optional[os.stat_result]:
    """``lstat`` of *path*, or None when nothing is there; :class:`PlantedLink` when it is a link."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        raise PlantedLink(path, what)
    return info


def own_folder(folder: PathLike, create: bool = True, mode: int = 0o700) -> bool:
    """Check (with *create*, make) voiceguide's own *folder*: a real folder, never a link.

    Missing parents are made as ``mkdir -p`` would (they may be links: they
    are the person's); *folder* itself gets *mode* when made. Returns
    whether the folder is there now. Raises :class:`PlantedLink`,
    :class:`NotADirectoryError` (a file in its place) or the error of making it.
    """
    folder = Path(folder)
    info = refuse_link(folder, "folder")
    if info is None:
        if not create:
            return False
        os.makedirs(folder.parent, exist_ok=True)
        try:
            os.mkdir(folder, mode)
            return True
        except FileExistsError:  # made by another process a moment ago: check what it is
            info = refuse_link(folder, "folder")
            if info is None:
                raise
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, f"{folder} is {kind_of(info.st_mode)}, not a folder; "
                                 f"move it away and voiceguide makes the folder", str(folder))
    return True


def open_folder(folder: PathLike, *, dir_fd: Optional[int] = None) -> int:
    """A descriptor of voiceguide's own *folder* (relative to *dir_fd* if given), opened without
    following a link (close it)."""
    try:
        return os.open(folder, _FOLDER, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and dir_fd is None:
            refuse_link(folder, "folder")
        raise


def remove_folder(name: str, dir_fd: int) -> None:
    """Remove voiceguide's own flat folder *name* in the folder open as *dir_fd*, and the files in it.

    Never through a link: the folder is opened without following one, and a
    link inside is removed, not followed. Raises :class:`OSError` when the
    folder stays (a folder inside it, say).
    """
    fd = open_folder(name, dir_fd=dir_fd)
    try:
        with os.scandir(fd) as entries:
            names = [e.name for e in entries if not e.is_dir(follow_symlinks=False)]
        for inner in names:
            try:
                os.unlink(inner, dir_fd=fd)
            except FileNotFoundError:
                pass
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def folder_bytes(name: str, dir_fd: int) -> int:
    """Bytes of the regular files in voiceguide's own folder *name* in *dir_fd*; 0 if it cannot be read."""
    try:
        fd = open_folder(name, dir_fd=dir_fd)
    except OSError:
        return 0
    try:
        with os.scandir(fd) as entries:
            return sum(e.stat(follow_symlinks=False).st_size for e in entries if e.is_file(follow_symlinks=False))
    except OSError:
        return 0
    finally:
        os.close(fd)


def open_own(path: PathLike, flags: int = os.O_RDONLY, mode: int = 0o600, *,
             dir_fd: Optional[int] = None, what: str = "file") -> int:
    """Open voiceguide's own file at *path* without following a link; the descriptor (close it).

    *flags* as for :func:`os.open` (``O_CREAT`` makes a missing file with
    *mode*; a link, even one to a missing path, is never followed).
    Blocking is switched back on after the open. Raises
    :class:`PlantedLink`, :class:`~voiceguide.readfile.NotRegularFile` (a
    FIFO, a device, a folder: its message says which) or the open's error.
    """
    try:
        fd = os.open(path, flags | _SAFE, mode, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK, errno.EEXIST, errno.EISDIR, errno.ENXIO):
            try:
                info = os.lstat(path, dir_fd=dir_fd)
            except OSError:
                raise exc from None
            if stat.S_ISLNK(info.st_mode):
                raise PlantedLink(path, what) from None
            if not stat.S_ISREG(info.st_mode):
                raise NotRegularFile(path, kind_of(info.st_mode)) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(path, kind_of(info.st_mode))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_own(path: PathLike, limit: int, what: str = "file") -> bytes:
    """The bytes of voiceguide's own small file (at most *limit*), never through a link.

    As :func:`voiceguide.readfile.read_regular`, plus :class:`PlantedLink`.
    """
    fd = open_own(path, os.O_RDONLY, what=what)
    try:
        return read_fd(fd, path, limit)
    finally:
        os.close(fd)


def tighten(fd: int, mode: int = 0o600) -> bool:
    """Make the open file *fd* private (*mode*) if it is a regular file of this user's with one name.

    Never anything else: a file with a second name (a hard link planted in
    voiceguide's folder) or another user's file keeps its mode. Returns
    whether the mode was changed.
    """
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_uid != os.geteuid():
        return False
    if stat.S_IMODE(info.st_mode) & ~mode & 0o777 == 0:
        return False
    os.fchmod(fd, stat.S_IMODE(info.st_mode) & mode)
    return True


def same_file(fd: int, path: PathLike) -> bool:
    """Whether *path* (not followed) still names the file open as *fd*."""
    try:
        here = os.lstat(path)
    except OSError:
        return False
    there = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def remove_files(folder: PathLike, keep=lambda name: False) -> int:
    """Delete the regular files in voiceguide's own *folder* (none inside a link); how many.

    The folder is opened without following a link and every name is
    removed relative to that descriptor, so a link put in place of the
    folder, or of a file in it, never leads a deletion elsewhere (a link
    inside is left alone). Names for which *keep* is true stay. A missing
    folder holds nothing.
    """
    try:
        fd = open_folder(folder)
    except FileNotFoundError:
        return 0
    removed = 0
    try:
        with os.scandir(fd) as entries:
            names = [e.name for e in entries if e.is_file(follow_symlinks=False) and not keep(e.name)]
        for name in names:
            try:
                os.unlink(name, dir_fd=fd)
                removed += 1
            except FileNotFoundError:
                pass
    finally:
        os.close(fd)
    return removed


def count_files(folder: PathLike) -> int:
    """How many regular files voiceguide's own *folder* holds (0 when missing); never through a link."""
    try:
        fd = open_folder(folder)
    except FileNotFoundError:
        return 0
    try:
        with os.scandir(fd) as entries:
            return sum(1 for e in entries if e.is_file(follow_symlinks=False))
    finally:
        os.close(fd)
