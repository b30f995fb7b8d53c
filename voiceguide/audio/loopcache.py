"""An on-disk cache of ambient loops, so a warm start costs a file map, not a synthesis.

A drone or a noise bed takes tens of milliseconds and tens of megabytes to
build (ten times that on a Raspberry Pi Zero 2 W), every time a session
starts. The loops depend only on their parameters, so they are kept as files
in the user's cache folder and memory-mapped: pages are shared by several
players and stay in the page cache between sessions.

Every entry is untrusted: anything can be left in a cache folder (a crash,
a full disk, another program, a person). So an entry is used only when

* it is a **regular file** -- a FIFO, a device, a directory or a symlink in
  its place is never opened for reading in a way that could block (the file
  is opened with ``O_NONBLOCK | O_NOFOLLOW`` and checked with ``fstat``);
* its **header** is ours: magic, :data:`VERSION`, the digest of its own key
  (an entry copied over another name is not taken for it), a sample count
  that matches the file size and stays under :data:`MAX_SAMPLES`;
* its **CRC-32** matches the samples (random or zeroed pages, a truncated
  write), and every sample is a finite number (a NaN loop with a valid header
  and checksum would otherwise play at full scale).

Anything else is built again, with one warning line naming the entry and
what was wrong (a missing entry is a normal cold start: no warning). When the
entry cannot be replaced (a directory in its place, a read-only cache), the
loop is still played; only speed is lost.

Writes are atomic (temporary file + ``os.replace``). Bump :data:`VERSION`
when a generator changes its sound or the format changes.

Trap: the CRC is computed at every load (about 3 ms for a 30 s drone here,
ten times that on a Pi Zero 2 W). It is the price of never playing a damaged
loop; a cheaper check (NaN only) lets random samples through.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import stat
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from voiceguide.atomic import atomic_file
from voiceguide.cacheentry import HEADER_SIZE, MAX_SAMPLES, OPEN_FLAGS, EntryFormat


def warn(message: str) -> None:
    """One warning line, through logging (``voiceguide.audio``): on stderr from the
    command line (Python's last-resort handler), in the station's log there.

    Imports :mod:`logging` only when there is something to say: a warm start
    should not pay for it.
    """
    import logging

    logging.getLogger("voiceguide.audio").warning(message)

#: Format and content version; part of every key, and of every header.
VERSION = 3
SUFFIX = ".loop"
MAGIC = b"VGLOOP\x00\x00"
#: Temporary files (ours, in the cache folder) older than this are left-overs
#: of a process that was killed while writing; they are removed.
STALE_SECONDS = 3600.0

_DTYPE = np.dtype("<f4")


class BadEntry(Exception):
    """A cache entry that must not be used; the message says why (for the warning)."""


#: The header (its key is a 16-byte digest, :func:`_digest`) and the checks, shared with the
#: speech cache (:mod:`voiceguide.cacheentry`; HEADER_SIZE and MAX_SAMPLES are its own).
FORMAT = EntryFormat(MAGIC, VERSION, 16, BadEntry, what="loop", other="sound",
                     folder="is a folder, not a regular file (remove it)")


def cache_dir() -> Path:
    from voiceguide.paths import loop_cache_dir

    return loop_cache_dir()


def entry_path(key: str, folder: Optional[Path] = None) -> Path:
    """Where the loop for *key* is kept."""
    return (folder or cache_dir()) / f"{_digest(key).hex()}{SUFFIX}"


def cached_loop(key: str, make: Callable[[], np.ndarray], folder: Optional[Path] = None) -> np.ndarray:
    """The loop for *key*, from the cache or made by *make()* and stored (float32, read-only)."""
    folder = folder or cache_dir()
    digest = _digest(key)
    path = folder / f"{digest.hex()}{SUFFIX}"
    from voiceguide.ownfiles import PlantedLink, refuse_link

    try:
        refuse_link(folder, "folder")
    except PlantedLink as exc:  # nothing is read from (or written to) where the link points
        _warn_once(exc)
        return np.ascontiguousarray(make(), dtype=np.float32)
    except OSError:
        pass
    try:
        return load(path, digest)
    except FileNotFoundError:
        pass
    except BadEntry as exc:
        warn(f"voiceguide: warning: the ambient sound cache entry {path} {exc}; it is made again")
    except OSError as exc:  # unreadable: permissions, I/O error, a symlink loop...
        warn(f"voiceguide: warning: the ambient sound cache entry {path} cannot be read "
             f"({exc.strerror or exc}); it is made again")
    loop = np.ascontiguousarray(make(), dtype=np.float32)
    store(path, digest, loop)
    return loop


def load(path: Path, digest: bytes) -> np.ndarray:
    """The samples of a valid entry, memory-mapped and read-only.

    Raises FileNotFoundError when there is no entry, :class:`BadEntry` when
    there is one that must not be used, OSError when it cannot be read.
    """
    try:
        fd = os.open(path, OPEN_FLAGS)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        if os.path.islink(path):
            raise BadEntry("is a symbolic link, not a regular file") from None
        if os.path.isdir(path):
            raise BadEntry("is a folder, not a regular file (remove it)") from None
        raise
    try:
        count, crc = FORMAT.check_file(fd, os.fstat(fd), digest)
        mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    finally:
        os.close(fd)  # the map keeps its own reference to the file
    payload = memoryview(mapped)[HEADER_SIZE:]
    try:
        FORMAT.check_crc(payload, crc)
    finally:
        payload.release()
    loop = np.frombuffer(mapped, dtype=_DTYPE, count=count, offset=HEADER_SIZE)
    # NaN propagates through min and max, and an infinity is one of them: two
    # fast passes, and no temporary array the size of the loop.
    if not (np.isfinite(loop.min()) and np.isfinite(loop.max())):
        raise BadEntry("holds samples that are not numbers")
    return loop


def store(path: Path, digest: bytes, loop: np.ndarray) -> None:
    """Write *loop* as the entry at *path*, atomically; a failure only costs speed next time."""
    data = np.ascontiguousarray(loop, dtype=_DTYPE)
    if data.ndim != 1 or not 0 < data.size <= MAX_SAMPLES:
        return
    header = FORMAT.pack(digest, data.data.cast("B"))  # the array's own memoryview
    from voiceguide.ownfiles import PlantedLink, own_folder

    try:
        own_folder(path.parent, mode=0o777)  # ours: a link in its place is never written through
        _remove_stale(path.parent)
        with atomic_file(path) as handle:
            handle.write(header)
            handle.write(data.data.cast("B"))
    except PlantedLink as exc:
        _warn_once(exc)
    except OSError:
        pass  # a read-only cache, a folder in the entry's place, a full disk: only speed is lost


#: The links already warned about (:func:`_warn_once`).
_WARNED: set = set()


def _warn_once(exc: OSError) -> None:
    """One warning a process for a link in the cache folder's place, not one a loop."""
    if str(exc) not in _WARNED:
        _WARNED.add(str(exc))
        warn(f"voiceguide: warning: {exc}; ambient sounds are made each time meanwhile")


def _digest(key: str) -> bytes:
    return hashlib.sha256(f"v{VERSION}|{key}".encode()).digest()[:16]


def _remove_stale(folder: Path) -> None:
    """Remove temporary files of ours older than :data:`STALE_SECONDS`, and entries of older formats."""
    now = time.time()
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        old_format = name.endswith(".npy")  # format 2 and before
        temporary = name.startswith(".") and name.endswith(".tmp")
        if not (old_format or temporary):
            continue
        try:
            info = os.lstat(folder / name)
            if stat.S_ISREG(info.st_mode) and (old_format or now - info.st_mtime > STALE_SECONDS):
                os.unlink(folder / name)
        except OSError:
            pass
