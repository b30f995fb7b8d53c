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
are, for the caller to word.
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


def read_regular(path: Union[str, Path], limit: int, head: bool = False) -> bytes:
    """The bytes of the regular file at *path*, at most *limit* of them.

    Raises :class:`NotRegularFile`, :class:`TooBig` (unless *head*: then
    the first *limit* bytes of a larger file are returned), or the
    :class:`OSError` of opening or reading (FileNotFoundError,
    PermissionError, ...).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise NotRegularFile(path, "a folder") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(path, kind_of(info.st_mode))
        if info.st_size > limit and not head:
            raise TooBig(path, info.st_size, limit)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
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
    finally:
        os.close(fd)
