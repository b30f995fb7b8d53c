"""Parsing of the written forms of durations, levels and notes.

These are pure functions raising :class:`ValueError` with a message that can
be shown after ``file:line:col:``; the loader adds the location.
"""

from __future__ import annotations

import math
import re
from typing import Union

Number = Union[int, float]

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ms|min|sec|s|m|h)?", re.I)

# The written forms as regular expressions, in the dialect shared by Python's
# ``re`` and ECMA-262 (no flags, so letters are spelt [mM]): the parsers below
# refuse what they do not match, and ``voiceguide schema`` publishes them as
# JSON Schema ``pattern`` -- so an editor and ``validate`` agree on every string.
_N = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_DB = r"(?:[dD][bB])?"

#: A duration string: parts larger unit first, each at most once; a bare
#: number (seconds) only last: ``4``, ``500ms``, ``1.5s``, ``2m``, ``1m30s``, ``1h 5m``.
DURATION_PATTERN = (
    r"^\s*(?=[\s\S]*[0-9])"
    rf"(?:{_N}\s*[hH] *)?"
    rf"(?:{_N}\s*(?:[mM][iI][nN]|[mM]) *)?"
    rf"(?:(?:{_N}\s*(?:[sS][eE][cC]|[sS]) *)?(?:{_N}\s*[mM][sS] *)?|{_N} *)"
    r"\s*$"
)
#: The same, longer than zero: some digit other than 0 is written.
POSITIVE_DURATION_PATTERN = DURATION_PATTERN.replace(r"(?=[\s\S]*[0-9])", r"(?=[\s\S]*[1-9])")
#: A level string, 0 dB or lower: ``-28``, ``-28 dB``, ``0dB``.
LEVEL_PATTERN = rf"^\s*(?:-{_N}|\+?(?:0+(?:\.0*)?|\.0+))\s*{_DB}\s*$"
MAX_GAIN_DB = 60.0
#: A gain string from 0 to 60 dB: ``8``, ``8 dB``.
GAIN_PATTERN = (
    r"^\s*(?:\+?0*(?:[0-5]?[0-9](?:\.[0-9]*)?|60(?:\.0*)?|\.[0-9]+)|-(?:0+(?:\.0*)?|\.0+))"
    rf"\s*{_DB}\s*$"
)
MIN_PITCH_HZ, MAX_PITCH_HZ = 20.0, 2000.0
#: A pitch string: a note name (range checked by the parser only) or a frequency.
PITCH_PATTERN = rf"^\s*(?:[A-Ga-g][#b\u266f\u266d]?-?[0-9]|{_N}\s*(?:[hH][zZ])?)\s*$"

_DURATION_RE = re.compile(DURATION_PATTERN)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}

DURATION_HELP = "a duration such as 4, 500ms, 4s, 1.5s, 2m or 1m30s"
LEVEL_HELP = "a level in dB such as -28 or '-28 dB' (0 dB or lower)"
NOTE_HELP = "a note name such as A2 or C#3, or a frequency such as 110 or '110 Hz'"


