"""Nothing a person made is written over without asking: the one rule for files we create.

``new``, ``render -o`` and ``render --captions`` all write a file a person
named. The rule, in one place so every command words it the same way:

* an existing file is refused unless the person added ``--force``
  (:func:`refuse_existing`; the words are :class:`~voiceguide.errors.OutputExists`);
* two outputs of one command are never the same file, and no output is ever
  the script being read, whatever ``--force`` says (:func:`same_file`);
* an output never replaces an exercise script -- a ``.yaml``/``.yml`` file
  or anything that loads as one -- even with ``--force``
  (:func:`looks_like_script`): a script may be the only copy of someone's
  work, and ``render --captions mine.yaml`` is a slip of the hand, not a wish.

Sameness is decided on the real files: ``./a.wav``, ``a.wav``, a symbolic
link to it and a hard link to it are all the same file. Checks made before a
long render are repeated where the file is put in place
(:func:`voiceguide.atomic.place`), so a file that appears meanwhile is not
replaced either.

Trap: on a case-insensitive file system (macOS, a FAT USB stick) two names
that differ only in case are one file; :func:`same_file` sees that only once
one of them exists, which is why the check is repeated when writing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional, Union

from voiceguide.errors import OutputExists, UsageError

PathLike = Union[str, Path]

#: A script's top level names its title and its steps (block style).
_SCRIPT_KEYS = re.compile(rb"(?m)^[\"']?(title|steps)[\"']?\s*:")
#: How much of an existing file is looked at to tell whether it is a script.
_SNIFF_BYTES = 64 * 1024


def refuse_existing(path: PathLike, force: bool) -> None:
    """:class:`UsageError` if *path* exists (a dangling link counts) and *force* is not given."""
    if not force and os.path.lexists(path):
        raise OutputExists(path)


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether *a* and *b* name one file: after ``.``, ``..`` and symbolic links, or as hard links."""
    try:
        if os.path.samefile(a, b):
            return True
    except OSError:
        pass  # one of them does not exist yet: compare where they would be
    return os.path.realpath(a) == os.path.realpath(b)


def looks_like_script(path: PathLike) -> bool:
    """Whether the existing file at *path* is (or loads as) an exercise script.

    A ``.yaml``/``.yml`` name is enough; otherwise a regular file whose start
    has a top-level ``title:`` or ``steps:`` line, or that the loader accepts
    (a script written in flow style). Never blocks on a FIFO: only regular
    files are opened.
    """
    from voiceguide.readfile import read_regular

    p = Path(path)
    if p.suffix.lower() in (".yaml", ".yml"):
        return True
    try:
        head = read_regular(p, _SNIFF_BYTES, head=True)
    except OSError:  # missing, not a regular file, unreadable: not a script we could harm by reading
        return False
    if b"\0" in head:
        return False  # audio, or another binary file
    if _SCRIPT_KEYS.search(head):
        return True
    from voiceguide.errors import ScriptError
    from voiceguide.script.loader import load

    try:
        load(p)
    except ScriptError:
        return False
    return True


def check_output(path: PathLike, force: bool, option: str, script: Optional[PathLike] = None,
                 other: Optional[PathLike] = None, other_option: str = "") -> None:
    """Refuse to write *path* (given as *option*) where the rule above forbids it.

    *script* is the script being read, *other* another output of the same
    command (given as *other_option*).
    """
    if other is not None and same_file(path, other):
        raise UsageError(f"{option} {path} is the same file as {other_option} {other}; "
                         f"give each its own name")
    if script is not None and same_file(path, script):
        raise UsageError(f"{option} {path} is the exercise script being read; "
                         f"an output never replaces a script, so choose another name")
    if os.path.lexists(path) and looks_like_script(path):
        raise UsageError(f"{option} {path} is an exercise script; an output never replaces a script, "
                         f"even with --force, so choose another name")
    refuse_existing(path, force)
