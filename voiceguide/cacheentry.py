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

A cache may carry a **trailer** after the samples (the speech cache's
format 2 keeps each clip's word timings there): its length and CRC-32 sit
in the header's last eight bytes (zero in format 1, which had none), and the
file's size must then be header + samples + trailer exactly. A cache that
reads its older formats lists them in ``older``: such an entry reads with
an empty trailer.

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
#: The trailer's length and CRC-32: the header's last 8 bytes.
TRAILER = struct.Struct("<II")
#: No trailer is longer than this (word timings of the longest clip take ~20 KB).
MAX_TRAILER = 1 << 20
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
                 what: str, other: str, folder: str, trailer: bool = False, older: Tuple[int, ...] = ()):
        if len(magic) != 8:
            raise ValueError("a cache entry's magic is 8 bytes")
        self.magic, self.version, self.error = magic, version, error
        self.what, self.other, self.folder = what, other, folder
        #: magic, version, key, sample count, CRC-32 of the samples.
        self.header = struct.Struct(f"<8sI{key_size}sQI")
        self.trailer, self.older = trailer, tuple(older)
        if trailer and self.header.size + TRAILER.size > HEADER_SIZE:
            raise ValueError("no room in the header for a trailer's length and checksum")

    def pack(self, key: bytes, payload: memoryview, trailer: bytes = b"") -> bytes:
        """The header of an entry holding *payload* (the samples' bytes) and *trailer*, padded to HEADER_SIZE."""
        head = self.header.pack(self.magic, self.version, key, len(payload) // ITEMSIZE, zlib.crc32(payload))
        if self.trailer:
            if len(trailer) > MAX_TRAILER:
                raise ValueError(f"a trailer holds at most {MAX_TRAILER} bytes")
            head = head.ljust(HEADER_SIZE - TRAILER.size, b"\0") + TRAILER.pack(len(trailer), zlib.crc32(trailer))
        elif trailer:
            raise ValueError("this cache's entries have no trailer")
        return head.ljust(HEADER_SIZE, b"\0")

    def check_file(self, fd: int, info: os.stat_result, key: bytes) -> Tuple[int, int]:
        """(sample count, CRC-32) of the open entry *fd* (``fstat`` gave *info*), or *error*."""
        count, crc, _, _ = self.check_entry(fd, info, key)
        return count, crc

    def check_entry(self, fd: int, info: os.stat_result, key: bytes) -> Tuple[int, int, int, int]:
        """(sample count, CRC-32, trailer length, trailer CRC-32) of the open entry *fd*, or *error*."""
        if not stat.S_ISREG(info.st_mode):
            raise self.error(self.folder if stat.S_ISDIR(info.st_mode)
                             else "is not a regular file (a pipe or a device)")
        if info.st_size == 0:
            raise self.error("is empty")
        if info.st_size < HEADER_SIZE:
            raise self.error("is truncated")
        raw = os.pread(fd, HEADER_SIZE, 0)
        count, crc = self.check_header(raw, key)
        extra, extra_crc = 0, 0
        if self.trailer and self.header.unpack(raw[: self.header.size])[1] == self.version:
            extra, extra_crc = TRAILER.unpack(raw[HEADER_SIZE - TRAILER.size: HEADER_SIZE])
            if extra > MAX_TRAILER:
                raise self.error(f"claims a trailer of {extra} bytes (at most {MAX_TRAILER} are allowed)")
        expected = HEADER_SIZE + count * ITEMSIZE + extra
        if info.st_size != expected:
            raise self.error("is truncated" if info.st_size < expected else "has bytes after its samples")
        return count, crc, extra, extra_crc

    def check_header(self, raw: bytes, key: bytes) -> Tuple[int, int]:
        """(sample count, CRC-32) from the header bytes *raw*, or *error* saying what is wrong."""
        if len(raw) < self.header.size:
            raise self.error("is truncated")
        magic, version, for_key, count, crc = self.header.unpack(raw[: self.header.size])
        if magic != self.magic:
            raise self.error(f"is not a voiceguide {self.what} (wrong header)")
        if version != self.version and version not in self.older:
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
