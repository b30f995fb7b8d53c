"""The station's music folder (``music_folder`` under ``[station]``): the pieces a music step may play.

A phone cannot hand the station a file, so the station offers the pieces of
one folder it was told about, by NAME: ``GET /api/music`` lists them,
``POST /api/play {"id", "music": NAME}`` and ``voiceguide ctl play ID
--music NAME`` choose one. A name is never a path:

* :func:`pieces` -- the folder's regular files with a sound suffix
  (``.wav``, ``.flac``, ``.ogg``: what ``--music`` reads), hidden files,
  links, FIFOs, devices and sub-folders left out (``lstat``, nothing opened
  but the files themselves, each without following a link and without
  waiting: :func:`voiceguide.ownfiles.open_own`), with their length from
  the header when it can be read.
* :func:`choose` -- the path of one NAME: refused (400) with a slash, a
  backslash, ``..``, a leading dot or a control character, and unless it is
  in that listing (404, with "did you mean"); refused when no folder is set,
  with the line that says what to do.

Trap: the folder itself may be a link (``~/Music`` on a mounted drive): it is
the person's setting; only what is inside is held to these rules.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Dict, List, Optional

from voiceguide.errors import NotFoundError, UsageError, did_you_mean
from voiceguide.script.path_policy import SOUND_SUFFIXES

#: What a phone user is told when an exercise needs music the station has not got.
NO_FOLDER = ("choose a piece: set music_folder under [station] in config.toml (a folder of WAV, FLAC or OGG "
             "files) and restart the station; then pick one beside Start, or voiceguide ctl play ID --music NAME")


class BadName(UsageError):
    """A music name that is not a plain file name (a path, hidden, ...)."""


def _names(folder: Path) -> List[str]:
    """The folder's sound files: regular files (not links), not hidden, a sound suffix; sorted."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    names = []
    for entry in entries:
        name = entry.name
        if name.startswith(".") or os.path.splitext(name)[1].lower() not in SOUND_SUFFIXES:
            continue
        try:
            if stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode):
                names.append(name)
        except OSError:
            continue
    return sorted(names, key=str.casefold)


def _seconds(path: Path) -> Optional[float]:
    """The piece's length from its header, read through a descriptor opened without following a link."""
    import soundfile

    from voiceguide.ownfiles import open_own

    try:
        fd = open_own(path, what="piece of music")
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as raw:
            info = soundfile.info(raw)
    except Exception:
        return None
    if not info.samplerate > 0 or not info.frames > 0:
        return None
    return round(info.frames / info.samplerate, 2)


def pieces(folder: Optional[Path]) -> List[Dict[str, Any]]:
    """``[{"name", "seconds"?}]``: the pieces of *folder* (``[]`` without one or when it cannot be read)."""
    if folder is None:
        return []
    result: List[Dict[str, Any]] = []
    for name in _names(Path(folder)):
        seconds = _seconds(Path(folder) / name)
        result.append({"name": name} if seconds is None else {"name": name, "seconds": seconds})
    return result


def check_name(name: Any) -> str:
    """*name* if it is a plain file name; :class:`BadName` otherwise (never a path)."""
    if (not isinstance(name, str) or not name or len(name) > 255 or "/" in name or "\\" in name
            or name.startswith(".") or ".." in name or any(ord(c) < 32 or ord(c) == 127 for c in name)):
        raise BadName(f"music {name!r}: give the name of a piece in the station's music folder, not a path "
                      f"(GET /api/music or voiceguide ctl music lists them)")
    return name


def choose(folder: Optional[Path], name: Any) -> Path:
    """The path of the piece *name* in *folder* (see the module docs for what is refused)."""
    if folder is None:
        raise UsageError(f"music {name!r}: the station has no music folder; {NO_FOLDER}")
    check_name(name)
    names = _names(Path(folder))
    if name not in names:
        where = "" if names else f" (the folder {folder} holds no WAV, FLAC or OGG file the station can read)"
        raise NotFoundError(f"no piece {name!r} in the station's music folder{where}"
                            f"{did_you_mean(name, names)}; GET /api/music lists them")
    return Path(folder) / name
