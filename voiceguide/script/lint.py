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

from voiceguide.script.model import Breathe, Count, Pause, Record, Repeat, Say, Script, Section, Source, Step

#: A listener left in total silence this long may think the session ended.
MAX_BARE_SILENCE = 60.0
#: espeak-ng's own default is 175 wpm: brisk for a guided exercise.
MAX_CALM_RATE = 170
#: Speech sits around -12 to -20 dBFS; a bed above -12 dB competes with it,
#: even ducked. The built-ins use -28 to -40 dB.
MAX_AMBIENT_DB = -12.0

# Paced breathing that is comfortable for most people (calming patterns such as
# 4-6 or 4-7-8 sit well inside these). Outside them a listener may strain, gasp
# or get light-headed: valid, but worth a second look.
#: Longest comfortable inhale and exhale, seconds.
MAX_INHALE = 8.0
MAX_EXHALE = 12.0
#: Longest comfortable hold (after the inhale or after the exhale), seconds.
MAX_HOLD = 7.0
#: An exhale much shorter than the inhale feels like gasping, not settling.
MIN_EXHALE_RATIO = 0.5
#: Shorter cycles mean over 20 breaths a minute: fast breathing, not calm.
MIN_CYCLE = 3.0
#: One paced-breathing step longer than this is a lot to keep up at once.
MAX_PACED_SECONDS = 10 * 60.0
#: Words that tell a listener that answering a record step is up to them.
OPTIONAL_WORDS = ("if you like", "if you want", "if you wish", "you may", "you can", "or simply",
                  "no need", "optional", "if it feels right", "if something comes")


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


def _in_order(steps: Iterable) -> Iterator:
    """The steps as they play: repeats expanded, everything else as written."""
    for step in steps:
        if isinstance(step, Repeat):
            for _ in range(step.times):
                yield from _in_order(step.steps)
        else:
            yield step


def _silences(script: Script) -> Iterator[Tuple[Optional[float], Source]]:
    """(seconds, where) for each stretch of silence, (None, where) for anything heard."""
    for step in _in_order(script.steps):
        if isinstance(step, Section):
            continue
        if isinstance(step, Pause):
            yield step.seconds, step.source
            continue
        yield None, step.source
        if isinstance(step, (Say, Count)) and step.pause > 0:
            yield step.pause, step.source


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
    rate = script.voice.rate
    if rate is not None and rate > MAX_CALM_RATE:
        where = script.key_sources.get("voice.rate") or _top(script)
        yield Advice(where, f"speaking rate {rate} words per minute is brisk for a guided"
                            f" exercise; {MAX_CALM_RATE} or less (140 is the default) sounds calmer")
    for say in _all_says(script.steps):
        own = say.voice.rate
        if own is not None and own > MAX_CALM_RATE and own != rate:
            yield Advice(say.source, f"speaking rate {own} words per minute is brisk for a"
                                     f" guided exercise; {MAX_CALM_RATE} or less sounds calmer")


def _written(steps: Iterable[Step], kind: type) -> Iterator[Any]:
    """Every step of *kind* as written (a repeat's steps once), in file order."""
    for step in steps:
        if isinstance(step, kind):
            yield step
        inner = getattr(step, "steps", None)
        if inner:
            yield from _written(inner, kind)


def _all_says(steps: Iterable[Step]) -> Iterator[Say]:
    return _written(steps, Say)


def _never_says_stop(script: Script) -> Iterator[Advice]:
    if not any("stop" in say.text.lower() for say in _all_says(script.steps)):
        yield Advice(_top(script), "the session never tells the listener they may stop; say early on"
                                   " that they may stop at any time (a say text with the word \"stop\")")


def _loud_ambient(script: Script) -> Iterator[Advice]:
    for layer in script.ambient:
        if layer.level_db > MAX_AMBIENT_DB:
            yield Advice(layer.source, f"ambient level {layer.level_db:g} dB is as loud as the voice or"
                                       f" louder; keep beds at {MAX_AMBIENT_DB:g} dB or lower (-30 dB is usual)")


def _uncomfortable_breathing(script: Script) -> Iterator[Advice]:
    """Breathing patterns that are hard to follow or may leave the listener light-headed."""
    for b in _written(script.steps, Breathe):
        if b.inhale > MAX_INHALE:
            yield Advice(b.source, f"an inhale of {b.inhale:g} s is longer than most people can breathe in"
                                   f" comfortably; keep it to {MAX_INHALE:g} s or less (4 s is usual)")
        if b.exhale > MAX_EXHALE:
            yield Advice(b.source, f"an exhale of {b.exhale:g} s is longer than most people can breathe out"
                                   f" comfortably; keep it to {MAX_EXHALE:g} s or less (6 s is usual)")
        if b.exhale < MIN_EXHALE_RATIO * b.inhale:
            yield Advice(b.source, f"breathing out in {b.exhale:g} s after breathing in for {b.inhale:g} s"
                                   " feels like gasping; a calming pattern breathes out as long as in, or longer"
                                   " (for example inhale: 4s, exhale: 6s)")
        for name, hold in (("hold", b.hold), ("hold_out", b.hold_out)):
            if hold > MAX_HOLD:
                yield Advice(b.source, f"a {name} of {hold:g} s can strain or make a listener light-headed;"
                                       f" keep holds to {MAX_HOLD:g} s or less and say they may breathe"
                                       " normally at any time")
        if 0 < b.cycle_seconds < MIN_CYCLE:
            yield Advice(b.source, f"a {b.cycle_seconds:g} s cycle is {60 / b.cycle_seconds:.0f} breaths a"
                                   " minute: breathing that fast can make a listener light-headed; calm"
                                   f" breathing takes {MIN_CYCLE:g} s a breath or more (6 to 10 s is usual)")
        total = b.cycles * b.cycle_seconds
        if total > MAX_PACED_SECONDS:
            yield Advice(b.source, f"{b.cycles} cycles are {total / 60:.0f} minutes of paced breathing in one"
                                   f" go; {MAX_PACED_SECONDS / 60:.0f} minutes or less is plenty: split it with"
                                   " rests where the breath finds its own rhythm")


def _record_asks_gently(script: Script) -> Iterator[Advice]:
    """A record step's question: there is one, and it leaves answering up to the listener."""
    def walk(steps: Iterable[Step]) -> Iterator[Advice]:
        before: Optional[Say] = None
        for step in steps:
            if isinstance(step, Repeat):
                yield from walk(step.steps)
                before = None
            elif isinstance(step, Record):
                asked = step.prompt or (before.text if before is not None else None)
                if not asked:
                    yield Advice(step.source, "the listener is not told what the recording is for: add a"
                                              " prompt (or a say step just before it) that asks the question")
                elif not any(words in asked.lower() for words in OPTIONAL_WORDS):
                    yield Advice(step.source, "say that answering is up to the listener (\"if you like\","
                                              " \"or simply rest\"): their voice is recorded, and no one"
                                              " should feel they must speak")
                before = None
            elif isinstance(step, Say):
                before = step
            elif not isinstance(step, Section):
                before = None

    yield from walk(script.steps)


#: Advice about what a listener hears at one place: given to every script.
STEP_RULES = (_fast_speech, _loud_ambient, _uncomfortable_breathing, _record_asks_gently)
#: Advice about a whole session: not for a part (``part: true``), which is
#: heard inside another script, under its ambient bed, between its opening
#: and its closing.
SESSION_RULES = (_long_bare_silence, _never_says_stop)
