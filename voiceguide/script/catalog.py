"""Where exercises live: the built-ins that ship with the package, and the user's own.

An exercise id is a file's stem: ``body-scan`` is ``body-scan.yaml``. The
user's folder (``<user config dir>/voiceguide/scripts``) is searched first,
so a user script with a built-in's id shadows the built-in; ``list`` marks it.
Anything that looks like a path (has a slash or a .yaml/.yml suffix, or
exists) is taken as a path. Every command that reads a script goes through
:func:`resolve`, so each takes an id or a path alike; a bare file name that
is not in the current folder (``midday-pause.yaml``, as a person who just
ran ``voiceguide new midday-pause`` may type it) falls back to the exercise
of that id.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from voiceguide.errors import FileAccessError, NotFoundError, did_you_mean

SUFFIXES = (".yaml", ".yml")


def builtin_dir() -> Path:
    """The folder of built-in scripts inside the installed package."""
    return package_dir("voiceguide.scripts")


def package_dir(package: str) -> Path:
    """The folder of the data package *package* (``voiceguide.scripts``, ``voiceguide.sounds``).

    Found by the import system's spec (no import, ~0.3 ms): ``importlib.resources``
    costs ~5 ms to import, a tenth of ``list``'s budget on a Pi (issue 24). A
    package that is not one plain folder (a zip) is asked of importlib.resources.
    """
    from importlib.util import find_spec

    spec = find_spec(package)
    places = list(spec.submodule_search_locations or []) if spec is not None else []
    if len(places) == 1 and os.path.isdir(places[0]):
        return Path(places[0])
    from importlib.resources import files

    return Path(str(files(package)))


def user_dir() -> Path:
    """The user's own scripts: ``$XDG_CONFIG_HOME/voiceguide/scripts`` on Linux."""
    from voiceguide.paths import scripts_dir

    return scripts_dir()


@dataclass(frozen=True)
class Entry:
    id: str
    path: Path
    builtin: bool
    shadows_builtin: bool = False


def _scan(folder: Path) -> Dict[str, Path]:
    found: Dict[str, Path] = {}
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.suffix in SUFFIXES and path.is_file() and not path.name.startswith("."):
                found.setdefault(path.stem, path)
    return found


def _scan_user() -> Dict[str, Path]:
    """The user's scripts by id; a folder that is missing is empty, one that cannot be read an error.

    An unreadable folder, one that is a file or a loop of symbolic links
    is a :class:`~voiceguide.errors.FileAccessError` naming the folder and
    what to do: quietly skipping it would hide the person's own exercises
    (and one of them may replace a built-in of the same id).
    """
    folder = user_dir()
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise _folder_error(folder, exc) from None
    found: Dict[str, Path] = {}
    for name in names:
        path = folder / name
        if path.suffix not in SUFFIXES or name.startswith("."):
            continue
        try:
            regular = stat.S_ISREG(os.stat(path).st_mode)
        except FileNotFoundError:
            continue  # a dangling link, or gone since the listing
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                continue  # one broken link is that file's problem, not the folder's
            raise _folder_error(folder, exc) from None
        if regular:
            found.setdefault(path.stem, path)
    return found


def _folder_error(folder: Path, exc: OSError) -> FileAccessError:
    from voiceguide.errors import file_error

    return file_error(folder, exc, "read your scripts folder", elsewhere="")


def entries() -> List[Entry]:
    """Every exercise by id: the user's first, then built-ins they do not shadow."""
    builtin = _scan(builtin_dir())
    user = _scan_user()
    result = [Entry(i, p, False, i in builtin) for i, p in user.items()]
    result += [Entry(i, p, True) for i, p in builtin.items() if i not in user]
    return sorted(result, key=lambda e: e.id)


def looks_like_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.endswith(SUFFIXES)


def resolve(name: str) -> Path:
    """The file for an id or a path; :class:`NotFoundError` with a hint otherwise."""
    candidate = Path(name).expanduser()
    if candidate.is_file() or (os.path.lexists(candidate) and not candidate.is_dir()):
        return candidate  # a FIFO, a device, a broken link: the loader says what it is, not "no such file"
    bare_file_name = name.endswith(SUFFIXES) and "/" not in name and "\\" not in name
    if looks_like_path(name) and not bare_file_name:
        if candidate.is_dir():
            raise NotFoundError(f"{name} is a folder; give an exercise file (.yaml) or an id")
        raise NotFoundError(f"{name}: no such file")
    ident = name[: -len(Path(name).suffix)] if bare_file_name else name
    found = _by_id(ident)
    if found is not None:
        return found
    ids = [e.id for e in entries()]
    if bare_file_name:
        raise NotFoundError(f'{name}: no such file here, and no exercise "{ident}"{did_you_mean(ident, ids)} '
                            f"in your scripts folder ({user_dir()}); `voiceguide list` shows the exercises")
    raise NotFoundError(f'no exercise "{name}"{did_you_mean(name, ids)}; '
                        f"`voiceguide list` shows them all, or give a path to a .yaml file")


def _by_id(ident: str) -> Optional[Path]:
    """The user's or the built-in file for the id *ident*, or None."""
    if not ident or ident.startswith(".") or "/" in ident or "\\" in ident:
        return None
    mine = _scan_user()
    for suffix in SUFFIXES:
        path = user_dir() / f"{ident}{suffix}"
        if mine.get(ident) == path:
            return path
    for suffix in SUFFIXES:
        path = builtin_dir() / f"{ident}{suffix}"
        if path.is_file():
            return path
    return None
