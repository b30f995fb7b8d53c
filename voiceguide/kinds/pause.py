"""The ``pause`` step: silence (or the ambient bed alone), stretched by ``--length`` by its weight."""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional

from voiceguide.kinds.base import Kind, Placing, Timed, register
from voiceguide.script.grammar import STRETCH, Duration, StepKind
from voiceguide.script.model import Pause


class PauseKind(Kind):
    """Silence: the one kind ``--length`` stretches; the status line keeps the words before it."""

    name = "pause"
    step_type = Pause
    silent = True
    grammar = StepKind("pause", Duration("pause"), "silence, or the ambient bed alone",
                       options=(STRETCH,), example="pause: 10s")

    def build(self, b: Any, node: Any, value_node: Any, value: Any, options: Dict[str, Any]) -> Pause:
        return Pause(seconds=value, source=b.source(node), stretch=options.get("stretch", 1.0))

    def min_seconds(self, step: Pause, script_rate: Optional[int]) -> float:
        return step.seconds

    def place(self, step: Pause, at: Placing) -> Iterator[Any]:
        yield Timed("pause", step.seconds, stretch=step.stretch)

    def silences(self, step: Pause) -> Iterator[Optional[float]]:
        yield step.seconds


KIND = register(PauseKind())