def parse_duration(value: object) -> float:
    """Seconds from ``4``, ``1.5``, ``"500ms"``, ``"4s"``, ``"2m"``, ``"1m30s"``.

    A bare number (or numeric string) is seconds. Parts may be combined
    (``1m30s``), each unit at most once, larger units first. Negative or
    non-finite values are rejected: a pause cannot run backwards.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError(f"expected {DURATION_HELP}, got an empty string")
        pos = 0
        seconds = 0.0
        last_scale = math.inf
        while pos < len(text):
            match = _DURATION_PART.match(text, pos)
            if not match or match.end() == pos:
                raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
            unit = (match.group(2) or "s").lower()
            if match.group(2) is None and match.end() != len(text.rstrip()):
                raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
            scale = _UNIT_SECONDS[unit]
            if scale >= last_scale:
                raise ValueError(f"expected {DURATION_HELP} (larger units first), got {value!r}")
            last_scale = scale
            seconds += float(match.group(1)) * scale
            pos = match.end()
            while pos < len(text) and text[pos] == " ":
                pos += 1
        if not _DURATION_RE.match(value):  # pragma: no cover - the loop refuses the same strings
            raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    else:
        raise ValueError(f"expected {DURATION_HELP}, got {type(value).__name__}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"expected {DURATION_HELP} (not negative), got {value!r}")
    return seconds


_LEVEL = re.compile(r"^\s*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*(db)?\s*$", re.I)


def parse_level(value: object) -> float:
    """Decibels from ``-28`` or ``"-28 dB"``; above 0 dB is refused.

    Levels are relative to full scale. Nothing may be louder than full scale:
    the mixer's limiter is a safety net, not a volume knob.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected {LEVEL_HELP}, got {value!r}")
    if isinstance(value, (int, float)):
        db = float(value)
    elif isinstance(value, str):
        match = _LEVEL.match(value)
        if not match:
            raise ValueError(f"expected {LEVEL_HELP}, got {value!r}")
        db = float(match.group(1))
    else:
        raise ValueError(f"expected {LEVEL_HELP}, got {type(value).__name__}")
    if not math.isfinite(db):
        raise ValueError(f"expected {LEVEL_HELP}, got {value!r}")
    if db > 0:
        raise ValueError(f"level {db:g} dB is above 0 dB; use 0 dB or lower, e.g. -28 dB")
    return db


def parse_gain(value: object) -> float:
    """A positive amount of dB (used by ``duck``): ``8``, ``"8 dB"``."""
    if isinstance(value, bool):
        raise ValueError(f"expected an amount in dB such as '8 dB', got {value!r}")
    if isinstance(value, (int, float)):
        db = float(value)
    elif isinstance(value, str):
        match = _LEVEL.match(value)
        if not match:
            raise ValueError(f"expected an amount in dB such as '8 dB', got {value!r}")
        db = float(match.group(1))
    else:
        raise ValueError(f"expected an amount in dB such as '8 dB', got {type(value).__name__}")
    if not math.isfinite(db) or db < 0 or db > MAX_GAIN_DB:
        raise ValueError(f"duck must be between 0 and {MAX_GAIN_DB:g} dB, got {value!r}")
    return db


_NOTE = re.compile(r"^\s*([A-Ga-g])([#b♯♭]?)(-?[0-9])\s*$")
_HZ = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(hz)?\s*$", re.I)
_SEMITONE = {"C": -9, "D": -7, "E": -5, "F": -4, "G": -2, "A": 0, "B": 2}


def parse_pitch(value: object) -> float:
    """Hertz from a note name (``A2``, ``C#3``, ``Bb1``) or a frequency.

    Note names use scientific pitch notation with A4 = 440 Hz. Drones are
    limited to 20-2000 Hz: lower is inaudible on small speakers, higher is
    no longer a drone.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected {NOTE_HELP}, got {value!r}")
    if isinstance(value, (int, float)):
        hz = float(value)
    elif isinstance(value, str):
        note = _NOTE.match(value)
        if note:
            letter, accidental, octave = note.groups()
            semis = _SEMITONE[letter.upper()] + (int(octave) - 4) * 12
            semis += {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(accidental, 0)
            hz = 440.0 * 2.0 ** (semis / 12.0)
        else:
            match = _HZ.match(value)
            if not match:
                raise ValueError(f"expected {NOTE_HELP}, got {value!r}")
            hz = float(match.group(1))
    else:
        raise ValueError(f"expected {NOTE_HELP}, got {type(value).__name__}")
    if not (MIN_PITCH_HZ <= hz <= MAX_PITCH_HZ):
        raise ValueError(f"drone pitch must be between {MIN_PITCH_HZ:g} and {MAX_PITCH_HZ:g} Hz, got {hz:g} Hz")
    return hz


def format_duration(seconds: float) -> str:
    """``'9:41'`` or ``'1:02:03'``: how a person reads a session length."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"
