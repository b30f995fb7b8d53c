"""The on-disk speech cache: one ``.clip`` file of float32 mono samples per clip.

Every entry is untrusted: a crash, a full disk, another program or a person
can leave anything in a cache folder. An entry is used only when

* it is a **regular file** -- a FIFO, a device, a folder or a symlink in its
  place is never opened in a way that could block (``O_NONBLOCK |
  O_NOFOLLOW``, then ``fstat``);
* its **header** is ours: magic, :data:`VERSION`, the key it was written for
  (an entry copied over another name is not taken for it), a sample count
  that matches the file size and stays under :data:`MAX_SAMPLES`;
* its **CRC-32** matches the samples, every sample is a finite number and
  none is louder than the worker ever writes (:data:`MAX_PEAK`): a damaged
  or foreign entry can never play as noise.

Anything else raises :class:`Damaged` (the synthesizer then makes the clip
again with one warning line; a missing entry is a normal cold start).

**Word timings** (format 2): after the samples, a trailer holds when each
word of the text starts and ends in the clip (:mod:`voiceguide.synth.words`),
made by the engine while it spoke, so captions never need the engine again.
Its length and CRC-32 are in the header. Format 1 entries (no trailer) still
load: their timings are estimated. The cache *key* did not change with
format 2 -- the samples of a key are what they were -- so a format 1 entry
is used as it is, never made again. A damaged trailer costs the timings
only (:meth:`OpenEntry.trailer` answers ``b""``), never the clip. An older
voiceguide that meets a format 2 entry takes it for damaged and makes it
again in format 1 (one warning line each).

**The first writer of a key wins.** A worker writes a complete entry into a
temporary file of its own, and :func:`place` *links* it to the entry's name
(``os.link`` fails when the name exists): an existing entry is never
replaced, so a clip another process has already read can never change
under it. Only an entry found damaged is removed (:func:`discard`), and only
if it is still the very file that was found damaged.

Temporary files are named ``.tmp-<pid>-...``: those of a worker killed
mid-write are removed by pid (:func:`remove_temp_files`), and any older than
:data:`STALE_SECONDS` by :mod:`voiceguide.synth.cachesize`.

Trap: a file whose name exists cannot be linked over, so a folder in an
entry's place that cannot be removed keeps that key uncached; the clip is
still spoken from the worker's temporary file (see
:meth:`voiceguide.synth.synthesizer.Synthesizer`).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import uuid
from pathlib import Path
from typing import Optional, Tuple

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

from ..atomic import place as atomic_place
from ..cacheentry import HEADER_SIZE, MAX_SAMPLES, EntryFormat
from ..cacheentry import ITEMSIZE as _ITEMSIZE, OPEN_FLAGS as _OPEN_FLAGS
from .spec import PEAK_DBFS

#: Entry format. Part of every header; bump it when the layout changes.
#: 2: a trailer of word timings after the samples (format 1 entries still read).
VERSION = 2
SUFFIX = ".clip"
MAGIC = b"VGSPEECH"
#: The worker normalises every clip to :data:`~voiceguide.synth.spec.PEAK_DBFS`
#: times a volume of at most 1: an entry louder than this is not one of ours.
MAX_PEAK = 10 ** (PEAK_DBFS / 20) * 1.01
#: Our temporary files older than this are left-overs of a killed process.
STALE_SECONDS = 3600.0
TEMP_PREFIX = ".tmp-"

#: Samples are little-endian float32; numpy is imported only where samples are read or written, so
#: checking an entry's header (``list``'s real lengths) needs none.
_DTYPE = "<f4"


class Damaged(Exception):
    """A cache entry that must not be used; the message says why (for the warning line).

    ``ident`` is the (device, inode) of the file found damaged, when known.
    """

    ident: Optional[Tuple[int, int]] = None


#: The header (its key is the SHA-256 digest, 32 bytes, :func:`_key_bytes`) and the checks, shared
#: with the ambient loop cache (:mod:`voiceguide.cacheentry`; HEADER_SIZE and MAX_SAMPLES are its own).
FORMAT = EntryFormat(MAGIC, VERSION, 32, Damaged, what="speech clip", other="clip",
                     folder="is a folder, not a file", trailer=True, older=(1,))


def entry_path(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / (key + SUFFIX)


def temp_path(directory: Path, suffix: str) -> Path:
    """A fresh temporary name in ``directory`` marked with this process id."""
    return Path(directory) / f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}{suffix}"


def remove_temp_files(directory: Path, pid: int) -> None:
    """Remove what a (dead) process ``pid`` left half-written in ``directory``."""
    try:
        for p in Path(directory).glob(f"{TEMP_PREFIX}{pid}-*"):
            try:
                if stat.S_ISREG(p.lstat().st_mode):
                    p.unlink()
            except OSError:
                pass
    except OSError:
        pass


def _key_bytes(key: str) -> bytes:
    try:
        raw = bytes.fromhex(key)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"a speech cache key is a SHA-256 hex digest, got {key!r}")
    return raw


class OpenEntry:
    """An open, checked entry: its file descriptor (pinning that very file) and sample count.

    The descriptor keeps the file's contents reachable even after its name
    is removed or replaced (by :mod:`~voiceguide.synth.cachesize` or another
    process): a session that took a clip's length from this entry reads the
    same samples from it later. Close it with :meth:`close`.
    """

    __slots__ = ("fd", "count", "crc", "path", "ident", "extra", "extra_crc", "_trailer")

    def __init__(self, fd: int, count: int, crc: int, path: Path, ident: Tuple[int, int],
                 extra: int = 0, extra_crc: int = 0):
        self.fd, self.count, self.crc, self.path, self.ident = fd, count, crc, path, ident
        self.extra, self.extra_crc = extra, extra_crc
        self._trailer: Optional[bytes] = None

    def trailer(self) -> bytes:
        """The bytes after the samples (word timings), read once; ``b""`` if none or damaged."""
        if self._trailer is None:
            raw = b""
            if self.extra and self.fd >= 0:
                try:
                    raw = os.pread(self.fd, self.extra, HEADER_SIZE + self.count * _ITEMSIZE)
                    FORMAT.check_crc(raw, self.extra_crc)
                    if len(raw) != self.extra:
                        raw = b""
                except (OSError, Damaged):
                    raw = b""
            self._trailer = raw
        return self._trailer

    def samples(self) -> np.ndarray:
        """Read and check the samples (float32, read-only); :class:`Damaged` if wrong."""
        import numpy as np

        nbytes = self.count * _ITEMSIZE
        raw = bytearray(nbytes)
        view = memoryview(raw)
        done = 0
        while done < nbytes:
            got = os.preadv(self.fd, [view[done:]], HEADER_SIZE + done) if hasattr(os, "preadv") else \
                _pread_into(self.fd, view[done:], HEADER_SIZE + done)
            if got <= 0:
                raise Damaged("is truncated")
            done += got
        FORMAT.check_crc(raw, self.crc)
        data = np.frombuffer(raw, dtype=_DTYPE).astype(np.float32, copy=False)
        if not np.isfinite(data).all():
            raise Damaged("holds samples that are not numbers")
        if float(np.max(np.abs(data))) > MAX_PEAK:
            raise Damaged("is louder than any clip voiceguide writes")
        data.flags.writeable = False
        self.trailer()  # read now: a pin may close the file and keep only what was read
        return data

    def touch(self) -> None:
        """Mark the entry as just used (its modification time orders least-recently-used eviction)."""
        try:
            os.utime(self.fd)
        except (OSError, NotImplementedError, TypeError):
            pass

    def close(self) -> None:
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1


def _pread_into(fd: int, view: memoryview, offset: int) -> int:
    chunk = os.pread(fd, len(view), offset)
    view[: len(chunk)] = chunk
    return len(chunk)


def open_entry(path: Path, key: str) -> OpenEntry:
    """Open and check the entry at *path* (header, type, size; not yet the samples).

    Raises FileNotFoundError when there is none, :class:`Damaged` when there
    is one that must not be used, OSError when it cannot be read.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        if exc.errno in (errno.ELOOP, errno.EMLINK) and os.path.islink(path):
            raise Damaged("is a symbolic link, not a regular file") from None
        if exc.errno in (errno.ENXIO, errno.EOPNOTSUPP):
            raise Damaged("is not a regular file (a socket or a device)") from None
        raise
    info = None
    try:
        info = os.fstat(fd)
        count, crc, extra, extra_crc = FORMAT.check_entry(fd, info, _key_bytes(key))
    except BaseException as exc:
        os.close(fd)
        if isinstance(exc, Damaged) and info is not None:
            exc.ident = (info.st_dev, info.st_ino)  # so that only this very file is discarded
        raise
    return OpenEntry(fd, count, crc, Path(path), (info.st_dev, info.st_ino), extra, extra_crc)


