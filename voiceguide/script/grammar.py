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
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from voiceguide.script.model import (
    BELL_KINDS,
    MAX_COUNT,
    MAX_RATE,
    MAX_TEXT_CHARS,
    MIN_RATE,
    NOISE_COLORS,
)

# --- numeric limits and defaults that only the grammar needs ---------------------

MAX_REPEAT = 1000
MAX_CYCLES = 200
MIN_INTERVAL, MAX_INTERVAL = 0.5, 5.0
MIN_CADENCE, MAX_CADENCE = 10.0, 180.0
MIN_RECORD, MAX_RECORD = 3.0, 120.0
#: A music step lasts at most this long (the piece is decoded into memory once, then cached).
MIN_MUSIC, MAX_MUSIC = 10.0, 8 * 60.0
MIN_FADE, MAX_FADE, DEFAULT_FADE = 0.5, 10.0, 3.0
DEFAULT_CADENCE = 40.0
DEFAULT_LEVELS = {"drone": -30.0, "noise": -36.0, "sound": -30.0}
DEFAULT_BELL_DB = -12.0
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

_RATE = Integer("rate", MIN_RATE, MAX_RATE, " words per minute")
_VOLUME = Number("volume", 0.0, 1.0)
_STRETCH = Key("stretch", Number("stretch", 0.0),
               "weight of this pause when --length stretches the session; 0 keeps it fixed")
_PAUSE_AFTER = Key("pause", Duration("pause"), "silence after the step")

VOICE = Mapping("voice", keys=(
    Key("rate", _RATE, f"speaking rate in words per minute ({MIN_RATE} to {MAX_RATE})"),
    Key("volume", _VOLUME, "voice volume, 0 to 1"),
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

BREATHE = Mapping("breathe", keys=(
    Key("inhale", Duration("inhale", positive=True), "length of each in-breath", required=True),
    Key("exhale", Duration("exhale", positive=True), "length of each out-breath", required=True),
    Key("hold", Duration("hold"), "hold after the in-breath"),
    Key("hold_out", Duration("hold_out"), "hold after the out-breath"),
    Key("cycles", Integer("cycles", 1, MAX_CYCLES), "number of breaths", required=True),
), example="{inhale: 4s, exhale: 6s, cycles: 5}")

WALK = Mapping("walk", keys=(
    Key("duration", Duration("duration", positive=True), "how long to walk", required=True,
        noun="a duration"),
    Key("cadence", Number("cadence (steps per minute)", MIN_CADENCE, MAX_CADENCE),
        f"steps per minute, one soft tick each (default {DEFAULT_CADENCE:g})"),
), example="{duration: 2m, cadence: 40}")

RECORD = Mapping("record", keys=(
    Key("prompt", Text("record prompt"), "spoken before the tone: what the listener may answer"),
    Key("seconds", Duration("seconds", positive=True, low=MIN_RECORD, high=MAX_RECORD),
        f"how long the answer is recorded ({MIN_RECORD:g} to {MAX_RECORD:g} s)", required=True,
        noun="a duration"),
), example="{prompt: Name one small thing you felt today, seconds: 20}")

#: Every step kind, in the order errors and docs list them.
STEPS: Dict[str, StepKind] = {k.name: k for k in (
    StepKind("say", Text("say text"), "speak the text", options=(
        _PAUSE_AFTER, _STRETCH,
        Key("rate", _RATE, "speaking rate for this step"),
        Key("volume", _VOLUME, "voice volume for this step"),
        Key("voice", Text("voice", limit=MAX_NAME_CHARS, one_line=True, numbers=False),
            "speech engine voice for this step"),
    ), example="say: Let your shoulders drop."),
    StepKind("pause", Duration("pause"), "silence, or the ambient bed alone",
             options=(_STRETCH,), example="pause: 10s"),
    StepKind("bell", Keyword("bell", BELL_KINDS, "bell"), "strike a bell; lasts as long as it rings",
             options=(Key("level", Level("level"), f"bell level in dB (default {DEFAULT_BELL_DB:g})"),),
             example="bell: bowl"),
    StepKind("section", Text("section name", limit=MAX_TITLE_CHARS, one_line=True),
             "name the part that follows (status line, --from)", example="section: Settling"),
    StepKind("repeat", Integer("repeat", 1, MAX_REPEAT, " times"), "play the steps under it N times",
             options=(Key("steps", Steps("repeat steps"), "the steps to repeat", required=True),),
             example="repeat: 3"),
    StepKind("count", Integer("count", 1, MAX_COUNT), "speak one, two, ... up to N",
             options=(_PAUSE_AFTER, _STRETCH,
                      Key("interval", Duration("interval", low=MIN_INTERVAL, high=MAX_INTERVAL),
                          "time from one number to the next (default 1s)")),
             example="count: 5"),
    StepKind("breathe", BREATHE, "paced breathing: a soft tone rises and falls",
             example="breathe: {inhale: 4s, exhale: 6s, cycles: 5}"),
    StepKind("walk", WALK, "walking: a soft tick per step",
             example="walk: {duration: 2m, cadence: 40}"),
    StepKind("record", RECORD, "ask for the day's cue: a soft tone, then the spoken answer is recorded"
             " (by play; a silence in render and preview)",
             example="record: {prompt: Name one small thing you felt today, seconds: 20}"),
    StepKind("music", Duration("music", positive=True, low=MIN_MUSIC, high=MAX_MUSIC),
             "the listener's own music, given as play --music FILE: the whole piece, or up to this long",
             options=(Key("fade", Duration("fade", low=MIN_FADE, high=MAX_FADE),
                          f"fade in at the start and out at the end (default {DEFAULT_FADE:g}s)"),),
             example="music: 5m"),
    StepKind("include", ScriptRef("include"),
             "the steps of another script (an id or a relative path), inlined here",
             example="include: opening"),
)}

STEP_NAMES: Tuple[str, ...] = tuple(STEPS)

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
        "step kinds": STEP_NAMES,
        "step options": all_option_names(),
        "breathe keys": BREATHE.names(),
        "walk keys": WALK.names(),
        "record keys": RECORD.names(),
        "bell kinds": BELL_KINDS,
        "noise colours": NOISE_COLORS,
    }

