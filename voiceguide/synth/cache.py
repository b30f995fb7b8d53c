"""The on-disk clip cache: one ``.npy`` file of float32 mono samples per clip.

Entries are written atomically (a temporary file in the same directory, then
``os.replace``), so a reader sees either no entry or a whole one, even with
several processes sharing the directory. There is no fsync: a power cut can
at worst leave a truncated entry, which :func:`entry_length` and
:func:`load_entry` detect (header, dtype, shape and file size are checked)
and the caller then deletes and synthesises again.

Temporary files are named ``.tmp-<pid>-...`` so that the files of a worker
that was killed mid-write can be removed by pid (:func:`remove_temp_files`).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Optional

import numpy as np

from ..atomic import atomic_file

SUFFIX = ".npy"
_DTYPE = np.dtype("<f4")


def entry_path(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / (key + SUFFIX)


def temp_path(directory: Path, suffix: str) -> Path:
    """A fresh temporary name in ``directory`` marked with this process id."""
    return Path(directory) / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:12]}{suffix}"


def remove_temp_files(directory: Path, pid: int) -> None:
    """Remove what a (dead) process ``pid`` left half-written in ``directory``."""
    try:
        for p in Path(directory).glob(f".tmp-{pid}-*"):
            try:
                p.unlink()
            except OSError:
                pass
    except OSError:
        pass


def _header(f) -> Optional[tuple]:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        return None
    if dtype != _DTYPE or len(shape) != 1 or shape[0] <= 0:
        return None
    return shape[0], f.tell()


def _checked_header(f) -> Optional[int]:
    """The sample count of the open entry *f*, if its header and size agree."""
    h = _header(f)
    if h is None:
        return None
    n, offset = h
    if os.fstat(f.fileno()).st_size != offset + n * _DTYPE.itemsize:
        return None
    return int(n)


def entry_length(path: Path) -> Optional[int]:
    """Samples in a valid entry, or None (missing or invalid). Reads the header only."""
    try:
        with open(path, "rb") as f:
            return _checked_header(f)
    except (OSError, ValueError, EOFError):
        return None


def load_entry(path: Path) -> Optional[np.ndarray]:
    """The entry's samples (float32, read-only), or None if missing or invalid.

    A plain read, not a memory map: every memory map keeps a file descriptor
    open, and a long session holds hundreds of clips.
    """
    try:
        with open(path, "rb") as f:
            n = _checked_header(f)
            if n is None:
                return None
            data = np.fromfile(f, dtype=_DTYPE, count=n)
    except (OSError, ValueError, EOFError):
        return None
    if data.size != n or not np.all(np.isfinite(data)):
        return None
    data = data.astype(np.float32, copy=False)
    data.flags.writeable = False
    return data


def discard(path: Path) -> None:
    """Delete an invalid entry (ignoring a race with another deleter)."""
    try:
        os.unlink(path)
    except OSError:
        pass


def write_entry(path: Path, samples: np.ndarray) -> None:
    """Write ``samples`` as float32 ``.npy`` at ``path``, atomically."""
    path = Path(path)
    data = np.ascontiguousarray(samples, dtype=_DTYPE)
    if data.ndim != 1 or data.size == 0:
        raise ValueError("a cache entry holds a non-empty 1-D array")
    with atomic_file(path, temp=temp_path(path.parent, SUFFIX)) as f:
        np.lib.format.write_array(f, data, allow_pickle=False)
