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
from typing import Any, Callable, Dict, List, Optional

from voiceguide.errors import FileAccessError, UsageError, file_error

#: Extension -> (libsndfile format, subtype). WAV and FLAC keep 24 bits so a
#: quiet ambient bed keeps its detail; OGG is Vorbis; MP3 (libsndfile >= 1.1,
#: LAME inside) and Opus in Ogg are for phones (see :data:`ENCODING`).
FORMATS = {
    ".wav": ("WAV", "PCM_24"),
    ".flac": ("FLAC", "PCM_24"),
    ".ogg": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
    ".opus": ("OGG", "OPUS"),
}

#: Encoder settings by extension, as python-soundfile (>= 0.13) passes them to libsndfile.
#: MP3: LAME's variable bitrate at quality 5 of 0..9 (``compression_level`` 0.5), mono: about
#: 65 kbit/s, 0.49 MB a minute of the spoken body scan over its ambient bed
#: (``benchmarks/downloads.py``); the voice stays clear and the noise beds keep their texture.
ENCODING: Dict[str, Dict[str, Any]] = {
    ".mp3": {"compression_level": 0.5, "bitrate_mode": "VARIABLE"},
    ".opus": {"compression_level": 0.8},   # about 57 kbit/s mono
}


def encoder_available(suffix: str) -> bool:
    """Whether this machine's libsndfile can write *suffix* (MP3 needs libsndfile >= 1.1)."""
    import soundfile

    fmt, subtype = FORMATS[suffix.lower()]
    return fmt in soundfile.available_formats() and subtype in soundfile.available_subtypes(fmt)


#: The end of our temporary files' names (see the module's docstring).
TEMP_SUFFIX = ".vgpart"
_OURS = re.compile(r"\..+\.(\d+)\.[^.]+" + re.escape(TEMP_SUFFIX))  # fullmatch-ed: no final newline


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
        match = _OURS.fullmatch(name)
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
    import stat

    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"{path}: unknown audio format {suffix or '(none)'}; "
                         f"use a file ending in {', '.join(FORMATS)}")
    if suffix in (".mp3", ".opus") and not encoder_available(suffix):
        raise UsageError(f"{path}: this machine's libsndfile cannot write {suffix[1:].upper()} "
                         f"(MP3 needs libsndfile 1.1 or later); use .ogg, .flac or .wav")
    try:
        if stat.S_ISDIR(os.stat(path).st_mode):
            raise UsageError(f"{path} is a folder; give a file name such as {path / 'session.wav'}")
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise file_error(path, exc, "write it") from None
    try:
        folder = os.stat(path.parent or ".")
    except FileNotFoundError:
        raise UsageError(f"{path.parent}: no such folder; create it first or choose another path") from None
    except OSError as exc:
        raise file_error(path, exc, "write it") from None
    if not stat.S_ISDIR(folder.st_mode):
        raise UsageError(f"{path.parent} is not a folder; choose another path")


def check_writable(path: Path) -> None:
    """Make and remove a file beside *path*: a folder that refuses it is reported before a long mix.

    The error names *path* (what the person gave), never the probe.
    """
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX,
                                     dir=str(path.parent))
    except OSError as exc:
        raise file_error(path, exc, "write it") from None
    os.close(fd)
    os.unlink(probe)


def _libsndfile_error(path: Path, exc: Exception, handle=None, ask: bool = True):
    """The :class:`~voiceguide.errors.FileAccessError` for a failed libsndfile call on *path*.

    Trap: libsndfile reports every operating-system failure as "System
    error"; the reason (a full disk, a file size limit) is only in the text
    of ``sf_strerror``, which python-soundfile does not pass on, so it is
    read here and matched back to its errno.

    Why private names: :class:`soundfile.LibsndfileError` carries only the
    code (``.code``, 2 for any system failure) and that code's generic words
    (``.error_string``, from ``sf_error_number``: "System error."); the
    reason is kept per handle and only ``sf_strerror(handle)`` gives it,
    which soundfile does not wrap. So this function, and nothing else, calls
    it through soundfile's own binding of libsndfile (``soundfile._snd``,
    ``soundfile._ffi``) with the open file's handle (``SoundFile._file``). A
    soundfile without those names is an ``AttributeError``: the generic
    words then, and the free-space check below still finds a full disk.
    ``tests/cli/test_person_errors.py`` writes into a full disk and past a
    file size limit, so a soundfile that moves them is noticed.
    """
    import errno as E

    import soundfile

    detail = ""
    if ask:  # otherwise the handle is closed: its words are gone, and the global ones may be stale
        try:
            ptr = soundfile._snd.sf_strerror(handle if handle is not None else soundfile._ffi.NULL)
            detail = soundfile._ffi.string(ptr).decode("utf-8", "replace")
        except AttributeError:  # an older or newer soundfile without these names: the generic words
            pass
    for code in (E.ENOSPC, E.EDQUOT, E.EFBIG, E.EACCES, E.EPERM, E.EROFS, E.EIO):
        if os.strerror(code) in detail:
            return file_error(path, OSError(code, os.strerror(code)), "write it")
    try:  # no words to go by (the file was closed): is the disk full?
        room = os.statvfs(path.parent or ".")
        if room.f_bavail == 0 or room.f_bfree == 0:
            return file_error(path, OSError(E.ENOSPC, os.strerror(E.ENOSPC)), "write it")
    except (OSError, AttributeError):
        pass
    return FileAccessError(f"{path}: cannot write it: {detail.strip() or exc}; check the disk, or choose "
                           f"another place", path)


