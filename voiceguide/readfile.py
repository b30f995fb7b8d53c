"""Read a small file a person controls, bounded: a regular file only, never blocking, never huge.

A settings file or a script is named by a path anyone can point anywhere:
at a FIFO (``open`` would wait for a writer forever), at ``/dev/zero`` (a
plain ``read()`` would fill the memory), at a file of gigabytes. The
config reader and the script loader both read through :func:`read_regular`:

* the file is opened with ``O_NONBLOCK`` (a FIFO opens at once instead of
  waiting) and then checked with ``fstat`` on the open descriptor, so what
  is read is what was checked -- no window in which the path is swapped
  for something else between a ``stat`` and the ``open``;
* only a regular file is read (:class:`NotRegularFile` otherwise);
* at most *limit* + 1 bytes are read, so a file that grows past the limit
  while it is read is refused too (:class:`TooBig`).

Other operating-system errors (missing, no permission) are raised as they
are, for the caller to word. :func:`open_regular` and :func:`check_regular`
make the same checks for a large file read by someone else (a voice model,
a piece of music), and :func:`describe` words any of these errors the
same way wherever a file is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Union


class NotRegularFile(OSError):
    """The path is a FIFO, a device, a socket or a folder: *kind* says which."""

    def __init__(self, path: Union[str, Path], kind: str):
        super().__init__(f"{path} is {kind}, not a regular file")
        self.filename = str(path)
        self.kind = kind


class TooBig(OSError):
    """The file holds more than *limit* bytes (*size* is at least limit + 1)."""

    def __init__(self, path: Union[str, Path], size: int, limit: int):
        super().__init__(f"{path} is larger than {limit} bytes")
        self.filename = str(path)
        self.size = size
        self.limit = limit


def kind_of(mode: int) -> str:
    """A person's word for what a non-regular file is."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: Union[str, Path]) -> int:
    """A blocking descriptor open for reading on the regular file at *path* (the caller closes it).

    For a file too large to read into memory (a voice model, a piece of
    music) that is handed on to a library reading it by itself: the library
    gets this descriptor (``os.fdopen``) or, at worst, the path once this
    said it is a regular file. The path is ``stat``-ed first so that a
    device is never opened at all (opening some devices does something: a
    watchdog starts, a tape rewinds), then opened with ``O_NONBLOCK`` (a
    FIFO swapped in meanwhile opens at once instead of waiting for a
    writer) and checked again with ``fstat`` on the open descriptor.

    Raises :class:`NotRegularFile` or the :class:`OSError` of ``stat`` or
    ``open`` (FileNotFoundError for a missing file or a dangling link,
    PermissionError, ...).
    """
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise NotRegularFile(path, kind_of(info.st_mode))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise NotRegularFile(path, "a folder") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(path, kind_of(info.st_mode))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_regular(path: Union[str, Path]) -> os.stat_result:
    """The ``stat`` of *path* once it is known to be a regular file (see :func:`open_regular`).

    For a library that only takes a path (onnxruntime's model): there is a
    moment between this check and its own ``open``, which a person who can
    write into that folder could use to put a FIFO there; what they would
    hang is their own process.
    """
    fd = open_regular(path)
    try:
        return os.fstat(fd)
    finally:
        os.close(fd)


def read_regular(path: Union[str, Path], limit: int, head: bool = False) -> bytes:
    """The bytes of the regular file at *path*, at most *limit* of them.

    Raises :class:`NotRegularFile`, :class:`TooBig` (unless *head*: then
    the first *limit* bytes of a larger file are returned), or the
    :class:`OSError` of opening or reading (FileNotFoundError,
    PermissionError, ...).
    """
    fd = open_regular(path)
    try:
        return read_fd(fd, path, limit, head)
    finally:
        os.close(fd)


def read_fd(fd: int, path: Union[str, Path], limit: int, head: bool = False) -> bytes:
    """The bytes of the open, checked file *fd* (named *path* in errors), at most *limit* of them.

    The one bounded read behind :func:`read_regular` and
    :func:`voiceguide.ownfiles.read_own`. It reads one byte more than
    allowed, so a file that grows past *limit* while it is read is refused
    too (:class:`TooBig`), unless *head*: then its first *limit* bytes are
    returned. The caller opens and closes *fd*.
    """
    size = os.fstat(fd).st_size
    if size > limit and not head:
        raise TooBig(path, size, limit)
    chunks = []
    left = limit + 1
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    data = b"".join(chunks)
    if len(data) > limit:
        if head:
            return data[:limit]
        raise TooBig(path, len(data), limit)
    return data


def describe(path: Union[str, Path], exc: OSError) -> str:
    """What is wrong with the file at *path*, as the end of a sentence that starts with its name.

    ``f"{path} {describe(path, exc)}"`` reads "x is a named pipe (FIFO)",
    "x is a symbolic link to a missing file", "x does not exist": the one
    wording for every file read through this module, so that a FIFO is
    never reported as "no such file" and a dangling link never as missing
    when the link is right there.
    """
    import errno

    if isinstance(exc, NotRegularFile):
        return f"is {exc.kind}"
    if isinstance(exc, TooBig):
        return f"is larger than {exc.limit} bytes"
    if isinstance(exc, FileNotFoundError):
        return "is a symbolic link to a missing file" if os.path.islink(path) else "does not exist"
    if exc.errno == errno.ELOOP:
        return "is a symbolic link that goes round in a loop"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot be read (permission denied)"
    if exc.errno == errno.ENOTDIR:
        return "cannot be read (a part of its path is a file, not a folder)"
    return f"cannot be read ({exc.strerror or exc})"
