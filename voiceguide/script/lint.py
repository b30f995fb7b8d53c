"""Advice for script authors: things that are valid but probably not what the listener needs.

``voiceguide validate --lint`` prints each as ``file:line:col: advice: ...``.
A script marked ``part: true`` gets only the advice about its own steps
(:data:`STEP_RULES`), none about a whole session (:data:`SESSION_RULES`).
Advice never makes a script invalid (the exit code stays 0): an author may
have a reason, and the loader alone decides what plays. Each rule says *why*
in its message, because an author who understands the listener can judge.

Works on the loaded :class:`~voiceguide.script.model.Script` alone (repeats
expanded here, in playing order), so it needs no speech engine, no numpy and
nothing from a later stage: it is as fast as ``validate``.

Trap: a ``section`` step takes no time, so pauses on either side of one are
one silence to the listener; the walk below treats it as transparent, as the
timeline does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, List, Optional, Tuple

from voiceguide import kinds
from voiceguide.kinds import say
from voiceguide.script.model import Script, Source

#: A listener left in total silence this long may think the session ended.
MAX_BARE_SILENCE = 60.0
#: A bed above this competes with the voice, even ducked (speech sits around
#: -12 to -20 dBFS). The built-ins use -28 to -40 dB.
MAX_AMBIENT_DB = -12.0
#: Advice about one kind's steps (speaking rate, breathing patterns, a record
#: step's question) lives in the kind's module (:meth:`Kind.advice`).
MAX_CALM_RATE = say.MAX_CALM_RATE


@dataclass(frozen=True)
class Advice:
    """One piece of advice at a place in a script."""

    source: Source
    message: str

    def __str__(self) -> str:
        return f"{self.source.file}:{self.source.line}:{self.source.col}: advice: {self.message}"


def lint(script: Script) -> List[Advice]:
    """Every piece of advice for *script*, in file order, each place at most once per rule."""
    found: List[Advice] = []
    rules = STEP_RULES if script.part else STEP_RULES + SESSION_RULES
    for rule in rules:
        found.extend(rule(script))
    seen = set()
    unique = []
    for advice in found:
        key = (advice.source.file, advice.source.line, advice.source.col, advice.message)
        if key not in seen:
            seen.add(key)
            unique.append(advice)
    return sorted(unique, key=lambda a: (a.source.file != str(script.path), a.source.file,
                                         a.source.line, a.source.col))


def _top(script: Script) -> Source:
    return script.key_sources.get("title") or Source(str(script.path), 1, 1)


def _silences(script: Script) -> Iterator[Tuple[Optional[float], Source]]:
    """(seconds, where) for each stretch of silence, (None, where) for anything heard (kinds say which)."""
    for step in kinds.played(script.steps):
        for seconds in kinds.of(step).silences(step):
            yield seconds, step.source


def _long_bare_silence(script: Script) -> Iterator[Advice]:
    """Silences (pauses in a row) longer than a minute with no ambient bed under them."""
    if script.ambient:
        return
    run = 0.0
    start: Optional[Source] = None
    for seconds, source in list(_silences(script)) + [(None, None)]:
        if seconds is not None:
            if start is None:
                start = source
            run += seconds
            continue
        if start is not None and run > MAX_BARE_SILENCE:
            yield Advice(start, f"{run:g} s of silence with no ambient bed; the listener may think"
                                " the session has stopped: add an ambient layer, a bell or a few words")
        run, start = 0.0, None


def _fast_speech(script: Script) -> Iterator[Advice]:
    """The script's own rate (a step's is its kind's advice)."""
    rate = script.voice.rate
    if rate is not None and rate > MAX_CALM_RATE:
        where = script.key_sources.get("voice.rate") or _top(script)
        yield Advice(where, f"speaking rate {rate} words per minute is brisk for a guided"
                            f" exercise; {MAX_CALM_RATE} or less (140 is the default) sounds calmer")


def _each_step(script: Script) -> Iterator[Advice]:
    """Every step's own advice, from its kind, as written (a repeat's steps once), in file order."""
    def walk(steps: Iterable[Any]) -> Iterator[Advice]:
        before: Any = None
        for step in steps:
            kind = kinds.of(step)
            for where, message in kind.advice(step, before, script):
                yield Advice(where, message)
            held = kind.inner(step)
            if held is not None:
                yield from walk(held[1])
            if not kind.marker:
                before = step

    yield from walk(script.steps)


def _never_says_stop(script: Script) -> Iterator[Advice]:
    said = (kinds.of(step).said(step) for step in kinds.written(script.steps))
    if not any("stop" in text.lower() for text in said if text):
        yield Advice(_top(script), "the session never tells the listener they may stop; say early on"
                                   " that they may stop at any time (a say text with the word \"stop\")")


def _loud_ambient(script: Script) -> Iterator[Advice]:
    for layer in script.ambient:
        if layer.level_db > MAX_AMBIENT_DB:
            yield Advice(layer.source, f"ambient level {layer.level_db:g} dB is as loud as the voice or"
                                       f" louder; keep beds at {MAX_AMBIENT_DB:g} dB or lower (-30 dB is usual)")


#: Advice about what a listener hears at one place: given to every script.
STEP_RULES = (_fast_speech, _loud_ambient, _each_step)
#: Advice about a whole session: not for a part (``part: true``), which is
#: heard inside another script, under its ambient bed, between its opening
#: and its closing.
SESSION_RULES = (_long_bare_silence, _never_says_stop)
