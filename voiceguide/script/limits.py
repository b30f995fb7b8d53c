"""Limits on a whole script: steps once repeats are expanded, and a lower bound of its length.

Why here and not in the timeline: a hostile or mistaken ``repeat: 1000``
inside ``repeat: 1000`` must be refused by ``validate`` in microseconds,
before anything is synthesised or placed. The length counted here is a
*lower bound* (speech at the script's rate, no engine needed), so a script
refused here could never have played within the limit.

Each limit is reported once, at the first step that passes it; a step
brought in by ``include:`` is reported at the include line (the author of
this file can act there).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence

from voiceguide.script import units
from voiceguide.script.model import (
    BELL_SECONDS,
    DEFAULT_RATE,
    MAX_SESSION_SECONDS,
    MAX_STEPS,
    RECORD_LEAD_SECONDS,
    Bell,
    Breathe,
    Count,
    Pause,
    Record,
    Repeat,
    Say,
    Source,
    Walk,
)
from voiceguide.script.problems import Problems


def check_limits(problems: Problems, steps: Sequence[Any], script_rate: Optional[int],
                 included_at: Dict[int, Source]) -> None:
    """Report the step count and length limits; *included_at*: id(step) -> its include's Source."""
    count = 0
    seconds = 0.0
    count_done = seconds_done = False
    for step in steps:
        count += expanded_steps(step)
        seconds += min_seconds(step, script_rate)
        where = included_at.get(id(step), step.source)
        if count > MAX_STEPS and not count_done:
            count_done = True
            problems.add(
                where.line,
                where.col,
                f"the script passes {MAX_STEPS} steps here once repeats are expanded;"
                " lower the repeat counts or split the script",
            )
        if seconds > MAX_SESSION_SECONDS and not seconds_done:
            seconds_done = True
            total = min(sum(min_seconds(s, script_rate) for s in steps), 1e12)  # finite, to format
            problems.add(
                where.line,
                where.col,
                f"the session passes the limit of {units.format_duration(MAX_SESSION_SECONDS)}"
                " here (it lasts at least"
                f" {units.format_duration(total)}); shorten pauses or lower repeat counts",
            )


def min_seconds(step: Any, script_rate: Optional[int]) -> float:
    """A lower bound of how long *step* lasts (speech at the step's or script's rate).

    A kind of step missing from :data:`MIN_SECONDS` (a section) counts as 0 s:
    add a new kind there when it takes time.
    """
    seconds = MIN_SECONDS.get(type(step))
    return seconds(step, script_rate) if seconds is not None else 0.0


def _say_seconds(step: Say, script_rate: Optional[int]) -> float:
    rate = step.voice.rate or script_rate or DEFAULT_RATE
    return step.pause + len(step.text.split()) / rate * 60.0


#: kind of step -> a lower bound of its length, given the script's rate.
MIN_SECONDS: Dict[type, Callable[[Any, Optional[int]], float]] = {
    Say: _say_seconds,
    Pause: lambda step, rate: step.seconds,
    Bell: lambda step, rate: BELL_SECONDS.get(step.kind, 0.0),
    Count: lambda step, rate: step.interval * step.to + step.pause,
    Breathe: lambda step, rate: step.cycles * step.cycle_seconds,
    Walk: lambda step, rate: step.duration,
    Record: lambda step, rate: step.seconds + RECORD_LEAD_SECONDS
    + (_say_seconds(Say(step.prompt, step.source), rate) if step.prompt else 0.0),
    Repeat: lambda step, rate: step.times * sum(min_seconds(s, rate) for s in step.steps),
}


def expanded_steps(step: Any) -> int:
    """How many steps *step* is once repeats are expanded."""
    if isinstance(step, Repeat):
        return step.times * sum(expanded_steps(s) for s in step.steps)
    return 1
