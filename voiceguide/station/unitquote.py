"""Text for systemd's unit parser: a value on a ``Key=`` line, an ``ExecStart=`` argument, the last check.

Why a module of its own: systemd expands ``%`` specifiers and ``$``
variables, splits ``ExecStart=`` on whitespace, reads C escapes inside
quotes and joins a line ending in a backslash to the next; anything a user
typed (an exercise id may hold a newline) goes through these functions
before it reaches a unit (see :mod:`voiceguide.station.systemd` for the
whole list of traps). They only quote; they write no file.
"""

from __future__ import annotations

import os
import re
import sys
from typing import List, Sequence

from voiceguide.errors import ScheduleError
from voiceguide.visible import CONTROL_CLASS, has_controls, visible

__all__ = ["exec_quote", "unit_value", "checked_unit", "command_line", "voiceguide_argv"]

_CONTROL = re.compile(f"[{CONTROL_CLASS}]")  # visible()'s characters: each written as a C escape
_C_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def exec_quote(arg: str, program: bool = False) -> str:
    """One ``ExecStart=`` argument, quoted so systemd passes it through unchanged.

    systemd splits ``ExecStart=`` on whitespace, honours double quotes,
    expands ``%`` specifiers and ``$`` variables, and reads C escapes inside
    quotes. So: ``%`` -> ``%%``, ``$`` -> ``$$`` (in arguments only: the
    *program*'s path is not searched for variables, and ``$$`` stays two
    dollars there, as ``systemd-analyze verify`` shows), ``\\`` and ``"`` escaped,
    and a control character (a newline would end the line and start a key
    of our caller's choosing) written as ``\\n``, ``\\x01``, ``\\u202e``,
    which systemd turns back into the character. NUL cannot be an argument
    at all: :class:`ScheduleError`.
    """
    if "\0" in arg:
        raise ScheduleError(f"'{visible(arg)}' holds a NUL character, which no command argument can hold")
    text = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    if not program:
        text = text.replace("$", "$$")
    text = _CONTROL.sub(lambda m: _C_ESCAPES.get(m.group()) or (
        f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x80 else f"\\u{ord(m.group()):04x}"), text)
    if text and re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", text) and text == arg:
        return text
    return f'"{text}"'


def unit_value(text: str) -> str:
    """*text* as the value of a ``Key=`` line that systemd shows as it is (``Description=``).

    Control characters become visible escapes (so the value stays on its
    line), ``%`` becomes ``%%`` (specifiers are expanded in most values),
    and a value that would end in an odd number of backslashes gets a space
    (systemd would join the next line to it).
    """
    value = visible(text).replace("%", "%%")
    trailing = len(value) - len(value.rstrip("\\"))
    return value + " " if trailing % 2 else value


def checked_unit(text: str) -> str:
    """*text* if every line of it is a plain line; a unit with a control character left is refused.

    The last guard before a unit reaches the disk: whatever went into it, no
    value can add a line, end in a carriage return or hide an escape.
    """
    for number, line in enumerate(text.split("\n"), 1):
        if has_controls(line):
            raise ScheduleError(f"refusing to write a unit whose line {number} holds a control character: "
                                f"{visible(line)}")
    return text


def voiceguide_argv(args: Sequence[str]) -> List[str]:
    """The argv that runs ``voiceguide ARGS...`` with this very interpreter and this very package.

    ``python -c BOOT``, not ``python -m voiceguide``: ``-m`` imports a
    ``voiceguide/`` in the current folder first, and a user unit runs in the
    home folder, where a checkout ``~/voiceguide`` often is (see
    :mod:`voiceguide.synth.lifetime`). The boot code puts this package's
    folder first and keeps the rest of ``sys.path``, so the run still finds
    voiceguide if that folder moves (a reinstall under a newer Python).
    """
    from voiceguide.synth.lifetime import boot_code

    return [os.path.abspath(sys.executable), "-c", boot_code("voiceguide.cli", "main"), *args]


def command_line(args: Sequence[str]) -> str:
    """``ExecStart=`` for ``voiceguide ARGS...``: :func:`voiceguide_argv`, quoted.

    The interpreter's absolute path, so a virtual environment works without
    being activated (a service has no shell that could activate it). The boot
    code's spaces, quotes and ``;`` are safe in one quoted argument: systemd
    takes only an unquoted lone ``;`` for a command separator.
    """
    python, *rest = voiceguide_argv(args)
    return " ".join([exec_quote(python, program=True), *(exec_quote(a) for a in rest)])
