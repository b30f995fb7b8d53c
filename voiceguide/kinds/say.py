"""The ``say`` step: speak a text, then an optional pause (a bare string is one too).

Read from ``say: TEXT`` with its voice options; placed as one spoken clip
(its length is the synthesizer's) and a stretchable pause after it; sounded
as that clip; shown as its words; captioned; and the source of lint's
advice about speaking rates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, Optional, Tuple

from voiceguide.kinds.base import Kind, Mixing, Placing, Sounding, Spoken, Timed, register
from voiceguide.script.grammar import MAX_NAME_CHARS, PAUSE_AFTER, RATE, STRETCH, VOLUME, Key, StepKind, Text
from voiceguide.script.model import DEFAULT_RATE, Say, Source, Voice

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

#: espeak-ng's own default is 175 wpm: brisk for a guided exercise.
MAX_CALM_RATE = 170


class SayKind(Kind):
    """Speech: one clip, then silence."""

    name = "say"
    step_type = Say
    ducks = True
    grammar = StepKind("say", Text("say text"), "speak the text", options=(
        PAUSE_AFTER, STRETCH,
        Key("rate", RATE, "speaking rate for this step"),
        Key("volume", VOLUME, "voice volume for this step"),
        Key("voice", Text("voice", limit=MAX_NAME_CHARS, one_line=True, numbers=False),
            "speech engine voice for this step"),
    ), example="say: Let your shoulders drop.")

    def build(self, b: Any, node: Any, value_node: Any, value: Any, options: Dict[str, Any]) -> Say:
        voice = Voice(rate=options.get("rate"), volume=options.get("volume"), name=options.get("voice"))
        return Say(text=value, source=b.source(node), pause=options.get("pause", 0.0),
                   stretch=options.get("stretch", 1.0), voice=voice)

    def min_seconds(self, step: Say, script_rate: Optional[int]) -> float:
        return step.pause + spoken_seconds(step.text, step.voice, script_rate)

    def place(self, step: Say, at: Placing) -> Iterator[Any]:
        yield Spoken(step.text, at.voice(step.voice))
        if step.pause > 0:
            yield Timed("pause", step.pause, stretch=step.stretch)

    def sound(self, event: Sounding, out: "np.ndarray", start: int, mix: Mixing) -> None:
        mix.add(out, start, mix.clip(event), event.start)

    def describe(self, event: Sounding) -> str:
        return event.text or ""

    def json(self, event: Sounding, voice_of: Optional[Callable[[Voice], str]]) -> Dict[str, Any]:
        item: Dict[str, Any] = {"text": event.text}
        if voice_of is not None and event.voice is not None:
            item["voice"] = voice_of(event.voice)
        return item

    def silences(self, step: Say) -> Iterator[Optional[float]]:
        yield None
        if step.pause > 0:
            yield step.pause

    def said(self, step: Say) -> Optional[str]:
        return step.text

    def advice(self, step: Say, before: Any, script: Any) -> Iterator[Tuple[Source, str]]:
        own = step.voice.rate
        if own is not None and own > MAX_CALM_RATE and own != script.voice.rate:
            yield step.source, (f"speaking rate {own} words per minute is brisk for a"
                                f" guided exercise; {MAX_CALM_RATE} or less sounds calmer")


def spoken_seconds(text: str, voice: Voice, script_rate: Optional[int]) -> float:
    """The least time *text* takes at the voice's or the script's rate (the loader's length limit)."""
    rate = voice.rate or script_rate or DEFAULT_RATE
    return len(text.split()) / rate * 60.0


KIND = register(SayKind())
