"""Load exercise scripts (format v1) into the immutable :mod:`voiceguide.script.model`.

Three entry points::

    load(path)                    -> Script, or raises ScriptError
    load_text(text, filename)     -> Script, or raises ScriptError
    check(path)                   -> [Problem, ...]   ([] when valid)

A :class:`~voiceguide.errors.ScriptError` holds *every* problem found in the
file, each located at ``file:line:col`` (1-based) and worded for the person
who wrote the script: what is wrong, then what to do.

A file passes these stages, each a module with one job:

1. :mod:`~voiceguide.script.decode` -- bytes to text (size, NUL, UTF-8);
2. :mod:`~voiceguide.script.compose` -- text to YAML nodes, never constructing
   a tagged object, within limits on depth, nodes and alias expansion;
3. :mod:`~voiceguide.script.build` -- nodes to the Script: top-level keys and
   ambient layers, reading each value through :mod:`~voiceguide.script.values`
   (the grammar table), each step through :mod:`~voiceguide.script.steps` (a
   table of step builders), file names through :mod:`~voiceguide.script.path_policy`
   and the whole-script limits in :mod:`~voiceguide.script.limits`.

Problems are collected in one :class:`~voiceguide.script.problems.Problems`
per file (:mod:`~voiceguide.script.problems`).

Trap: ``load`` refuses anything but a regular file (a FIFO or a device would
block or never end) and reads at most ``MAX_FILE_BYTES + 1`` bytes, so a file
that grows past the limit while it is read is refused too; both checks are
:func:`voiceguide.readfile.read_regular`'s, shared with the config reader.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple, Union

from voiceguide.errors import Problem, ScriptError
from voiceguide.script.build import ScriptBuilder
from voiceguide.script.compose import Composer
from voiceguide.script.decode import script_text
from voiceguide.script.model import MAX_FILE_BYTES, Script
from voiceguide.script.problems import Problems, too_big

__all__ = ["load", "load_text", "check"]


# --- entry points -------------------------------------------------------------


def load(path: Union[str, Path]) -> Script:
    """Read and validate the script at *path*; raise :class:`ScriptError`.

    Problems name the file as given (``str(path)``). A file that cannot be
    read at all (missing, a folder, no permission) is a ScriptError too, with
    one problem at 1:1.
    """
    return _load_file(path, ())


def _load_file(path: Union[str, Path], stack: Tuple[Path, ...]) -> Script:
    """:func:`load`, inside the includes in *stack* (resolved paths, outermost first)."""
    from voiceguide.readfile import NotRegularFile, TooBig, read_regular

    name = str(path)
    p = Path(path)
    try:
        data = read_regular(p, MAX_FILE_BYTES)
    except TooBig as exc:
        raise ScriptError([too_big(name, exc.size)]) from None
    except NotRegularFile as exc:
        what = ("it is a folder, not a script file" if exc.kind == "a folder"
                else f"it is {exc.kind}, not a regular file")
        raise ScriptError([Problem(name, 1, 1, f"cannot read the script: {what}; check the path")]) from None
    except OSError as exc:
        what = exc.strerror or str(exc)
        raise ScriptError([Problem(name, 1, 1, f"cannot read the script: {what}; check the path")]) from None
    return _load_text(data, name, p.parent, stack)


def load_text(text: Union[str, bytes], filename: str, base_dir: Optional[Path] = None) -> Script:
    """Validate a script held in memory; ``filename`` is used in problems.

    ``base_dir`` is where relative ``sound:`` and ``include:`` paths are
    looked up first; it defaults to the folder of ``filename``.
    """
    return _load_text(text, filename, base_dir, ())


def _load_text(text: Union[str, bytes], filename: str, base_dir: Optional[Path],
               stack: Tuple[Path, ...]) -> Script:
    filename = str(filename)
    path = Path(filename)
    if base_dir is None:
        base_dir = path.parent
    problems = Problems(filename)
    script = None
    decoded = script_text(text, problems)
    if decoded is not None:
        root = Composer(decoded, problems).compose()
        if root is not None:
            script = ScriptBuilder(problems, Path(base_dir), path, stack, _load_file).script(root)
        elif not problems:
            problems.add(1, 1, "the file is empty; a script needs at least 'title:' and 'steps:'")
    if problems or script is None:
        raise ScriptError(problems.final())
    return script


def check(path: Union[str, Path]) -> List[Problem]:
    """Every problem in the script at *path*; ``[]`` when it is valid."""
    try:
        load(path)
    except ScriptError as exc:
        return list(exc.problems)
    return []
