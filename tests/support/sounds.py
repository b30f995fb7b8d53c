"""Small real sound files for loader tests (the loader reads their headers), made with the stdlib."""

from __future__ import annotations

import wave
from pathlib import Path


def write_wav(path: Path, seconds: float = 0.05, rate: int = 22050) -> Path:
    """A short silent mono 16-bit WAV at *path*."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * int(seconds * rate))
    return path
