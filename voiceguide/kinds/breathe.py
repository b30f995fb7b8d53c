"""The ``breathe`` step: paced breathing, a soft tone that rises on the inhale and falls on the exhale.

Its event carries the Breathe step: the mixer loops the pacer's cycle over
it, the status line and the page follow the phase (in, hold, out) as it
plays, and lint advises on patterns that are hard to breathe with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional, Tuple

from voiceguide.kinds.base import Kind, Mixing, Placing, Sounding, Timed, register
from voiceguide.script.grammar import Duration, Integer, Key, Mapping, StepKind
from voiceguide.script.model import Breathe, Source

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

MAX_CYCLES = 200
#: The pacer's tone, below the voice.
PACER_DB = -22.0

# Paced breathing that is comfortable for most people (calming patterns such as
# 4-6 or 4-7-8 sit well inside these). Outside them a listener may strain, gasp
# or get light-headed: valid, but worth a second look (``validate --lint``).
#: Longest comfortable inhale and exhale, seconds.
MAX_INHALE = 8.0
MAX_EXHALE = 12.0
#: Longest comfortable hold (after the inhale or after the exhale), seconds.
MAX_HOLD = 7.0
#: An exhale much shorter than the inhale feels like gasping, not settling.
MIN_EXHALE_RATIO = 0.5
#: Shorter cycles mean over 20 breaths a minute: fast breathing, not calm.
MIN_CYCLE = 3.0
#: One paced-breathing step longer than this is a lot to keep up at once.
MAX_PACED_SECONDS = 10 * 60.0

BREATHE = Mapping("breathe", keys=(
    Key("inhale", Duration("inhale", positive=True), "length of each in-breath", required=True),
    Key("exhale", Duration("exhale", positive=True), "length of each out-breath", required=True),
    Key("hold", Duration("hold"), "hold after the in-breath"),
    Key("hold_out", Duration("hold_out"), "hold after the out-breath"),
    Key("cycles", Integer("cycles", 1, MAX_CYCLES), "number of breaths", required=True),
), example="{inhale: 4s, exhale: 6s, cycles: 5}")


class BreatheKind(Kind):
    """Paced breathing."""

    name = "breathe"
    step_type = Breathe
    grammar = StepKind("breathe", BREATHE, "paced breathing: a soft tone rises and falls",
                       example="breathe: {inhale: 4s, exhale: 6s, cycles: 5}")

    def build(self, b: Any, node: Any, value_node: Any, value: Any, options: Dict[str, Any]) -> Breathe:
        return Breathe(inhale=value["inhale"], exhale=value["exhale"], cycles=value["cycles"],
                       source=b.source(node), hold=value.get("hold", 0.0), hold_out=value.get("hold_out", 0.0))

    def min_seconds(self, step: Breathe, script_rate: Optional[int]) -> float:
        return step.cycles * step.cycle_seconds

    def place(self, step: Breathe, at: Placing) -> Iterator[Any]:
        yield Timed("breathe", step.cycle_seconds * step.cycles, data=step)

    def sound(self, event: Sounding, out: "np.ndarray", start: int, mix: Mixing) -> None:
        b: Breathe = event.data
        cycle = mix.pacer(b.inhale, b.hold, b.exhale, b.hold_out)
        gain = mix.gain(PACER_DB)
        size = len(cycle)
        first = max(0, (start - event.start) // size)
        at = event.start + first * size
        while at < min(start + len(out), event.end):
            room = event.end - at
            mix.add(out, start, cycle[:room] if room < size else cycle, at, gain)
            at += size

    def describe(self, event: Sounding) -> str:
        b: Breathe = event.data
        return f"(breathing: in {b.inhale:g} s, out {b.exhale:g} s, {b.cycles} times)"

    def live(self, event: Sounding, into: float) -> Optional[str]:
        """Where the breath is, *into* seconds after the step began: ``(breathing: in · 2 of 6)``.

        The phases follow the pacer's tone (in, hold, out, hold); the count is
        the cycle being breathed, of the step's cycles.
        """
        b: Breathe = event.data
        period = b.cycle_seconds
        if period <= 0 or into < 0:
            return self.describe(event)
        cycle = int(into // period)
        if cycle >= b.cycles:
            return f"(breathing: done, {b.cycles} of {b.cycles})"
        t = into - cycle * period
        phase = ("in" if t < b.inhale else "hold" if t < b.inhale + b.hold
                 else "out" if t < b.inhale + b.hold + b.exhale else "hold")
        return f"(breathing: {phase} · {cycle + 1} of {b.cycles})"

    def page(self, event: Sounding) -> Optional[Tuple[str, Dict[str, Any]]]:
        b: Breathe = event.data
        return "breathing", {"inhale": b.inhale, "hold": b.hold, "exhale": b.exhale,
                             "hold_out": b.hold_out, "cycles": b.cycles}

    def advice(self, step: Breathe, before: Any, script: Any) -> Iterator[Tuple[Source, str]]:
        """Breathing patterns that are hard to follow or may leave the listener light-headed."""
        b = step
        if b.inhale > MAX_INHALE:
            yield b.source, (f"an inhale of {b.inhale:g} s is longer than most people can breathe in"
                             f" comfortably; keep it to {MAX_INHALE:g} s or less (4 s is usual)")
        if b.exhale > MAX_EXHALE:
            yield b.source, (f"an exhale of {b.exhale:g} s is longer than most people can breathe out"
                             f" comfortably; keep it to {MAX_EXHALE:g} s or less (6 s is usual)")
        if b.exhale < MIN_EXHALE_RATIO * b.inhale:
            yield b.source, (f"breathing out in {b.exhale:g} s after breathing in for {b.inhale:g} s"
                             " feels like gasping; a calming pattern breathes out as long as in, or longer"
                             " (for example inhale: 4s, exhale: 6s)")
        for name, hold in (("hold", b.hold), ("hold_out", b.hold_out)):
            if hold > MAX_HOLD:
                yield b.source, (f"a {name} of {hold:g} s can strain or make a listener light-headed;"
                                 f" keep holds to {MAX_HOLD:g} s or less and say they may breathe"
                                 " normally at any time")
        if 0 < b.cycle_seconds < MIN_CYCLE:
            yield b.source, (f"a {b.cycle_seconds:g} s cycle is {60 / b.cycle_seconds:.0f} breaths a"
                             " minute: breathing that fast can make a listener light-headed; calm"
                             f" breathing takes {MIN_CYCLE:g} s a breath or more (6 to 10 s is usual)")
        total = b.cycles * b.cycle_seconds
        if total > MAX_PACED_SECONDS:
            yield b.source, (f"{b.cycles} cycles are {total / 60:.0f} minutes of paced breathing in one"
                             f" go; {MAX_PACED_SECONDS / 60:.0f} minutes or less is plenty: split it with"
                             " rests where the breath finds its own rhythm")


KIND = register(BreatheKind())
