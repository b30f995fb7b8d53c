"""The ``repeat`` step: play the steps under it N times (the one kind that holds steps)."""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Sequence, Tuple

from voiceguide.kinds.base import Kind, Placing, of, register
from voiceguide.script.grammar import Integer, Key, StepKind, Steps
from voiceguide.script.model import Repeat

MAX_REPEAT = 1000


class RepeatKind(Kind):
    """Steps N times: every walk over steps asks :meth:`inner` rather than testing for a repeat."""

    name = "repeat"
    step_type = Repeat
    grammar = StepKind("repeat", Integer("repeat", 1, MAX_REPEAT, " times"), "play the steps under it N times",
                       options=(Key("steps", Steps("repeat steps"), "the steps to repeat", required=True),),
                       example="repeat: 3")

    def missing(self, option: str) -> str:
        return "repeat needs 'steps:' with the list of steps to repeat, indented under it"

    def build(self, b: Any, node: Any, value_node: Any, value: Any, options: Dict[str, Any]) -> Repeat:
        return Repeat(times=value, steps=options["steps"], source=b.source(node))

    def inner(self, step: Repeat) -> Optional[Tuple[int, Sequence[Any]]]:
        return step.times, step.steps

    def min_seconds(self, step: Repeat, script_rate: Optional[int]) -> float:
        return step.times * sum(of(s).min_seconds(s, script_rate) for s in step.steps)

    def place(self, step: Repeat, at: Placing) -> Iterator[Any]:
        for _ in range(step.times):
            at.steps(step.steps)
        return iter(())


KIND = register(RepeatKind())
