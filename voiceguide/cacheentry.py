"""The header and checks shared by voiceguide's sample caches (ambient loops, speech clips).

Both caches keep one file per entry: a 64-byte header (magic, format
version, the key the entry was written for, sample count, CRC-32 of the
samples), then the samples as little-endian float32. Both treat every entry
as untrusted; :class:`EntryFormat` holds the checks they share, so that a
damaged or foreign entry is refused for the same reasons, in the same words,
by both:

* the file is a **regular file** with a header at least;
* the **header** is this cache's: magic, version, the key, a sample count
  under :data:`MAX_SAMPLES` that matches the file's size exactly;
* the samples match the **CRC-32** (:meth:`EntryFormat.check_crc`).

What differs stays with each cache: how the file is opened and read (the
loops are memory-mapped, the clips read through a pinned descriptor), the
exception type, and the checks on the samples themselves (finite, not too
loud), which need numpy -- this module must not import it (nor anything of
voiceguide): it sits at the bottom of the import order.

Trap: the error messages are what a person reads in the warning line
("the ambient sound cache entry ... is truncated; it is made again"); they
complete a sentence that begins with the entry's path.
"""

from __future__ import annotations

import os
import stat
import struct
import zlib
from typing import Tuple, Type

#: The samples start here (a multiple of 16, for aligned float32 access).
HEADER_SIZE = 64
#: No entry holds more samples than this (about 11.6 minutes at 48 kHz): a
#: sparse multi-gigabyte file with a header to match is refused, not read.
MAX_SAMPLES = 1 << 25
#: Bytes per sample (little-endian float32).
ITEMSIZE = 4
#: Never block on a FIFO or a device, never follow a symlink in an entry's place.
OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
              | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))


class EntryFormat:
    """One cache's header layout and the words of its refusals.

    *what* names an entry in "is not a voiceguide <what> (wrong header)",
    *other* in "belongs to another <other> (its key does not match)";
    *folder* is the whole message for a folder in an entry's place. Every
    refusal raises *error* with its message.
    """

    def __init__(self, magic: bytes, version: int, key_size: int, error: Type[Exception],
                 what: str, other: str, folder: str):
        if len(magic) != 8:
            raise ValueError("a cache entry's magic is 8 bytes")
        self.magic, self.version, self.error = magic, version, error
        self.what, self.other, self.folder = what, other, folder
        #: magic, version, key, sample count, CRC-32 of the samples.
        self.header = struct.Struct(f"<8sI{key_size}sQI")

    def pack(self, key: bytes, payload: memoryview) -> bytes:
        """The header of an entry holding *payload* (the samples' bytes), padded to HEADER_SIZE."""
        return self.header.pack(self.magic, self.version, key, len(payload) // ITEMSIZE,
                                zlib.crc32(payload)).ljust(HEADER_SIZE, b"\0")

    def check_file(self, fd: int, info: os.stat_result, key: bytes) -> Tuple[int, int]:
        """(sample count, CRC-32) of the open entry *fd* (``fstat`` gave *info*), or *error*."""
        if not stat.S_ISREG(info.st_mode):
            raise self.error(self.folder if stat.S_ISDIR(info.st_mode)
                             else "is not a regular file (a pipe or a device)")
        if info.st_size == 0:
            raise self.error("is empty")
        if info.st_size < HEADER_SIZE:
            raise self.error("is truncated")
        count, crc = self.check_header(os.pread(fd, self.header.size, 0), key)
        expected = HEADER_SIZE + count * ITEMSIZE
        if info.st_size != expected:
            raise self.error("is truncated" if info.st_size < expected else "has bytes after its samples")
        return count, crc

    def check_header(self, raw: bytes, key: bytes) -> Tuple[int, int]:
        """(sample count, CRC-32) from the header bytes *raw*, or *error* saying what is wrong."""
        if len(raw) < self.header.size:
            raise self.error("is truncated")
        magic, version, for_key, count, crc = self.header.unpack(raw)
        if magic != self.magic:
            raise self.error(f"is not a voiceguide {self.what} (wrong header)")
        if version != self.version:
            raise self.error(f"was written in format {version}, not {self.version}")
        if for_key != key:
            raise self.error(f"belongs to another {self.other} (its key does not match)")
        if not 0 < count <= MAX_SAMPLES:
            raise self.error(f"claims {count} samples (at most {MAX_SAMPLES} are allowed)")
        return count, crc

    def check_crc(self, payload, crc: int) -> None:
        """*error* unless the samples' bytes *payload* match the header's CRC-32."""
        if zlib.crc32(payload) != crc:
            raise self.error("does not match its checksum (damaged)")