class FileSink:
    """Writes float32 blocks to WAV, FLAC, OGG, MP3 or Opus, atomically.

    With ``replace=False`` the finished file never replaces an existing one,
    even one that appeared while the mix was written (:class:`FileExistsError`
    from :meth:`close`; the partial file is removed). *finish*, when given,
    is called with the finished temporary file before it takes the target's
    name (the tags of an MP3: :mod:`voiceguide.sinks.tags`).
    """

    def __init__(self, path: Path, sample_rate: int, channels: int = 1, replace: bool = True,
                 finish: Optional[Callable[[Path], None]] = None):
        import soundfile

        self.path = Path(path)
        self.replace = replace
        self.finish = finish
        self._sf_error = soundfile.LibsndfileError
        check_target(self.path)
        fmt, subtype = FORMATS[self.path.suffix.lower()]
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX,
                                       dir=str(self.path.parent))
        except OSError as exc:
            raise file_error(self.path, exc, "write it") from None
        os.close(fd)
        self._tmp = Path(tmp)
        try:
            settings = ENCODING.get(self.path.suffix.lower(), {})
            try:
                self._file = soundfile.SoundFile(tmp, "w", samplerate=sample_rate, channels=channels,
                                                 format=fmt, subtype=subtype, **settings)
            except TypeError:  # python-soundfile < 0.13 has no encoder settings: libsndfile's defaults
                self._file = soundfile.SoundFile(tmp, "w", samplerate=sample_rate, channels=channels,
                                                 format=fmt, subtype=subtype)
        except BaseException as exc:
            self._tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise file_error(self.path, exc, "write it") from None
            if isinstance(exc, soundfile.LibsndfileError):
                raise _libsndfile_error(self.path, exc) from None
            raise
        self.frames = 0

    def write(self, block) -> None:
        try:
            self._file.write(block)
        except OSError as exc:
            raise file_error(self.path, exc, "write it") from None
        except self._sf_error as exc:  # the disk is full, a file size limit
            raise _libsndfile_error(self.path, exc, self._file._file) from None
        self.frames += len(block)

    def close(self) -> None:
        """Finish the file and move it into place, with the usual mode (mkstemp's is 0600).

        On any failure the partial file is removed and the target left as it was.
        """
        from voiceguide.atomic import place, usual_mode

        try:
            try:
                self._file.close()  # writes the rest and the header: a full disk may show only now
            except OSError as exc:
                raise file_error(self.path, exc, "write it") from None
            except self._sf_error as exc:  # the handle is gone: the reason is guessed from the disk
                raise _libsndfile_error(self.path, exc, ask=False) from None
            if self.finish is not None:
                try:
                    self.finish(self._tmp)
                except OSError as exc:
                    raise file_error(self.path, exc, "write it") from None
            os.chmod(self._tmp, usual_mode())
            try:
                place(self._tmp, self.path, self.replace)
            except FileExistsError:
                raise
            except OSError as exc:
                raise file_error(self.path, exc, "write it") from None
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise

    def abort(self) -> None:
        """Drop the partial file; the target is left as it was (errors closing it are beside the point)."""
        try:
            self._file.close()
        except (OSError, RuntimeError):
            pass  # libsndfile's own error (soundfile's are RuntimeErrors) or the OS's: the file is dropped anyway
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
