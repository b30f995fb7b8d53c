"""The ``count`` step: speak one, two, ... up to N, one ``interval`` apart onset to onset."""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional

from voiceguide.kinds.base import Kind, Placing, Spoken, Timed, register
from voiceguide.script.grammar import PAUSE_AFTER, STRETCH, Duration, Integer, Key, StepKind
from voiceguide.script.model import MAX_COUNT, NUMBER_WORDS, Count

MIN_INTERVAL, MAX_INTERVAL = 0.5, 5.0


class CountKind(Kind):
    """Numbers spoken in the session's voice: each a say event (``preview --json``, pinned), then a pause."""

    name = "count"
    step_type = Count
    grammar = StepKind("count", Integer("count", 1, MAX_COUNT), "speak one, two, ... up to N",
                       options=(PAUSE_AFTER, STRETCH,
                                Key("interval", Duration("interval", low=MIN_INTERVAL, high=MAX_INTERVAL),
                                    "time from one number to the next (default 1s)")),
                       example="count: 5")

    def build(self, b: Any, node: Any, value_node: Any, value: Any, options: Dict[str, Any]) -> Count:
        return Count(to=value, source=b.source(node), pause=options.get("pause", 0.0),
                     stretch=options.get("stretch", 1.0), interval=options.get("interval", 1.0))

    def min_seconds(self, step: Count, script_rate: Optional[int]) -> float:
        return step.interval * step.to + step.pause

    def place(self, step: Count, at: Placing) -> Iterator[Any]:
        voice = at.voice()
        for n in range(1, step.to + 1):
            yield Spoken(number_word(n, at.language), voice, slot=step.interval)
        if step.pause > 0:
            yield Timed("pause", step.pause, stretch=step.stretch)

    def silences(self, step: Count) -> Iterator[Optional[float]]:
        yield None
        if step.pause > 0:
            yield step.pause


def number_word(n: int, language: str) -> str:
    """*n* as a word in English; digits otherwise (the engine reads them in its own language)."""
    if language.split("-")[0].lower() == "en" and n < len(NUMBER_WORDS):
        return NUMBER_WORDS[n]
    return str(n)


KIND = register(CountKind())
