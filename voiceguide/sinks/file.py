"""Where mixed blocks go: an audio file, or nowhere (the live sink is in :mod:`voiceguide.sinks.live`).

A sink has ``write(block)`` and ``close()``. Files are written through
python-soundfile, block by block, so memory stays flat for a session of any
length, into a temporary file beside the target that replaces it only when
the whole mix is done: an interrupted render never leaves half a file.

The temporary file is hidden and names the process that writes it
(``.session.wav.<pid>.<random>.vgpart``). An orderly stop removes it (``render``
turns SIGTERM and SIGHUP into an exception for that); after SIGKILL or a
power cut it stays, and :func:`remove_stale` -- called by the next render
into that folder -- removes those whose process is gone. Nobody else's
files match that name.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import List

from voiceguide.errors import UsageError

#: Extension -> (libsndfile format, subtype). WAV and FLAC keep 24 bits so a
#: quiet ambient bed keeps its detail; OGG is Vorbis.
FORMATS = {
    ".wav": ("WAV", "PCM_24"),
    ".flac": ("FLAC", "PCM_24"),
    ".ogg": ("OGG", "VORBIS"),
}


#: The end of our temporary files' names (see the module's docstring).
TEMP_SUFFIX = ".vgpart"
_OURS = re.compile(r"^\..+\.(\d+)\.[^.]+" + re.escape(TEMP_SUFFIX) + "$")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    return True


def remove_stale(folder: Path) -> List[Path]:
    """Remove unfinished renders of ours in *folder* whose process has ended; return them."""
    removed: List[Path] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _OURS.match(name)
        if not match or _running(int(match.group(1))):
            continue
        path = Path(folder) / name
        try:
            if path.is_file() and not path.is_symlink():
                path.unlink()
                removed.append(path)
        except OSError:
            pass
    return removed


def check_target(path: Path) -> None:
    """Refuse a target we cannot write without harming anything."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"{path}: unknown audio format {suffix or '(none)'}; "
                         f"use a file ending in {', '.join(FORMATS)}")
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give a file name such as {path / 'session.wav'}")
    if not path.parent.exists():
        raise UsageError(f"{path.parent}: no such folder; create it first or choose another path")


class FileSink:
    """Writes float32 blocks to WAV, FLAC or OGG, atomically.

    With ``replace=False`` the finished file never replaces an existing one,
    even one that appeared while the mix was written (:class:`FileExistsError`
    from :meth:`close`; the partial file is removed).
    """

    def __init__(self, path: Path, sample_rate: int, channels: int = 1, replace: bool = True):
        import soundfile

        self.path = Path(path)
        self.replace = replace
        check_target(self.path)
        fmt, subtype = FORMATS[self.path.suffix.lower()]
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX,
                                   dir=str(self.path.parent))
        os.close(fd)
        self._tmp = Path(tmp)
        self._file = soundfile.SoundFile(tmp, "w", samplerate=sample_rate, channels=channels,
                                         format=fmt, subtype=subtype)
        self.frames = 0

    def write(self, block) -> None:
        self._file.write(block)
        self.frames += len(block)

    def close(self) -> None:
        """Finish the file and move it into place, with the usual mode (mkstemp's is 0600)."""
        from voiceguide.atomic import place, usual_mode

        self._file.close()
        os.chmod(self._tmp, usual_mode())
        try:
            place(self._tmp, self.path, self.replace)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise

    def abort(self) -> None:
        """Drop the partial file; the target is left as it was."""
        try:
            self._file.close()
        finally:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "FileSink":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class NullSink:
    """Counts frames and drops them (benchmarks, dry runs)."""

    def __init__(self) -> None:
        self.frames = 0

    def write(self, block) -> None:
        self.frames += len(block)

    def close(self) -> None:
        pass
