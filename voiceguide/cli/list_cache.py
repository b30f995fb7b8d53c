"""``list``'s rows, kept between runs so ``list`` starts in the time of a bare Click program (issue 24).

A row (an exercise's title, summary and length, or that it is a part, or
why it is invalid) takes the loader, its grammar, the voice choice and the
speech cache's headers to make: ~100 ms a run here, well over a second on a
Pi. It changes only when something it is made from changes, so each row is
kept in ``<user cache dir>/voiceguide/list-rows.json`` and used again only
when all of these are as they were:

* the *context*, shared by every row: voiceguide's version, its modules'
  count, sizes and newest change (a checkout being worked on), and the Python
  that runs it; every ``VOICEGUIDE_*`` and ``XDG_*`` variable; the config
  file's stat; the stat of every file and folder under the built-in scripts,
  the built-in sounds and the user's scripts folder (an include or a
  ``sound:`` may be any of them, so any edit there makes every row again);
  what choosing the voice reads: the user voices folder, the stat of every
  ``sys.path`` folder (installing or removing a package changes it),
  ``/etc/ld.so.cache`` (rewritten when a library such as espeak-ng is
  upgraded), and whether memory affords a Piper voice now;
* the row's own script file: its path and stat (size, ``mtime_ns``, inode,
  mode);
* every speech-cache entry its length was read from, or found missing: its
  stat (a clip made by ``play`` turns ``~7:30`` into the real ``7:25``).

The file is voiceguide's own: read and replaced only through
:mod:`voiceguide.ownfiles` (never through a link; a link put there is left
alone and the rows are made as if there were no file). A file that is not
this user's, not this format, damaged, too big or of another context is
ignored, never trusted, and written again from the rows made this run.
Whatever goes wrong with it (a full disk, a read-only home) costs only the
time it would have saved: ``list`` prints the same either way.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

#: Changes when what a row holds or how it is keyed changes.
FORMAT = 1
NAME = "list-rows.json"
#: A dozen exercises take a few kB; anything near this is not the file this writes.
MAX_BYTES = 4 * 1024 * 1024
#: A scripts folder with more files than this is not fingerprinted (``list`` then loads every script).
MAX_TREE_ENTRIES = 4000
#: How a length is written (:meth:`voiceguide.player.lengths.Length.text`), or ``-`` for an invalid script.
_LENGTH = re.compile(r"~?[0-9]{1,6}(?::[0-9]{2}){1,2}|-")


class _Unsure(Exception):
    """Something the rows depend on could not be looked at: make them all, keep nothing."""


def cache_file() -> Path:
    from voiceguide.paths import cache_dir

    return cache_dir() / NAME


def _stamp(info: os.stat_result) -> List[int]:
    return [info.st_mode, info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev]


def _stat(path: Any, follow: bool = True) -> Optional[List[int]]:
    """The stat of *path* as a list, or None when nothing is there; :class:`_Unsure` when it cannot be seen."""
    try:
        return _stamp(os.stat(path) if follow else os.lstat(path))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError):
        raise _Unsure from None


def _file(path: Any) -> List[Any]:
    """A file as a row depends on it: the link itself and what it leads to."""
    own = _stat(path, follow=False)
    if own is not None and stat.S_ISLNK(own[0]):
        try:
            return [own, os.readlink(path), _stat(path)]
        except OSError:
            raise _Unsure from None
    return [own]


def _tree(root: Path) -> List[Any]:
    """Every file and folder under *root* (links not followed into) with its stat, in a fixed order."""
    found: List[Any] = [_file(root)]
    todo = [str(root)]
    while todo:
        folder = todo.pop()
        try:
            with os.scandir(folder) as it:
                items = sorted(it, key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            raise _Unsure from None
        for item in items:
            if len(found) > MAX_TREE_ENTRIES:
                raise _Unsure
            found.append([item.path, _file(item.path)])
            if item.is_dir(follow_symlinks=False) and item.name != "__pycache__":
                todo.append(item.path)
    return found


def context() -> Optional[Dict[str, Any]]:
    """What every row depends on besides its own file and clips (see the module's doc), or None when unsure."""
    from voiceguide import __version__
    from voiceguide.paths import config_file, scripts_dir, speech_cache_dir, voices_dir
    from voiceguide.script.catalog import builtin_dir, package_dir

    try:
        folders = {"scripts": builtin_dir(), "sounds": package_dir("voiceguide.sounds"), "yours": scripts_dir()}
        return {
            "format": FORMAT,
            "voiceguide": [__version__, _code()],
            "python": [sys.executable, sys.version],
            "env": sorted([k, v] for k, v in os.environ.items() if k.startswith(("VOICEGUIDE_", "XDG_"))),
            "paths": [str(p) for p in (config_file(), speech_cache_dir(), voices_dir())],
            "config": _file(config_file()),
            "trees": {name: [str(folder), _tree(folder)] for name, folder in folders.items()},
            "voices": _tree(voices_dir()),
            "sys.path": [[entry, _stat(entry or ".")] for entry in sys.path],
            "ld.so.cache": _stat("/etc/ld.so.cache"),
            "piper memory": _piper_affordable(),
        }
    except _Unsure:
        return None


def _code() -> List[int]:
    """voiceguide's own modules: how many, their sizes and the newest ``mtime_ns``.

    The version alone does not change while a checkout is worked on (an
    editable install), and a change to how a length is placed must not
    leave rows made by the code before it.
    """
    import voiceguide

    count = size = newest = 0
    todo = [os.path.dirname(os.path.abspath(voiceguide.__file__))]
    while todo:
        try:
            with os.scandir(todo.pop()) as it:
                for item in it:
                    if item.is_dir(follow_symlinks=False):
                        if item.name != "__pycache__":
                            todo.append(item.path)
                    elif item.name.endswith(".py"):
                        info = item.stat()
                        count, size, newest = count + 1, size + info.st_size, max(newest, info.st_mtime_ns)
        except OSError:
            raise _Unsure from None
    return [count, size, newest]


def _piper_affordable() -> bool:
    """Whether a Piper voice may be chosen now (:func:`voiceguide.synth.voices.choose` falls back without)."""
    from voiceguide.synth.budget import piper_plan

    return piper_plan() > 0


def _valid_row(row: Any) -> bool:
    """A row as :func:`make_row` makes it, and nothing else."""
    if not isinstance(row, dict):
        return False
    if row == {"part": True}:
        return True
    if set(row) == {"invalid"}:
        return isinstance(row["invalid"], str)
    return (set(row) == {"title", "summary", "length"} and isinstance(row["title"], str)
            and (row["summary"] is None or isinstance(row["summary"], str))
            and isinstance(row["length"], str) and _LENGTH.fullmatch(row["length"]) is not None)


class Rows:
    """The rows kept from an earlier ``list``, and those made now (:meth:`save` keeps them for the next)."""

    def __init__(self, context: Optional[Dict[str, Any]], kept: Dict[str, Any], path: Path):
        self.context = context
        self.kept = kept
        self.path = path
        self.made: Dict[str, Any] = {}
        self.changed = False

    @classmethod
    def load(cls) -> "Rows":
        """The rows in the cache file that were made in this context; none for a missing, damaged or foreign one."""
        path = cache_file()
        here = context()
        return cls(here, kept_in(path, here, "rows"), path)

    def row(self, script: Path) -> Optional[Dict[str, Any]]:
        """The kept row of *script* if nothing it was made from changed, else None (make it again)."""
        if self.context is None:
            return None
        name = str(script)
        held = self.kept.get(name)
        try:
            if (not isinstance(held, dict) or set(held) != {"file", "clips", "row"} or not _valid_row(held["row"])
                    or not isinstance(held["clips"], list) or held["file"] != _file(script)):
                return None
            for clip in held["clips"]:
                if not (isinstance(clip, list) and len(clip) == 2 and isinstance(clip[0], str)
                        and clip[1] == _stat(clip[0])):
                    return None
        except _Unsure:
            return None
        self.made[name] = held
        return held["row"]

    def keep(self, script: Path, row: Dict[str, Any], clips: Iterable[Path]) -> None:
        """Remember *row*, made now from *script* and the speech-cache entries *clips*."""
        if self.context is None:
            return
        try:
            clips_now = [[str(c), _stat(c)] for c in dict.fromkeys(clips)]
            self.made[str(script)] = {"file": _file(script), "clips": clips_now, "row": row}
        except _Unsure:
            self.context = None  # a row that cannot be checked next time is not kept
            return
        self.changed = True

    def save(self) -> None:
        """Write the rows of this run (only when one was made again); a failure only costs the next run's time."""
        if self.context is None or not (self.changed or set(self.kept) - set(self.made)):
            return
        from voiceguide.atomic import atomic_file
        from voiceguide.ownfiles import own_folder, refuse_link

        try:
            own_folder(self.path.parent)
            refuse_link(self.path)  # a link there is left alone, and nothing is written through it
            with atomic_file(self.path, "w", encoding="utf-8") as out:
                json.dump({"format": FORMAT, "context": self.context, "rows": self.made}, out)
        except OSError:
            pass


def kept_in(path: Path, here: Optional[Dict[str, Any]], key: str) -> Dict[str, Any]:
    """What the cache file *path* keeps under *key*, if it was made in the context *here*; nothing for a
    missing, damaged, foreign or other-context file (it is never trusted, only written again)."""
    if here is None:
        return {}
    document = _read(path)
    if (isinstance(document, dict) and document.get("format") == FORMAT
            and document.get("context") == here and isinstance(document.get(key), dict)):
        return document[key]
    return {}


def _read(path: Path) -> Any:
    """The cache file's JSON, or None when it is missing, a link, not this user's, too big or damaged."""
    from voiceguide.ownfiles import open_own
    from voiceguide.readfile import read_fd

    try:
        fd = open_own(path)
    except (OSError, ValueError):
        return None
    try:
        if os.fstat(fd).st_uid != os.geteuid():
            return None
        return json.loads(read_fd(fd, path, MAX_BYTES).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    finally:
        os.close(fd)
