"""A person's sound file made into a seamless loop: :func:`sound_loop`.

The only generator that does I/O: it streams one file through soundfile, in
bounded blocks, and refuses one longer than :data:`MAX_SOUND_SECONDS`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import BinaryIO, Callable, Optional, Tuple

import numpy as np

from voiceguide.audio import dsp
from voiceguide.audio.generators._common import LOOP_RMS, _check_sr
from voiceguide.errors import VoiceguideError
from voiceguide.script.units import format_duration


class SoundLoopError(VoiceguideError):
    """A sound file for an ambient loop cannot be read or is unusable."""


#: Crossfade of a sound file's tail into its head (shortened for short files).
SOUND_CROSSFADE_SECONDS = 0.75
#: The longest sound file a loop is made from, and its highest sample rate:
#: the loop is held in memory whole (about 58 MB for five minutes at 48 kHz,
#: and as much again while it is resampled), and a Pi Zero 2 W has 512 MB.
MAX_SOUND_SECONDS = 300.0
MAX_SOUND_RATE = 192_000
#: Frames decoded per read: a bounded buffer, whatever the file's channels.
_READ_FRAMES = 1 << 16


def sound_loop(path: Path, sr: int) -> np.ndarray:
    """A sound file made into a seamless loop.

    The file is read with soundfile (any format libsndfile knows, whatever
    its extension), mixed to mono (channel mean), resampled to ``sr`` with a
    proper band-limited resampler, its DC removed, and its last ``F`` samples
    (0.75 s, at most a quarter of the file) crossfaded into its first ``F``.
    The result is ``F`` samples shorter than the file; its last sample is
    followed, in the original recording, by what is now its first sample, so
    playing it modulo its length has no seam.

    The crossfade is equal-power (``sin``/``cos``) for uncorrelated material,
    which is what a field recording's head and tail are. Trap: if the file is
    already a loop, head and tail are correlated and equal-power fading would
    swell by up to 3 dB; the gains are therefore corrected for the measured
    correlation (equal-gain when it is fully correlated).

    Returns float32 at RMS ``1/sqrt(2)``. Raises :class:`SoundLoopError` when
    the file cannot be read, is silent, is too short (under 0.1 s), or is
    longer than :data:`MAX_SOUND_SECONDS` (checked from its header before
    anything is decoded: a multi-gigabyte file costs nothing to refuse).

    Memory: the file is decoded block by block straight into one float32 mono
    buffer (never the whole file as float64 or as all its channels), then
    resampled into another: five minutes at 48 kHz is about 58 MB each.
    """
    sr = _check_sr(sr)
    path = Path(path)
    x, file_sr = read_mono(path, "sound loop", lambda file_sr, frames: _check_sound_size(path, file_sr, frames))
    if len(x) < 0.1 * file_sr:
        raise SoundLoopError(f"sound loop {str(path)!r} is too short to loop (under 0.1 s)")
    if file_sr != sr:
        x = dsp.resample(x, file_sr, sr)
    x -= np.float32(np.mean(x, dtype=np.float64))
    if not np.any(x) or not np.all(np.isfinite(x)):
        raise SoundLoopError(f"sound loop {str(path)!r} is silent or unreadable")

    n = len(x)
    fade = min(int(round(SOUND_CROSSFADE_SECONDS * sr)), n // 4)
    head, tail = x[:fade].astype(np.float64), x[n - fade:].astype(np.float64)
    denom = math.sqrt(float(np.dot(head, head)) * float(np.dot(tail, tail)))
    rho = float(np.dot(head, tail)) / denom if denom > 0 else 0.0
    rho = min(max(rho, 0.0), 1.0)
    theta = (0.5 * np.pi) * np.arange(fade) / fade
    g_in, g_out = np.sin(theta), np.cos(theta)
    # Constant power for partially correlated signals:
    # g_in^2 + g_out^2 + 2 rho g_in g_out = 1.
    norm = 1.0 / np.sqrt(1.0 + rho * np.sin(2.0 * theta))
    out = x[: n - fade]
    out[:fade] = (head * g_in + tail * g_out) * norm
    # As _normalise_rms, without its float64 copy of the whole loop.
    squares = sum(float(np.dot(c, c)) for c in
                  (out[i:i + _READ_FRAMES].astype(np.float64) for i in range(0, len(out), _READ_FRAMES)))
    rms = math.sqrt(squares / len(out))
    if not rms > 0.0 or not math.isfinite(rms):
        raise SoundLoopError(f"sound loop {str(path)!r} is silent")
    out *= LOOP_RMS / rms
    return np.ascontiguousarray(out)


def _check_sound_size(path: Path, file_sr: int, frames: int) -> None:
    """Refuse, from the header alone, a file too long (or too fast) to loop within our memory."""
    if not 0 < file_sr <= MAX_SOUND_RATE:
        raise SoundLoopError(f"sound loop {str(path)!r} has a sample rate of {file_sr} Hz; "
                             f"use a file at {MAX_SOUND_RATE} Hz or less")
    if frames > MAX_SOUND_SECONDS * file_sr:
        limit = format_duration(MAX_SOUND_SECONDS)
        raise SoundLoopError(f"sound loop {str(path)!r} lasts {format_duration(frames / file_sr)}; "
                             f"a sound loop may last at most {limit} (it is held in memory "
                             f"whole): cut a shorter one, a minute or two loops well")


def open_sound(path: Path, what: str) -> BinaryIO:
    """The person's sound file at *path*, open for reading, once it is known to be a regular file.

    libsndfile opens a path by itself, in C: a FIFO put there would hang it
    for ever and ``/dev/zero`` would be decoded until the memory is gone.
    So the file is opened here, without blocking and after a check
    (:func:`voiceguide.readfile.open_regular`), and libsndfile reads from
    this very descriptor (``soundfile.SoundFile`` takes a file object), so
    nothing can be swapped in between. Raises :class:`SoundLoopError`
    saying what the path is instead.
    """
    from voiceguide.readfile import NotRegularFile, describe, open_regular

    try:
        fd = open_regular(path)
    except NotRegularFile as exc:
        raise SoundLoopError(f"{what} {str(path)!r} is {exc.kind}, not a sound file") from None
    except OSError as exc:
        raise SoundLoopError(f"cannot read {what} {str(path)!r}: it {describe(path, exc)}") from None
    return os.fdopen(fd, "rb")


def read_mono(path: Path, what: str, check: Callable[[int, int], None],
              max_frames: Optional[Callable[[int], int]] = None) -> Tuple[np.ndarray, int]:
    """(float32 mono samples, the file's rate), decoded block by block into one buffer.

    *check(file_sr, frames)* may refuse the file from its header before
    anything is decoded; *max_frames(file_sr)* decodes only the start of a
    longer file. Errors are :class:`SoundLoopError` naming *what* and the file.
    """
    import soundfile

    try:
        with open_sound(path, what) as raw, soundfile.SoundFile(raw) as f:
            file_sr, frames, channels = int(f.samplerate), int(f.frames), int(f.channels)
            check(file_sr, frames)
            if max_frames is not None:
                frames = min(frames, max_frames(file_sr))
            x = np.empty(frames, dtype=np.float32)
            block = np.empty((max(1, min(frames, _READ_FRAMES)), channels), dtype=np.float32)
            done = 0
            while done < frames:
                got = len(f.read(min(_READ_FRAMES, frames - done), dtype="float32", out=block))
                if got == 0:
                    break  # the header promised more than the file holds
                np.mean(block[:got], axis=1, out=x[done:done + got])
                done += got
    except SoundLoopError:
        raise
    except Exception as exc:  # LibsndfileError, RuntimeError, OSError ...
        raise SoundLoopError(f"cannot read {what} {str(path)!r}: {exc}") from exc
    return x[:done], file_sr
