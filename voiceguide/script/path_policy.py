"""Which files a script may name: the path policy of ``sound:`` and ``include:``.

A script is something people share. So a script may reach only files next
to it or in a folder below it, plus what ships with voiceguide: an absolute
path, ``~``, or a ``..`` or symlink that leaves the script's folder is
refused as a located problem, whatever the file holds.

* ``sound:`` -- relative to the script's folder, else the name of a built-in
  sound (package ``voiceguide.sounds``); the file's header must show a sound
  (:mod:`voiceguide.script.soundfiles`), so ``validate`` catches a text file.
* ``include:`` -- a relative ``.yaml``/``.yml`` path (same rule), or an id
  looked up in the script's folder, the user's scripts, then the built-ins;
  a file found by id that is a symlink out of its folder is refused too, so
  the two forms follow one rule.

Trap: containment is checked on *resolved* paths (symlinks followed), never
on the written text: ``sounds/rain.ogg`` may be a symlink to ``/etc/...``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import List

from yaml.nodes import Node

from voiceguide.errors import did_you_mean
from voiceguide.readfile import NotRegularFile, kind_of
from voiceguide.script.problems import short
from voiceguide.script.soundfiles import NotSound, check_sound_file
from voiceguide.script.values import Reader

SOUND_SUFFIXES = (".wav", ".flac", ".ogg")


@functools.lru_cache(maxsize=1)
def builtin_sounds_dir() -> Path:
    """The folder of the built-in sounds (package ``voiceguide.sounds``)."""
    from importlib.resources import files

    root = files("voiceguide.sounds")
    return root if isinstance(root, Path) else Path(str(root))


def inside(path: Path, root: Path) -> bool:
    """Whether *path* is *root* or below it (both already resolved)."""
    return path == root or root in path.parents


def scripts_in(folder: Path) -> List[Path]:
    """Script files in *folder* (for "did you mean"); [] if it cannot be listed."""
    try:
        return [p for p in folder.iterdir() if p.suffix in (".yaml", ".yml")]
    except OSError:
        return []


# --- sound: ---------------------------------------------------------------------


def sound_path(reader: Reader, node: Node, base_dir: Path) -> Path:
    """Absolute path of a ``sound:`` file: the script's folder, then built-ins.

    Absolute paths and paths that leave the script's folder (after ``..``
    and symlinks are resolved) are refused, unless they land inside the
    built-in sounds folder.
    """
    written = reader.text(node, "sound", numbers=False, limit=1000, one_line=True)
    shown = short(written, 80)
    given = Path(written)
    try:
        builtin_root = builtin_sounds_dir().resolve()
        given = Path(written).expanduser() if written.startswith("~") else Path(written)
        for candidate in _sound_candidates(reader, node, given, shown, base_dir, builtin_root):
            if candidate.is_file():
                return _playable(reader, node, candidate, shown)
            if candidate.is_dir():
                raise reader.err(node, f"sound {shown} is a folder, not a sound file")
            if candidate.exists():  # a FIFO, a device, a socket: say what it is, never "not found"
                raise reader.err(node, f"sound {shown} is {kind_of(candidate.stat().st_mode)}, not a sound file")
        names = sorted(
            p.name for p in builtin_root.iterdir() if p.suffix.lower() in SOUND_SUFFIXES
        ) if builtin_root.is_dir() else []
    except (OSError, RuntimeError, ValueError) as exc:
        raise reader.err(node, f"cannot use the sound path {shown!r} ({exc}); check the path") from exc
    raise reader.err(
        node,
        f"sound file not found: {shown}{did_you_mean(given.name, names)}; looked in the"
        " script's folder and the built-in sounds",
    )


def _playable(reader: Reader, node: Node, path: Path, shown: str) -> Path:
    """*path*, once its header shows a sound file the mixer can loop (no numpy needed)."""
    try:
        check_sound_file(path)
    except NotSound as exc:
        raise reader.err(node, f"sound {shown} cannot be played: {exc}; use a WAV, FLAC or Ogg file") from exc
    except NotRegularFile as exc:
        raise reader.err(node, f"sound {shown} is {exc.kind}, not a sound file") from None
    except OSError as exc:
        raise reader.err(node, f"cannot read the sound file {shown} ({exc.strerror or exc});"
                               " check its permissions") from exc
    return path


def _sound_candidates(reader: Reader, node: Node, given: Path, shown: str, base_dir: Path,
                      builtin_root: Path) -> List[Path]:
    """Where a written sound path may be, in order; refuses paths that escape."""
    if given.is_absolute():
        resolved = given.resolve()
        if not inside(resolved, builtin_root):
            raise reader.err(
                node,
                f"sound path {shown} is absolute; write a path relative to the"
                " script's folder, or the name of a built-in sound",
            )
        return [resolved]
    base_root = base_dir.resolve()
    local = (base_root / given).resolve()
    if not (inside(local, base_root) or inside(local, builtin_root)):
        raise reader.err(
            node,
            f"sound path {shown} leaves the script's folder; keep sound files"
            " next to the script or in a folder below it",
        )
    candidates = [local]
    shipped = (builtin_root / given).resolve()
    if inside(shipped, builtin_root):
        candidates.append(shipped)
    return candidates


# --- include: -------------------------------------------------------------------


def include_target(reader: Reader, node: Node, written: str, base_dir: Path) -> Path:
    """The file an ``include:`` names: a relative path, or an id.

    A path (it has a slash or ends in .yaml/.yml) is relative to the
    including script's folder and may not leave it, like sound paths. An
    id is looked up in the including script's folder, then the user's
    scripts, then the built-ins (see :mod:`voiceguide.script.catalog`).
    """
    from voiceguide.script import catalog

    if catalog.looks_like_path(written):
        return _include_path(reader, node, written, base_dir)
    shown = short(written, 80)
    folders = [base_dir, catalog.user_dir(), catalog.builtin_dir()]
    for folder, where in zip(folders, ("the script's folder", "your scripts folder", "the built-in scripts")):
        for suffix in catalog.SUFFIXES:
            candidate = folder / f"{written}{suffix}"
            if candidate.is_file():
                if not _stays_in(candidate, folder):
                    raise reader.err(node, f"include {shown}: {short(candidate.name, 80)} in {where} is a link"
                                           " to a file outside that folder; copy the script there instead")
                return candidate
    ids = sorted({p.stem for folder in folders for p in scripts_in(folder)})
    raise reader.err(node, f'include: no exercise "{shown}"{did_you_mean(written, ids)}; looked in'
                           " the script's folder, your scripts and the built-ins (`voiceguide list`)")


def _stays_in(candidate: Path, folder: Path) -> bool:
    """Whether *candidate*, symlinks followed, is inside *folder* (itself resolved)."""
    try:
        return inside(candidate.resolve(), folder.resolve())
    except (OSError, RuntimeError):
        return False


def _include_path(reader: Reader, node: Node, written: str, base_dir: Path) -> Path:
    from voiceguide.script import catalog

    shown = short(written, 80)
    given = Path(written)
    if given.is_absolute() or written.startswith("~"):
        raise reader.err(node, f"include {shown} is an absolute path; write a path relative"
                               " to the script's folder, or an exercise id")
    if given.suffix not in catalog.SUFFIXES:
        raise reader.err(node, f"include {shown}: a script path ends in .yaml or .yml")
    try:
        base = base_dir.resolve()
        target = (base / given).resolve()
    except (OSError, RuntimeError) as exc:
        raise reader.err(node, f"cannot include {shown} ({exc}); check the path") from exc
    if not inside(target, base):
        raise reader.err(node, f"include {shown} leaves the script's folder; keep included"
                               " scripts next to it or in a folder below it, or use an id")
    if not target.is_file():
        names = [p.name for p in scripts_in(target.parent)]
        raise reader.err(node, f"include {shown}: no such file{did_you_mean(given.name, names)}")
    return base_dir / given