def entry_length(path: Path, key: str) -> Optional[int]:
    """Samples in the entry if its header and size are right, else None. Never blocks, never raises."""
    try:
        entry = open_entry(path, key)
    except (OSError, Damaged, ValueError):
        return None
    entry.close()
    return entry.count


def load_entry(path: Path, key: str) -> np.ndarray:
    """The entry's checked samples; FileNotFoundError, :class:`Damaged` or OSError otherwise."""
    entry = open_entry(path, key)
    try:
        return entry.samples()
    finally:
        entry.close()


def write_temp(directory: Path, key: str, samples: np.ndarray, trailer: bytes = b"") -> Path:
    """Write a complete entry for *key* (and its *trailer*: word timings) into a new temporary file; its path.

    The caller then :func:`place`\\ s it (or reads it and removes it). On any
    failure the temporary file is removed and the OSError raised.
    """
    import numpy as np

    data = np.ascontiguousarray(samples, dtype=_DTYPE)
    if data.ndim != 1 or not 0 < data.size <= MAX_SAMPLES:
        raise ValueError("a cache entry holds a non-empty 1-D array of at most MAX_SAMPLES samples")
    payload = data.data.cast("B")  # the array's own memoryview
    header = FORMAT.pack(_key_bytes(key), payload, trailer)
    path = temp_path(directory, SUFFIX)
    # 0600: what a person listens to is theirs (the texts can be read from the clips).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                 | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            f.write(payload)
            f.write(trailer)
    except BaseException:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
    return path


def place(temp: Path, path: Path) -> bool:
    """Give the entry in *temp* the name *path* unless that name exists; True if placed.

    ``os.link`` never replaces (:func:`voiceguide.atomic.place`): when two
    processes write the same key, the first one's entry stays and both read
    it. On a refusal *temp* stays (the caller may free the name of a damaged
    entry and try again); the caller removes it at the end either way.
    """
    try:
        atomic_place(temp, path, replace=False)
        return True
    except FileExistsError:
        return False


def discard(path: Path, ident: Optional[Tuple[int, int]] = None) -> None:
    """Remove the damaged entry at *path*: a file, a symlink (never its target) or a folder.

    With *ident* (device, inode) it is removed only if it is still that very
    file: an entry another process has just put in its place is kept.
    Failures are ignored (the key then stays uncached).
    """
    path = Path(path)
    try:
        info = os.lstat(path)
    except OSError:
        return
    if ident is not None and (info.st_dev, info.st_ino) != ident:
        return
    try:
        if stat.S_ISDIR(info.st_mode):
            aside = temp_path(path.parent, ".gone")
            os.rename(path, aside)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass
