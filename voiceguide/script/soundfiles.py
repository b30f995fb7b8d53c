"""Is this file a sound the mixer can loop? Its header says, read in pure Python.

``validate`` must catch a ``sound:`` layer that names a text file, an image or
a damaged export at ``file:line:col`` -- not ``render`` ten seconds later. It
must also stay fast and numpy-free (soundfile imports numpy), so this reads
only the first bytes of the file and checks the header of the formats that
libsndfile reads on every platform voiceguide runs on:

* WAV (``RIFF``/``RIFX``/``RF64`` ... ``WAVE``) with a ``fmt `` chunk;
* FLAC (``fLaC``) with its STREAMINFO block;
* Ogg (``OggS``) whose first packet is Vorbis, Opus or FLAC;
* AIFF/AIFC (``FORM`` ... ``AIFF``) with a ``COMM`` chunk.

Each check wants at least one channel and a sample rate, which is what a
truncated or mislabelled file lacks. A header that passes can still hide a
damaged body: the mixer's reader has the last word, as ``validate`` has over
the schema.

Trap: messages never quote the file's bytes (a ``sound:`` line may point at
anything the author can read); they name the format and what is missing.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Callable, Dict, Optional

#: How much of a file is read to find its header.
HEADER_BYTES = 64 * 1024

FORMATS_TEXT = "WAV, FLAC, Ogg (Vorbis or Opus) or AIFF"


class NotSound(ValueError):
    """The file is not a sound file voiceguide can loop; the message says why."""


def check_sound_file(path: Path) -> str:
    """The format of the sound file at *path* ("WAV", "FLAC", ...); NotSound or OSError otherwise.

    Read through :func:`voiceguide.readfile.read_regular` (its first bytes
    only): a FIFO swapped in after the caller's check raises
    :class:`~voiceguide.readfile.NotRegularFile` instead of hanging
    ``validate``.
    """
    from voiceguide.readfile import read_regular

    head = read_regular(path, HEADER_BYTES, head=True)
    if not head:
        raise NotSound("the file is empty")
    for magic, check in _CHECKS.items():
        if head.startswith(magic):
            problem = check(head)
            name = _NAMES[magic]
            if problem:
                raise NotSound(f"its {name} header is damaged ({problem})")
            return name
    raise NotSound(f"it is not a sound file in a format voiceguide reads ({FORMATS_TEXT})")


def _wav(head: bytes) -> Optional[str]:
    if head[8:12] != b"WAVE":
        return "no WAVE mark"
    endian = ">" if head.startswith(b"RIFX") else "<"
    pos = 12
    while pos + 8 <= len(head):
        chunk, size = head[pos:pos + 4], struct.unpack(endian + "I", head[pos + 4:pos + 8])[0]
        if chunk == b"fmt ":
            if size < 16 or pos + 24 > len(head):
                return "a format chunk too short"
            channels, rate = struct.unpack(endian + "HI", head[pos + 10:pos + 16])
            return _channels_and_rate(channels, rate)
        pos += 8 + size + (size & 1)
    return "no format chunk"


def _flac(head: bytes) -> Optional[str]:
    if len(head) < 8 + 18 or head[4] & 0x7F != 0:
        return "no stream information block"
    info = head[8:8 + 18]
    rate = (info[10] << 12) | (info[11] << 4) | (info[12] >> 4)
    channels = ((info[12] >> 1) & 0x07) + 1
    return _channels_and_rate(channels, rate)


def _ogg(head: bytes) -> Optional[str]:
    if len(head) < 27:
        return "a page header too short"
    start = 27 + head[26]
    packet = head[start:start + 32]
    if packet.startswith(b"\x01vorbis") and len(packet) >= 16:
        channels, rate = struct.unpack("<BI", packet[11:16])
        return _channels_and_rate(channels, rate)
    if packet.startswith(b"OpusHead") and len(packet) >= 10:
        return _channels_and_rate(packet[9], 48000)  # Opus always decodes at 48 kHz
    if packet.startswith(b"\x7fFLAC") and len(packet) >= 9 + 4 + 18:
        return _flac(b"fLaC" + packet[13:])
    return "not Vorbis, Opus or FLAC inside"


def _aiff(head: bytes) -> Optional[str]:
    if head[8:12] not in (b"AIFF", b"AIFC"):
        return "no AIFF mark"
    pos = 12
    while pos + 8 <= len(head):
        chunk, size = head[pos:pos + 4], struct.unpack(">I", head[pos + 4:pos + 8])[0]
        if chunk == b"COMM":
            if size < 18 or pos + 26 > len(head):
                return "a common chunk too short"
            channels = struct.unpack(">H", head[pos + 8:pos + 10])[0]
            exponent = struct.unpack(">H", head[pos + 16:pos + 18])[0] & 0x7FFF
            mantissa = struct.unpack(">Q", head[pos + 18:pos + 26])[0]
            rate = int(mantissa * 2.0 ** (exponent - 16383 - 63)) if mantissa else 0
            return _channels_and_rate(channels, rate)
        pos += 8 + size + (size & 1)
    return "no common chunk"


def _channels_and_rate(channels: int, rate: int) -> Optional[str]:
    if channels < 1:
        return "no channels"
    if rate < 1:
        return "no sample rate"
    return None


_CHECKS: Dict[bytes, Callable[[bytes], Optional[str]]] = {
    b"RIFF": _wav, b"RIFX": _wav, b"RF64": _wav,
    b"fLaC": _flac,
    b"OggS": _ogg,
    b"FORM": _aiff,
}
_NAMES = {b"RIFF": "WAV", b"RIFX": "WAV", b"RF64": "WAV", b"fLaC": "FLAC", b"OggS": "Ogg", b"FORM": "AIFF"}
