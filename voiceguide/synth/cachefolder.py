"""The speech cache's folder: where it is, and whether speech can be stored there.

Checked before any worker starts, so an unwritable folder is one line naming
it and the cure, not a speech engine that seems to fail.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import CacheError
from . import cache

__all__ = ["cache_folder_error", "check_cache_folder", "default_cache_dir"]


def default_cache_dir() -> Path:
    from voiceguide.paths import speech_cache_dir

    return speech_cache_dir()


def check_cache_folder(folder: Path) -> None:
    """Make sure speech can be stored in *folder*; :class:`CacheError` naming it and the cure if not."""
    import errno as _errno

    from voiceguide.ownfiles import own_folder

    folder = Path(folder)
    try:
        own_folder(folder, mode=0o700)   # private, like the entries; never a link
        if not folder.is_dir():
            raise FileExistsError(_errno.EEXIST, "not a folder")
        probe = cache.temp_path(folder, ".probe")
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise cache_folder_error(folder, e) from None


def cache_folder_error(folder: Path, e: OSError) -> CacheError:
    """The one line for a speech cache folder that cannot be written, by cause."""
    import errno as _errno

    from voiceguide.ownfiles import PlantedLink

    if isinstance(e, PlantedLink):
        return CacheError(f"the speech cache folder {e}")
    if e.errno == _errno.ENOSPC or e.errno == getattr(_errno, "EDQUOT", -1):
        return CacheError(f"the disk holding the speech cache folder {folder} is full: free some space "
                          "(`voiceguide cache --clear` empties this cache)")
    if isinstance(e, (FileExistsError, NotADirectoryError)):
        return CacheError(f"the speech cache folder {folder} is not a folder (or sits inside a file): "
                          "move that file away; voiceguide makes the folder again")
    if e.errno in (_errno.EACCES, _errno.EPERM, _errno.EROFS):
        return CacheError(f"cannot write the speech cache folder {folder} ({e.strerror}): make it writable "
                          f"(chmod u+w '{folder}') or remove it; voiceguide makes it again")
    return CacheError(f"cannot write the speech cache folder {folder} ({e.strerror or e}): "
                      "check it, or remove it; voiceguide makes it again")
