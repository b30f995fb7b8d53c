"""The listener's own music for a ``music`` step: checked early, decoded once, cached.

``play --music FILE`` and ``render --music FILE`` give the piece; the script
only says where it goes (``music: 5m``: the whole piece, or up to five
minutes, faded in and out). What this module adds to
:func:`voiceguide.audio.generators.music_piece`:

* :func:`check_request` -- before any sound: a script with a music step
  needs ``--music`` (in ``play`` and ``render``), a script without one
  refuses it, and the file must be readable audio. One clear line each.
* :func:`load_piece` -- the decoded, resampled, levelled piece is kept in
  the loop cache (memory-mapped, keyed by the file's path, size and
  modification time), so a second session starts at once and a Raspberry
  Pi does not hold two copies in memory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from voiceguide.errors import UsageError
from voiceguide import kinds
from voiceguide.script.model import Script


def music_steps(script: Script) -> list:
    """The script's music steps, as written (``--music`` is for the music kind's steps)."""
    return kinds.find(script.steps, "music")


def check_request(script: Script, music: Optional[Path], *, required: bool) -> None:
    """Refuse, in one line, a ``--music`` that does not fit *script* (before anything sounds)."""
    steps = music_steps(script)
    if music is None:
        if steps and required:
            raise UsageError(f'"{script.title}" plays a piece of music you choose: add --music FILE '
                             f"(a WAV, FLAC or OGG file), e.g. voiceguide play {script.id} --music song.flac")
        return
    if not steps:
        raise UsageError(f'--music {music}: "{script.title}" has no music step; --music is for exercises '
                         f"that play your own piece, such as music-listening")
    piece_seconds(music)


def piece_seconds(music: Path) -> float:
    """The piece's length from its header (:class:`UsageError` if it is not readable audio)."""
    from voiceguide.audio.generators import SoundLoopError, music_seconds

    path = Path(music)
    refuse_unreadable(path)
    try:
        return music_seconds(path)
    except SoundLoopError as exc:
        raise UsageError(f"--music {music}: {exc}; use a WAV, FLAC or OGG file") from None


def refuse_unreadable(music: Path) -> None:
    """One line for a ``--music`` that is not a regular file: what it *is*, never just "no such file".

    A FIFO (``<(...)``, ``/dev/stdin`` on a pipe), a device (``/dev/zero``,
    ``/dev/stdin`` when standard input is closed and /dev/null stands in
    for it), a folder, a dangling link or ``-``: libsndfile would wait for a
    writer, read for ever or fail without saying why. Checked without
    opening anything that is not a regular file
    (:func:`voiceguide.readfile.check_regular`).
    """
    from voiceguide.readfile import NotRegularFile, check_regular, describe

    hint = "give the path of a WAV, FLAC or OGG file"
    try:
        check_regular(music)
    except NotRegularFile as exc:
        what = "standard input" if str(music) in ("/dev/stdin", "/proc/self/fd/0", "/dev/fd/0") else "it"
        raise UsageError(f"--music {music}: {what} is {exc.kind}, not a sound file; {hint}") from None
    except FileNotFoundError as exc:
        if str(music) == "-" and not os.path.islink(music):
            raise UsageError(f"--music -: music cannot be read from standard input; {hint}") from None
        if os.path.islink(music):
            raise UsageError(f"--music {music}: it {describe(music, exc)}; {hint}") from None
        raise UsageError(f"--music {music}: no such file; {hint}") from None
    except OSError as exc:
        raise UsageError(f"--music {music}: it {describe(music, exc)}; {hint}") from None


def load_piece(music: Path, sample_rate: int, samples: int):
    """The first *samples* of the piece at *sample_rate*, levelled (see the module docs)."""
    from voiceguide.audio.generators import music_piece
    from voiceguide.audio.loopcache import cached_loop

    path = Path(music).resolve()
    stat = path.stat()
    seconds = samples / sample_rate
    key = f"music|{path}|{stat.st_size}|{stat.st_mtime_ns}|{sample_rate}|{samples}"
    return cached_loop(key, lambda: music_piece(path, sample_rate, seconds))
