"""The immutable model of an exercise script (format v1).

The loader builds these from YAML; the timeline reads them. Every step keeps
the :class:`Source` it came from, so preview, errors and status lines can
point back at ``file:line``. All durations are float seconds and all levels
float dB (full scale = 0 dB); parsing of written forms lives in
:mod:`voiceguide.script.units`.

Nothing here imports the audio stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

from voiceguide.errors import Problem
from voiceguide.script.defaults import DEFAULT_RATE, DEFAULT_VOLUME, MAX_RATE, MIN_RATE  # noqa: F401 (re-exported)

FORMAT_VERSION = 1

DEFAULT_DUCK_DB = 8.0

BELL_KINDS = ("bowl", "chime", "gong")
NOISE_COLORS = ("white", "pink", "brown")


@dataclass(frozen=True)
class Source:
    """Where something was written: 1-based line and column."""

    file: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Voice:
    """Voice settings; ``None`` means "inherit" (script, config, default)."""

    rate: Optional[int] = None
    volume: Optional[float] = None
    name: Optional[str] = None

    def over(self, base: "Voice") -> "Voice":
        """These settings, falling back to *base* where unset."""
        return Voice(
            rate=self.rate if self.rate is not None else base.rate,
            volume=self.volume if self.volume is not None else base.volume,
            name=self.name if self.name is not None else base.name,
        )


# --- ambient layers ---------------------------------------------------------


@dataclass(frozen=True)
class Drone:
    """A soft tonal bed at ``hz`` (from a note name or a frequency)."""

    hz: float
    level_db: float
    source: Source
    note: Optional[str] = None


@dataclass(frozen=True)
class Noise:
    """A noise bed: ``white``, ``pink`` or ``brown``."""

    color: str
    level_db: float
    source: Source


@dataclass(frozen=True)
class SoundLoop:
    """A sound file looped for the whole session (crossfaded at the seam)."""

    path: Path
    level_db: float
    source: Source


Layer = Union[Drone, Noise, SoundLoop]


# --- steps ------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    """Speak ``text``, then hold ``pause`` seconds of silence."""

    text: str
    source: Source
    pause: float = 0.0
    stretch: float = 1.0
    voice: Voice = field(default_factory=Voice)


@dataclass(frozen=True)
class Pause:
    """Silence (or the ambient bed alone) for ``seconds``."""

    seconds: float
    source: Source
    stretch: float = 1.0


@dataclass(frozen=True)
class Bell:
    """Strike a bell; the step lasts as long as the bell rings."""

    kind: str
    source: Source
    level_db: float = -12.0


@dataclass(frozen=True)
class Section:
    """Names the steps that follow; target of ``--from``; shown in status."""

    name: str
    source: Source


@dataclass(frozen=True)
class Repeat:
    """Play ``steps`` ``times`` times."""

    times: int
    steps: Tuple["Step", ...]
    source: Source


@dataclass(frozen=True)
class Count:
    """Speak the numbers 1..``to``, one second apart onset to onset."""

    to: int
    source: Source
    pause: float = 0.0
    stretch: float = 1.0
    interval: float = 1.0


@dataclass(frozen=True)
class Breathe:
    """Paced breathing: a soft tone rises on the inhale, falls on the exhale."""

    inhale: float
    exhale: float
    cycles: int
    source: Source
    hold: float = 0.0
    hold_out: float = 0.0

    @property
    def cycle_seconds(self) -> float:
        return self.inhale + self.hold + self.exhale + self.hold_out


@dataclass(frozen=True)
class Walk:
    """Walking: a soft tick on each step, ``cadence`` steps per minute."""

    duration: float
    cadence: float
    source: Source


@dataclass(frozen=True)
class Record:
    """Ask for the day's cue hands-free: say ``prompt``, a soft tone, then record for ``seconds``.

    Only ``play`` records (from the default input device); ``render`` and
    ``preview`` -- and ``play`` without an input device -- hold a silence of
    the same length, so every timeline is the same. An extension of format
    v1: scripts that do not use it do not change.
    """

    seconds: float
    source: Source
    prompt: Optional[str] = None
    voice: Voice = field(default_factory=Voice)


#: A record step's soft tone and the short gap before recording begins, seconds.
RECORD_LEAD_SECONDS = 1.0


@dataclass(frozen=True)
class Music:
    """Play the listener's own piece of music (``--music FILE``), faded in and out.

    ``seconds`` is the longest the step lasts: a longer piece fades out
    there, a shorter one ends the step sooner. The file is given when the
    session is played or rendered, never written in the script (it is the
    listener's choice). An extension of format v1.
    """

    seconds: float
    source: Source
    fade: float = 3.0


#: The built-in steps (a kind registered later has its own step class: :mod:`voiceguide.kinds`).
Step = Union[Say, Pause, Bell, Section, Repeat, Count, Breathe, Walk, Record, Music]


@dataclass(frozen=True)
class Script:
    """A whole exercise, as written (repeats are not expanded here)."""

    title: str
    steps: Tuple[Step, ...]
    path: Path
    summary: Optional[str] = None
    language: str = "en"
    voice: Voice = field(default_factory=Voice)
    ambient: Tuple[Layer, ...] = ()
    duck_db: float = DEFAULT_DUCK_DB
    #: Where top-level values were written ("title", "voice.rate", "ambient", ...),
    #: so advice about them (``validate --lint``) can point at a line.
    key_sources: Dict[str, Source] = field(default_factory=dict, compare=False, repr=False)
    #: ``part: true``: written to be included by other scripts (an opening, a
    #: closing), not played as an exercise of its own; ``list`` leaves it out
    #: and lint gives it no advice meant for whole sessions.
    part: bool = False
    #: Things worth fixing that did not make the script invalid (``validate``
    #: prints them): control characters removed from its text, for example.
    warnings: Tuple[Problem, ...] = field(default=(), compare=False, repr=False)

    @property
    def id(self) -> str:
        """The id of a script is its file's stem: ``body-scan``."""
        return self.path.stem


NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve "
    "thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty"
).split()
MAX_COUNT = 20

#: How long a bell step lasts: the bell's whole ring, so nothing is cut off.
BELL_SECONDS = {"bowl": 6.0, "chime": 3.0, "gong": 8.0}

#: Limits that turn hostile or mistaken input into a clear error, fast.
MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_NODES = 100_000          # YAML nodes visited, aliases counted each time
MAX_STEPS = 5_000            # steps after repeats are expanded
MAX_SESSION_SECONDS = 4 * 3600.0
MAX_TEXT_CHARS = 2_000       # one spoken step
