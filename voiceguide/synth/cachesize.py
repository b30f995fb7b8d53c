"""Keeping the speech cache bounded: by size and by age, least recently used first.

Without a bound the cache only grows (1.2 GB for under two hours of speech
was measured). :func:`prune` brings a cache folder within its
:class:`Limits`: first every clip unused for longer than ``max_age_s`` goes,
then the least recently used ones until the rest fit in ``max_bytes``. A
clip's "use" is its file's modification time, set whenever a session reads
it (:meth:`voiceguide.synth.cache.OpenEntry.touch`), because access times are
not kept on most systems (``noatime``, ``relatime``).

The synthesizer prunes when a session that added clips ends; ``voiceguide
cache`` shows the folder and ``voiceguide cache --clear`` empties it.
Removing a clip a running session uses is safe: the session holds the file
open (see :class:`~voiceguide.synth.synthesizer.Synthesizer`), and only its
name goes.

A symbolic link in the folder's place is refused
(:class:`~voiceguide.ownfiles.PlantedLink`), never followed: ``--clear``
says so, pruning leaves it. Only our own names are ever touched: ``*.clip`` entries, ``*.npy`` entries of
the format before (never read again), and our temporary files (``.tmp-*``)
once they are :data:`~voiceguide.synth.cache.STALE_SECONDS` old. Anything
else in the folder (``digests.json``, a file of a person's) is left alone.

The folder's :data:`MODELS` sub-folder holds each Piper voice's prepared
(patched, optimised) ONNX model, ~63 MB a voice
(:func:`voiceguide.synth.engines.piper.optimised_path`: a folder of the
graph and its weights, or of the model cut before its vocoder on a small
machine; one ``.onnx`` file before format 4), and the
temporary folders a worker writes one into. They are not clips:
:func:`prune` leaves them alone (a worker sweeps its own stale temporaries
there). ``voiceguide cache`` counts them (:attr:`Usage.models`) and
``--clear`` removes them (:func:`clear`): only our names (``piper-<digest>``,
``piper-<digest>.small``, ``piper-<digest>.onnx`` and ``.tmp-<pid>-<id>`` once
:data:`CLEAR_TEMP_AGE_S` old), only folders and regular files, removed
relative to the folder opened without following a link
(:func:`voiceguide.ownfiles.open_folder`). A link in the ``models``
folder's place is refused like one in the cache's place. A session that
already loaded a model keeps it; the next Piper worker prepares it again
(about a second).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from . import cache

MB = 1024 * 1024
DAY = 86400.0
#: Defaults when the config says nothing (``speech_cache_mb``, ``speech_cache_days``).
DEFAULT_MB = 500
DEFAULT_DAYS = 60
#: ``--clear`` leaves temporary files younger than this: a running worker's.
CLEAR_TEMP_AGE_S = 60.0
#: The sub-folder of prepared voice models (see the module notes).
MODELS = "models"
#: Our names in it: a prepared model (:func:`~voiceguide.synth.engines.piper.optimised_path`: a
#: folder of two files, its name ending in ``.small`` on a small machine; a single ``.onnx`` file
#: before), and the temporary folder (or file, before) a worker writes one into
#: (``engines.piper._Saving``).
_MODEL_NAME = re.compile(r"piper-[0-9a-f]{32}(\.onnx|\.small)?")
_MODEL_TEMP = re.compile(re.escape(cache.TEMP_PREFIX) + r"[0-9]+-[0-9a-f]{12}(\.onnx)?")


@dataclass(frozen=True)
class Limits:
    """How much the speech cache may keep."""

    max_bytes: int = DEFAULT_MB * MB
    max_age_s: float = DEFAULT_DAYS * DAY

    @classmethod
    def from_config(cls, strict: bool = False) -> "Limits":
        """The limits from ``config.toml`` / ``VOICEGUIDE_SPEECH_CACHE_MB`` / ``..._DAYS``.

        Not *strict*, a config that cannot be read gives the defaults: the
        commands that read the config report it, and pruning at the end of a
        session must not fail it. *strict* raises the config's error.
        """
        from voiceguide.config import effective

        try:
            values = effective()
        except Exception:  # ConfigError, UsageError, an unreadable file
            if strict:
                raise
            return cls()
        return cls(int(values["speech_cache_mb"].value) * MB, float(values["speech_cache_days"].value) * DAY)


@dataclass(frozen=True)
class Usage:
    """What a speech cache folder holds."""

    folder: Path
    clips: int
    bytes: int
    oldest_use: Optional[float]   # modification time of the least recently used clip
    newest_use: Optional[float]
    other_bytes: int              # old-format entries and left-over temporary files
    models: int = 0               # prepared voice models in the models folder
    model_bytes: int = 0
    model_temp_bytes: int = 0     # temporary files there: being written, or left by a killed worker


@dataclass(frozen=True)
class Removed:
    files: int
    bytes: int


def _scan(folder: Path) -> Tuple[List[Tuple[float, int, Path]], List[Tuple[float, int, Path, bool]]]:
    """(clips as (mtime, size, path), others as (mtime, size, path, is_folder)) in *folder*."""
    clips: List[Tuple[float, int, Path]] = []
    others: List[Tuple[float, int, Path, bool]] = []
    from voiceguide.ownfiles import refuse_link

    refuse_link(folder, "folder")  # a link in the cache's place: PlantedLink, nothing deleted through it
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return clips, others
    for name in names:
        ours_entry = name.endswith(cache.SUFFIX) and not name.startswith(".")
        old_entry = name.endswith(".npy") and not name.startswith(".")
        temporary = name.startswith(cache.TEMP_PREFIX)
        if not (ours_entry or old_entry or temporary):
            continue
        path = Path(folder) / name
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if ours_entry and stat.S_ISREG(info.st_mode):
            clips.append((info.st_mtime, info.st_size, path))
        else:
            others.append((info.st_mtime, info.st_size if stat.S_ISREG(info.st_mode) else 0, path,
                           stat.S_ISDIR(info.st_mode)))
    return clips, others


def usage(folder: Path) -> Usage:
    """How many clips and bytes *folder* holds (a missing folder holds nothing)."""
    clips, others = _scan(Path(folder))
    models = _models(Path(folder))
    times = [c[0] for c in clips]
    return Usage(Path(folder), len(clips), sum(c[1] for c in clips), min(times, default=None),
                 max(times, default=None), sum(o[1] for o in others),
                 models=sum(1 for m in models if not m[3]), model_bytes=sum(m[1] for m in models if not m[3]),
                 model_temp_bytes=sum(m[1] for m in models if m[3]))


def _models(folder: Path, clear_at: Optional[float] = None) -> List[Tuple[str, int, float, bool]]:
    """Our models in *folder*'s :data:`MODELS` sub-folder as (name, size, mtime, is_temporary).

    With *clear_at* (the time now) they are removed, except temporaries
    younger than :data:`CLEAR_TEMP_AGE_S` (a worker is writing one), and
    those removed are returned. Only folders (and regular files, the older
    format) with our names, each removed relative to the folder opened
    without following a link; a link in the folder's place raises
    :class:`~voiceguide.ownfiles.PlantedLink`, a missing folder (or a file
    in its place) holds nothing.
    """
    from voiceguide.ownfiles import folder_bytes, open_folder, refuse_link, remove_folder

    where = Path(folder) / MODELS
    refuse_link(where, "folder")
    try:
        fd = open_folder(where)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found: List[Tuple[str, int, float, bool]] = []
    try:
        with os.scandir(fd) as entries:
            names = [e.name for e in entries]
        for name in names:
            temporary = bool(_MODEL_TEMP.fullmatch(name))
            if not (temporary or _MODEL_NAME.fullmatch(name)):
                continue
            try:
                info = os.lstat(name, dir_fd=fd)
            except OSError:
                continue
            is_folder = stat.S_ISDIR(info.st_mode)
            if not (is_folder or stat.S_ISREG(info.st_mode)):
                continue  # a link under our name: not ours, left alone
            size = folder_bytes(name, dir_fd=fd) if is_folder else info.st_size
            if clear_at is not None:
                if temporary and clear_at - info.st_mtime < CLEAR_TEMP_AGE_S:
                    continue
                try:
                    remove_folder(name, dir_fd=fd) if is_folder else os.unlink(name, dir_fd=fd)
                except OSError:
                    continue
            found.append((name, size, info.st_mtime, temporary))
    finally:
        os.close(fd)
    return found


def _remove(path: Path, is_folder: bool = False) -> bool:
    try:
        if is_folder:
            shutil.rmtree(path)
        else:
            os.unlink(path)
        return True
    except FileNotFoundError:
        return False
    except OSError:
        return False


def prune(folder: Path, limits: Limits, now: Optional[float] = None) -> Removed:
    """Bring *folder*'s clips within *limits*; what was removed. Never raises for a file it cannot remove.

    The prepared voice models (:data:`MODELS`) are not clips and stay.
    """
    now = time.time() if now is None else now
    try:
        clips, others = _scan(Path(folder))
    except OSError:  # a link in the folder's place: the next `voiceguide cache` names it
        return Removed(0, 0)
    files = freed = 0
    for mtime, size, path, is_folder in others:
        old_format = path.name.endswith(".npy")
        stale = now - mtime > cache.STALE_SECONDS
        if (old_format or stale) and _remove(path, is_folder):
            files, freed = files + 1, freed + size
    clips.sort()  # least recently used first
    total = sum(c[1] for c in clips)
    for mtime, size, path in clips:
        if now - mtime <= limits.max_age_s and total <= limits.max_bytes:
            break
        if _remove(path):
            files, freed = files + 1, freed + size
        total -= size
    return Removed(files, freed)


def clear(folder: Path, now: Optional[float] = None) -> Removed:
    """Remove every clip, every prepared voice model and every left-over of ours from *folder*.

    A link in the folder's or the models folder's place raises
    :class:`~voiceguide.ownfiles.PlantedLink` before anything is removed.
    """
    from voiceguide.ownfiles import refuse_link

    now = time.time() if now is None else now
    clips, others = _scan(Path(folder))
    refuse_link(Path(folder) / MODELS, "folder")
    files = freed = 0
    for _, size, path in clips:
        if _remove(path):
            files, freed = files + 1, freed + size
    for mtime, size, path, is_folder in others:
        if path.name.startswith(cache.TEMP_PREFIX) and now - mtime < CLEAR_TEMP_AGE_S:
            continue  # a worker is writing it right now
        if _remove(path, is_folder):
            files, freed = files + 1, freed + size
    for _, size, _, _ in _models(Path(folder), clear_at=now):
        files, freed = files + 1, freed + size
    return Removed(files, freed)
