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

from typing import Any, Dict, Optional, Sequence

from voiceguide import kinds
from voiceguide.script import units
from voiceguide.script.model import MAX_SESSION_SECONDS, MAX_STEPS, Source
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
    """A lower bound of how long *step* lasts (speech at the step's or script's rate): its kind's answer."""
    return kinds.of(step).min_seconds(step, script_rate)


def expanded_steps(step: Any) -> int:
    """How many steps *step* is once repeats are expanded."""
    held = kinds.of(step).inner(step)
    if held is not None:
        return held[0] * sum(expanded_steps(s) for s in held[1])
    return 1
