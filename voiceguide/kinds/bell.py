"""The ``bell`` step: strike a bell; the step lasts as long as it rings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, Optional

from voiceguide.kinds.base import Kind, Mixing, Placing, Sounding, Timed, register
from voiceguide.script.grammar import Key, Keyword, Level, StepKind
from voiceguide.script.model import BELL_KINDS, BELL_SECONDS, Bell, Voice

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

DEFAULT_BELL_DB = -12.0


class BellKind(Kind):
    """A bell: its event carries the Bell step (which bell, how loud)."""

    name = "bell"
    step_type = Bell
    grammar = StepKind("bell", Keyword("bell", BELL_KINDS, "bell"), "strike a bell; lasts as long as it rings",
                       options=(Key("level", Level("level"), f"bell level in dB (default {DEFAULT_BELL_DB:g})"),),
                       example="bell: bowl")

    def build(self, b: Any, node: Any, value_node: Any, value: Any, options: Dict[str, Any]) -> Bell:
        return Bell(kind=value, source=b.source(node), level_db=options.get("level", DEFAULT_BELL_DB))

    def min_seconds(self, step: Bell, script_rate: Optional[int]) -> float:
        return BELL_SECONDS.get(step.kind, 0.0)

    def place(self, step: Bell, at: Placing) -> Iterator[Any]:
        yield Timed("bell", BELL_SECONDS[step.kind], data=step)

    def sound(self, event: Sounding, out: "np.ndarray", start: int, mix: Mixing) -> None:
        bell: Bell = event.data
        mix.add(out, start, mix.bell(bell.kind), event.start, mix.gain(bell.level_db))

    def describe(self, event: Sounding) -> str:
        return f"(bell: {event.data.kind})"

    def json(self, event: Sounding, voice_of: Optional[Callable[[Voice], str]]) -> Dict[str, Any]:
        return {"bell": event.data.kind}


KIND = register(BellKind())
