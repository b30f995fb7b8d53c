"""The listener's own piece of music for a ``music`` step: :func:`music_piece`, :func:`music_seconds`.

Like :mod:`.sound_file` it reads a person's file (through the same bounded,
block-by-block decoder), but plays it once, from the start, instead of
making a loop of it, and only decodes the part that will be played.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from voiceguide.audio import dsp
from voiceguide.audio.generators._common import _check_sr
from voiceguide.audio.generators.sound_file import (_READ_FRAMES, MAX_SOUND_RATE, SoundLoopError, open_sound,
                                                    read_mono)

#: The listener's music is brought to this RMS level (about as loud as speech, before the limiter).
MUSIC_RMS_DB = -20.0


def music_piece(path: Path, sr: int, seconds: float) -> np.ndarray:
    """The first *seconds* of the piece in *path*: mono float32 at *sr*, RMS :data:`MUSIC_RMS_DB`.

    Music files are mastered loud (peaks at full scale, RMS near -12 dBFS);
    played as they are they would jump out of a quiet session, so the piece
    is brought to about the level of the voice (the master limiter catches
    its peaks). Raises :class:`SoundLoopError` for a file that cannot be read
    or is silent. Memory: the decoded part as float32 at the file's rate,
    then resampled (eight minutes at 48 kHz is about 92 MB, once: the caller
    caches the result on disk).
    """
    sr = _check_sr(sr)
    path = Path(path)

    def check(file_sr: int, frames: int) -> None:
        if not 0 < file_sr <= MAX_SOUND_RATE:
            raise SoundLoopError(f"music {str(path)!r} has a sample rate of {file_sr} Hz; "
                                 f"use a file at {MAX_SOUND_RATE} Hz or less")

    x, file_sr = read_mono(path, "music", check, lambda file_sr: int(math.ceil(seconds * file_sr)))
    if file_sr != sr and len(x):
        x = dsp.resample(x, file_sr, sr)
    if len(x):
        x -= np.float32(np.mean(x, dtype=np.float64))
    squares = sum(float(np.dot(c, c)) for c in
                  (x[i:i + _READ_FRAMES].astype(np.float64) for i in range(0, len(x), _READ_FRAMES)))
    rms = math.sqrt(squares / len(x)) if len(x) else 0.0
    if not rms > 1e-6 or not math.isfinite(rms):
        raise SoundLoopError(f"music {str(path)!r} is silent or unreadable")
    x *= np.float32(10 ** (MUSIC_RMS_DB / 20) / rms)
    return np.ascontiguousarray(x, dtype=np.float32)


def music_seconds(path: Path) -> float:
    """How long the piece in *path* lasts, from its header alone (nothing decoded)."""
    import soundfile

    with open_sound(path, "music") as raw:  # never libsndfile's own open of a FIFO or a device
        try:
            info = soundfile.info(raw)
        except Exception as exc:
            raise SoundLoopError(f"cannot read music {str(path)!r}: {exc}") from exc
    if not info.samplerate > 0 or not info.frames > 0:
        raise SoundLoopError(f"music {str(path)!r} holds no sound")
    return info.frames / info.samplerate
