"""The ``record`` step: ask for the day's cue, a soft tone, then the listener's answer is recorded.

Placed as a fixed-length event (the tone, then the listening time) whatever
happens at play time, so every timeline is the same; only ``play`` records
(:meth:`RecordKind.capture_seconds` tells the player, ``render`` and
``preview`` how long), the others hold a silence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional, Tuple

from voiceguide.kinds.base import Kind, Mixing, Placing, Sounding, Spoken, Timed, of, register
from voiceguide.kinds.say import spoken_seconds
from voiceguide.script.grammar import Duration, Key, Mapping, StepKind, Text
from voiceguide.script.model import RECORD_LEAD_SECONDS, Record, Source, Voice

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

MIN_RECORD, MAX_RECORD = 3.0, 120.0
#: The soft tone before the answer.
CUE_TONE_DB = -20.0
#: Words that tell a listener that answering a record step is up to them.
OPTIONAL_WORDS = ("if you like", "if you want", "if you wish", "you may", "you can", "or simply",
                  "no need", "optional", "if it feels right", "if something comes")

RECORD = Mapping("record", keys=(
    Key("prompt", Text("record prompt"), "spoken before the tone: what the listener may answer"),
    Key("seconds", Duration("seconds", positive=True, low=MIN_RECORD, high=MAX_RECORD),
        f"how long the answer is recorded ({MIN_RECORD:g} to {MAX_RECORD:g} s)", required=True,
        noun="a duration"),
), example="{prompt: Name one small thing you felt today, seconds: 20}")


class RecordKind(Kind):
    """The prompt (a say event), then the tone and the listening time; the bed stays down while one answers."""

    name = "record"
    step_type = Record
    ducks = True
    grammar = StepKind("record", RECORD, "ask for the day's cue: a soft tone, then the spoken answer is recorded"
                       " (by play; a silence in render and preview)",
                       example="record: {prompt: Name one small thing you felt today, seconds: 20}")

    def build(self, b: Any, node: Any, value_node: Any, value: Any, options: Dict[str, Any]) -> Record:
        return Record(seconds=value["seconds"], source=b.source(node), prompt=value.get("prompt"))

    def min_seconds(self, step: Record, script_rate: Optional[int]) -> float:
        prompt = spoken_seconds(step.prompt, Voice(), script_rate) if step.prompt else 0.0
        return step.seconds + RECORD_LEAD_SECONDS + prompt

    def place(self, step: Record, at: Placing) -> Iterator[Any]:
        if step.prompt:
            yield Spoken(step.prompt, at.voice(step.voice))
        yield Timed("record", RECORD_LEAD_SECONDS + step.seconds, data=step)

    def sound(self, event: Sounding, out: "np.ndarray", start: int, mix: Mixing) -> None:
        mix.add(out, start, mix.cue_tone(), event.start, mix.gain(CUE_TONE_DB))

    def describe(self, event: Sounding) -> str:
        return f"(after the tone, your answer is recorded: {event.data.seconds:g} s)"

    def capture_seconds(self, event: Sounding) -> Optional[float]:
        return float(event.data.seconds)

    def advice(self, step: Record, before: Any, script: Any) -> Iterator[Tuple[Source, str]]:
        """The question: there is one, and it leaves answering up to the listener."""
        asked = step.prompt or (of(before).said(before) if before is not None else None)
        if not asked:
            yield step.source, ("the listener is not told what the recording is for: add a"
                                " prompt (or a say step just before it) that asks the question")
        elif not any(words in asked.lower() for words in OPTIONAL_WORDS):
            yield step.source, ("say that answering is up to the listener (\"if you like\","
                                " \"or simply rest\"): their voice is recorded, and no one"
                                " should feel they must speak")


KIND = register(RecordKind())
