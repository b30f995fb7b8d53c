"""The grammar of script format v1: one table read by the loader, the schema and the docs test.

Why a table: ``voiceguide validate`` (the loader), ``voiceguide schema`` (the
JSON Schema editors use) and ``docs/authoring.md`` all describe the same
format. Written three times they would drift apart -- a new option accepted by
the loader but flagged red in every editor, or missing from the reference.
So every key, step kind, option, enumeration and numeric range is declared
once here, as data:

* the loader reads each value through the :class:`ValueSpec` objects of this
  table (:meth:`voiceguide.script.values.Reader.build`, a table from kind of
  value to reader) and takes its key lists and step kinds from it;
* :mod:`voiceguide.script.schema` turns the same objects into JSON Schema;
* the docs test checks that ``docs/authoring.md`` mentions every key.

A step kind's own row (its value, options and docs) lives in its module of
:mod:`voiceguide.kinds`, with the rest of that kind; :data:`STEPS` is a view
over the registered kinds (then ``include``), so the three readers above see
a kind registered later as they see the built-in ones.

The written forms of durations, levels and gains are regular expressions in
:mod:`voiceguide.script.units`, used both to parse (the loader) and as JSON Schema
``pattern`` (the schema), so they cannot drift either.

What the schema cannot express (sound files that must exist inside the
script's folder, the total length, step counts after repeats, alias
expansion, include targets and cycles, note names out of the audible range)
stays in the loader alone; ``tests/test_schema.py`` lists those cases by name.

Nothing here imports anything heavy: ``list`` and ``validate`` load it.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional, Tuple

from voiceguide.script.model import (
    BELL_KINDS,
    MAX_RATE,
    MAX_TEXT_CHARS,
    MIN_RATE,
    NOISE_COLORS,
)

# --- numeric limits and defaults that only the grammar needs ---------------------

# (A step kind's own limits and defaults live in its module, voiceguide/kinds/.)
DEFAULT_LEVELS = {"drone": -30.0, "noise": -36.0, "sound": -30.0}
MAX_TITLE_CHARS = 200
MAX_SUMMARY_CHARS = 500
MAX_NAME_CHARS = 200
MAX_PATH_CHARS = 1000

#: ``language:`` is a BCP 47-like code: en, de, en-GB, pt_BR.
LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$"


# --- kinds of value ---------------------------------------------------------------


@dataclass(frozen=True)
class ValueSpec:
    """A kind of value a key may hold (the base of Text, Duration, ...); ``what`` names it in errors.

    Named ValueSpec, not Value: it describes values, it never holds one
    (a setting's value and origin is :class:`voiceguide.config.SettingValue`).
    """

    what: str


@dataclass(frozen=True)
class Text(ValueSpec):
    """Text, stripped. ``numbers``: a written number or true/false is taken as written."""

    limit: int = MAX_TEXT_CHARS
    one_line: bool = False
    numbers: bool = True


@dataclass(frozen=True)
class Flag(ValueSpec):
    """``true`` or ``false`` (YAML's yes/no/on/off are read as written by YAML 1.1)."""


@dataclass(frozen=True)
class Keyword(ValueSpec):
    """One word from ``choices``; ``noun`` names it in "unknown bell ..."."""

    choices: Tuple[str, ...] = ()
    noun: str = ""


@dataclass(frozen=True)
class Language(ValueSpec):
    pattern: str = LANGUAGE_PATTERN
    limit: int = 35


@dataclass(frozen=True)
class Duration(ValueSpec):
    """Seconds, or a written duration; ``positive``: more than 0; ``low``..``high`` in seconds."""

    positive: bool = False
    low: Optional[float] = None
    high: Optional[float] = None


@dataclass(frozen=True)
class Level(ValueSpec):
    """A level in dB, 0 dB or lower."""


@dataclass(frozen=True)
class Gain(ValueSpec):
    """An amount of dB from 0 to ``units.MAX_GAIN_DB`` (``duck``)."""


@dataclass(frozen=True)
class Pitch(ValueSpec):
    """A note name (A2, C#3) or a frequency in Hz."""


@dataclass(frozen=True)
class Integer(ValueSpec):
    low: int = 0
    high: int = 0
    unit: str = ""


@dataclass(frozen=True)
class Number(ValueSpec):
    low: float = 0.0
    high: float = math.inf


@dataclass(frozen=True)
class SoundPath(ValueSpec):
    """A sound file: relative to the script's folder, or a built-in sound's name."""

    limit: int = MAX_PATH_CHARS


@dataclass(frozen=True)
class ScriptRef(ValueSpec):
    """Another script to include: an id (file stem) or a relative ``.yaml`` path."""

    limit: int = MAX_PATH_CHARS


@dataclass(frozen=True)
class Steps(ValueSpec):
    """A non-empty list of steps (recursive: ``repeat`` holds steps)."""


@dataclass(frozen=True)
class Layers(ValueSpec):
    """A list of ambient layers (may be empty)."""


@dataclass(frozen=True)
class Key:
    """A key of a mapping: its name, its value, and a one-line description."""

    name: str
    value: ValueSpec
    doc: str
    required: bool = False
    #: How "X needs ..." names a missing required key ("a duration").
    noun: str = ""


@dataclass(frozen=True)
class Mapping(ValueSpec):
    """A mapping of known keys; ``example`` is shown in errors."""

    keys: Tuple[Key, ...] = ()
    example: str = ""

    def names(self) -> Tuple[str, ...]:
        return tuple(k.name for k in self.keys)

    def key(self, name: str) -> Key:
        return next(k for k in self.keys if k.name == name)


@dataclass(frozen=True)
class StepKind:
    """A step kind: the value of its kind key and the options beside it."""

    name: str
    value: ValueSpec
    doc: str
    options: Tuple[Key, ...] = ()
    example: str = ""

    def option_names(self) -> Tuple[str, ...]:
        return tuple(k.name for k in self.options)

    def option(self, name: str) -> Key:
        return next(k for k in self.options if k.name == name)


# --- the table ----------------------------------------------------------------------

# Shared by several kinds' rows (voiceguide/kinds/).
RATE = Integer("rate", MIN_RATE, MAX_RATE, " words per minute")
VOLUME = Number("volume", 0.0, 1.0)
STRETCH = Key("stretch", Number("stretch", 0.0),
               "weight of this pause when --length stretches the session; 0 keeps it fixed")
PAUSE_AFTER = Key("pause", Duration("pause"), "silence after the step")

VOICE = Mapping("voice", keys=(
    Key("rate", RATE, f"speaking rate in words per minute ({MIN_RATE} to {MAX_RATE})"),
    Key("volume", VOLUME, "voice volume, 0 to 1"),
    Key("name", Text("voice name", limit=MAX_NAME_CHARS, one_line=True),
        "a speech engine voice (see `voiceguide voices`)"),
), example="{rate: 140, volume: 0.9}")

#: Ambient layer kinds: exactly one per layer, plus the options.
LAYER_KINDS: Dict[str, Key] = {
    "drone": Key("drone", Pitch("drone"), "a soft tonal bed at a note (A2) or frequency (110)"),
    "noise": Key("noise", Keyword("noise", NOISE_COLORS, "noise colour"),
                 "a noise bed: " + ", ".join(NOISE_COLORS)),
    "sound": Key("sound", SoundPath("sound"),
                 "a sound file looped for the whole session, next to the script or built in"),
}
LAYER_OPTIONS: Tuple[Key, ...] = (
    Key("level", Level("level"), "how loud the layer is, in dB (0 dB or lower)"),
)

#: ``include``: the steps of another script, inlined by the loader (not a kind: it never plays itself).
INCLUDE = StepKind("include", ScriptRef("include"),
                   "the steps of another script (an id or a relative path), inlined here",
                   example="include: opening")


class _StepTable(typing.Mapping[str, StepKind]):
    """Every step kind's grammar row, by name: the registered kinds' (:mod:`voiceguide.kinds`), then include.

    A view, not a dict: the rows live in the kinds' own modules, and a kind
    registered later (a test's, a plugin's) is read, published by
    ``voiceguide schema`` and listed in errors like the built-in ones.
    Imported on first use because :mod:`voiceguide.kinds` imports this module.
    """

    def _rows(self) -> Dict[str, StepKind]:
        from voiceguide import kinds

        rows = {kind.name: kind.grammar for kind in kinds.kinds()}
        rows[INCLUDE.name] = INCLUDE
        return rows

    def __getitem__(self, name: str) -> StepKind:
        return self._rows()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows())

    def __len__(self) -> int:
        return len(self._rows())


#: Every step kind, in the order errors and docs list them.
STEPS: typing.Mapping[str, StepKind] = _StepTable()


def step_names() -> Tuple[str, ...]:
    """Every step kind's name (include last), in the order errors and docs list them."""
    return tuple(STEPS)


def __getattr__(name: str) -> Any:
    """``STEP_NAMES``: the step kinds registered now (computed: a kind may be registered later)."""
    if name == "STEP_NAMES":
        return step_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Top-level keys of a script, in the order errors and docs list them.
TOP = Mapping("the script", keys=(
    Key("title", Text("title", limit=MAX_TITLE_CHARS, one_line=True), "the exercise's name",
        required=True),
    Key("summary", Text("summary", limit=MAX_SUMMARY_CHARS, one_line=True), "one line shown by `list`"),
    Key("language", Language("language"), "language code of the spoken text (default en)"),
    Key("voice", VOICE, "default voice settings for every spoken step"),
    Key("ambient", Layers("ambient"), "background layers for the whole session"),
    Key("duck", Gain("duck"), "how far the ambient bed dips under the voice, in dB (default 8 dB)"),
    Key("steps", Steps("steps"), "what happens, in order", required=True),
    Key("part", Flag("part"), "true for a part written to be included by other scripts (an opening,"
        " a closing): `list` leaves it out and lint gives it no whole-session advice"),
), example="title: ... and steps: ...")

TOP_KEYS: Tuple[str, ...] = TOP.names()


def all_option_names() -> Tuple[str, ...]:
    """Every option any step kind takes (to tell an option from an unknown kind)."""
    seen: Dict[str, None] = {}
    for kind in STEPS.values():
        for key in kind.options:
            seen.setdefault(key.name, None)
    return tuple(seen)


def every_key() -> Dict[str, Tuple[str, ...]]:
    """Every name an author can write, grouped: what the docs must cover."""
    return {
        "top-level keys": TOP_KEYS,
        "voice keys": VOICE.names(),
        "ambient layer kinds": tuple(LAYER_KINDS),
        "ambient layer options": tuple(k.name for k in LAYER_OPTIONS),
        "step kinds": step_names(),
        "step options": all_option_names(),
        **{f"{name} keys": kind.value.names() for name, kind in STEPS.items() if isinstance(kind.value, Mapping)},
        "bell kinds": BELL_KINDS,
        "noise colours": NOISE_COLORS,
    }

