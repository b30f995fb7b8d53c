"""Advice for script authors: things that are valid but probably not what the listener needs.

``voiceguide validate --lint`` prints each as ``file:line:col: advice: ...``.
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
from typing import Iterable, Iterator, List, Optional, Tuple

from voiceguide.script.model import Count, Pause, Repeat, Say, Script, Section, Source

#: A listener left in total silence this long may think the session ended.
MAX_BARE_SILENCE = 60.0
#: espeak-ng's own default is 175 wpm: brisk for a guided exercise.
MAX_CALM_RATE = 170
#: Speech sits around -12 to -20 dBFS; a bed above -12 dB competes with it,
#: even ducked. The built-ins use -28 to -40 dB.
MAX_AMBIENT_DB = -12.0


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
    for rule in (_long_bare_silence, _fast_speech, _never_says_stop, _loud_ambient):
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


def _all_says(steps) -> Iterator[Say]:
    for step in steps:
        if isinstance(step, Say):
            yield step
        inner = getattr(step, "steps", None)
        if inner:
            yield from _all_says(inner)


def _never_says_stop(script: Script) -> Iterator[Advice]:
    if not any("stop" in say.text.lower() for say in _all_says(script.steps)):
        yield Advice(_top(script), "the session never tells the listener they may stop; say early on"
                                   " that they may stop at any time (a say text with the word \"stop\")")


def _loud_ambient(script: Script) -> Iterator[Advice]:
    for layer in script.ambient:
        if layer.level_db > MAX_AMBIENT_DB:
            yield Advice(layer.source, f"ambient level {layer.level_db:g} dB is as loud as the voice or"
                                       f" louder; keep beds at {MAX_AMBIENT_DB:g} dB or lower (-30 dB is usual)")
