"""Bytes to text: the first gate a script file passes, before YAML sees it.

Refused here, each as a located problem: more than
:data:`~voiceguide.script.model.MAX_FILE_BYTES`, a NUL byte (a binary file or
UTF-16, which would otherwise come out as a confusing YAML error), invalid
UTF-8, and characters YAML does not allow in a stream. A leading byte order
mark is dropped.

Trap: positions are counted in characters, not bytes, so the column of a
problem after an accented letter is the one an editor shows.
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

import yaml

from voiceguide.script.model import MAX_FILE_BYTES
from voiceguide.script.problems import Problems, too_big

#: Characters YAML does not allow in a stream: PyYAML's own, already compiled.
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE

_NUL_MESSAGE = (
    "the file contains a NUL byte, so it looks binary (or UTF-16);"
    " a script must be a UTF-8 text file"
)


def script_text(text: Union[str, bytes], problems: Problems) -> Optional[str]:
    """Text from *text* (bytes or str), or None after adding a problem."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        decoded = _from_bytes(bytes(text), problems)
    else:
        decoded = _from_str(str(text), problems)
    if decoded is None:
        return None
    if decoded.startswith("\ufeff"):
        decoded = decoded[1:]
    bad = _NON_PRINTABLE.search(decoded)
    if bad:
        line, col = char_position(decoded, bad.start())
        problems.add(
            line,
            col,
            f"the file contains the character U+{ord(bad.group()):04X}, which YAML does"
            " not allow; delete it (use \\t or \\n escapes inside double quotes if you meant one)",
        )
        return None
    return decoded


def _from_bytes(data: bytes, problems: Problems) -> Optional[str]:
    if len(data) > MAX_FILE_BYTES:
        _add_too_big(problems, len(data))
        return None
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = byte_position(data, nul)
        problems.add(line, col, _NUL_MESSAGE)
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = byte_position(data, exc.start)
        problems.add(
            line,
            col,
            f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x} here);"
            " save it as UTF-8 text",
        )
        return None


def _from_str(decoded: str, problems: Problems) -> Optional[str]:
    size = len(decoded.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        _add_too_big(problems, size)
        return None
    nul = decoded.find("\x00")
    if nul >= 0:
        line, col = char_position(decoded, nul)
        problems.add(line, col, _NUL_MESSAGE)
        return None
    return decoded


def _add_too_big(problems: Problems, size: int) -> None:
    p = too_big(problems.file, size)
    problems.add(p.line, p.col, p.message)


def byte_position(data: bytes, index: int) -> Tuple[int, int]:
    """1-based line and column (in characters) of byte *index*."""
    line_start = data.rfind(b"\n", 0, index) + 1
    line = data.count(b"\n", 0, index) + 1
    col = len(data[line_start:index].decode("utf-8", "replace")) + 1
    return line, col


def char_position(text: str, index: int) -> Tuple[int, int]:
    """1-based line and column of character *index*."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1
