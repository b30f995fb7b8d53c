"""The ``walk`` step: a soft tick per step, ``cadence`` steps a minute, for ``duration``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional

from voiceguide.kinds.base import Kind, Mixing, Placing, Sounding, Timed, register
from voiceguide.script.grammar import Duration, Key, Mapping, Number, StepKind
from voiceguide.script.model import Walk

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

MIN_CADENCE, MAX_CADENCE = 10.0, 180.0
DEFAULT_CADENCE = 40.0
#: The tick's level, below the voice.
TICK_DB = -26.0

WALK = Mapping("walk", keys=(
    Key("duration", Duration("duration", positive=True), "how long to walk", required=True,
        noun="a duration"),
    Key("cadence", Number("cadence (steps per minute)", MIN_CADENCE, MAX_CADENCE),
        f"steps per minute, one soft tick each (default {DEFAULT_CADENCE:g})"),
), example="{duration: 2m, cadence: 40}")


class WalkKind(Kind):
    """Walking: its event carries the Walk step (the cadence)."""

    name = "walk"
    step_type = Walk
    grammar = StepKind("walk", WALK, "walking: a soft tick per step", example="walk: {duration: 2m, cadence: 40}")

    def build(self, b: Any, node: Any, value_node: Any, value: Any, options: Dict[str, Any]) -> Walk:
        return Walk(duration=value["duration"], cadence=value.get("cadence", DEFAULT_CADENCE),
                    source=b.source(node))

    def min_seconds(self, step: Walk, script_rate: Optional[int]) -> float:
        return step.duration

    def place(self, step: Walk, at: Placing) -> Iterator[Any]:
        yield Timed("walk", step.duration, data=step)

    def sound(self, event: Sounding, out: "np.ndarray", start: int, mix: Mixing) -> None:
        tick = mix.tick()
        period = 60.0 * mix.sample_rate / event.data.cadence
        gain = mix.gain(TICK_DB)
        k = max(0, int((start - event.start - len(tick)) // period))
        while True:
            at = event.start + int(round(k * period))
            if at >= min(start + len(out), event.end):
                break
            room = event.end - at
            mix.add(out, start, tick[:room] if room < len(tick) else tick, at, gain)
            k += 1

    def describe(self, event: Sounding) -> str:
        return f"(walking, {event.data.cadence:g} steps a minute)"


KIND = register(WalkKind())
