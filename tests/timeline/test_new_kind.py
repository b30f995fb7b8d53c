"""Adding a step kind is one module and its registration (issue 18: "a step kind is one room").

The ``tone`` kind below is written as a new kind would be: a model class, a
:class:`voiceguide.kinds.Kind` with its grammar row and hooks, and
``kinds.register``. Nothing else in voiceguide is edited, and the script
that uses it is loaded, validated, linted, placed, previewed as JSON,
described on the status line and the page's state, and mixed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional, Tuple

import numpy as np
import pytest

from tests.support.fakes import FakeSynth
from voiceguide import kinds
from voiceguide.errors import ScriptError
from voiceguide.script.grammar import Duration, Key, Number, StepKind
from voiceguide.script.model import Source

SR = 48_000


@dataclass(frozen=True)
class Tone:
    """A steady sine for ``seconds`` at ``hz``."""

    seconds: float
    source: Source
    hz: float = 440.0


class ToneKind(kinds.Kind):
    """The whole kind: read, checked, placed, sounded, shown, advised."""

    name = "tone"
    step_type = Tone
    grammar = StepKind("tone", Duration("tone", positive=True), "a steady tone",
                       options=(Key("hz", Number("hz", 20.0, 2000.0), "its pitch"),), example="tone: 2s")

    def build(self, b: Any, node: Any, value_node: Any, value: Any, options: Dict[str, Any]) -> Tone:
        return Tone(seconds=value, source=b.source(node), hz=options.get("hz", 440.0))

    def min_seconds(self, step: Tone, script_rate: Optional[int]) -> float:
        return step.seconds

    def place(self, step: Tone, at: kinds.Placing) -> Iterator[Any]:
        yield kinds.Timed("tone", step.seconds, data=step)

    def sound(self, event: kinds.Sounding, out: np.ndarray, start: int, mix: kinds.Mixing) -> None:
        t = np.arange(event.length) / mix.sample_rate
        mix.add(out, start, (0.1 * np.sin(2 * np.pi * event.data.hz * t)).astype(np.float32), event.start)

    def describe(self, event: kinds.Sounding) -> str:
        return f"(a tone at {event.data.hz:g} Hz)"

    def json(self, event: kinds.Sounding, voice_of: Any) -> Dict[str, Any]:
        return {"hz": event.data.hz}

    def advice(self, step: Tone, before: Any, script: Any) -> Iterator[Tuple[Source, str]]:
        if step.hz > 1000:
            yield step.source, "a tone above 1000 Hz is shrill"


@pytest.fixture
def tone():
    kind = kinds.register(ToneKind())
    yield kind
    kinds.unregister("tone")


SCRIPT = "title: T\nsteps:\n  - Hello there.\n  - tone: 2s\n    hz: 1200\n  - pause: 1s\n"


def test_a_kind_registered_through_the_registry_plays_in_every_stage(tone):
    from voiceguide.audio.mixer import Mixer
    from voiceguide.player.status_line import describe
    from voiceguide.script.lint import lint
    from voiceguide.script.loader import load_text
    from voiceguide.script.schema import schema
    from voiceguide.timeline import compile_timeline

    script = load_text(SCRIPT, "t.yaml")
    assert script.steps[1] == Tone(2.0, Source("t.yaml", 4, 5), 1200.0)
    assert [a.message for a in lint(script)][-1:] == ["a tone above 1000 Hz is shrill"]
    assert any(alt.get("title") == "tone step" for alt in schema()["$defs"]["step"]["anyOf"])

    synth = FakeSynth()
    timeline = compile_timeline(script, synth.length, sample_rate=SR)
    shown = json.loads(json.dumps(timeline.to_json()))
    lengths = [(e["kind"], round(e["end"] - e["start"], 6)) for e in shown["events"]]
    assert lengths[1:] == [("tone", 2.0), ("pause", 1.0)]
    assert shown["events"][1]["hz"] == 1200.0
    tone_event = timeline.events[1]
    assert describe(tone_event) == "(a tone at 1200 Hz)"

    out = np.zeros(timeline.length, dtype=np.float32)
    Mixer(timeline, script, lambda e: synth.clip(e.text, e.voice), ambient=False).render(0, out)
    heard = out[tone_event.start + SR // 2:tone_event.end - SR // 2]
    assert 0.05 < float(np.max(np.abs(heard))) < 0.2   # the tone, at its level
    assert float(np.max(np.abs(out[tone_event.end + 100:]))) == 0.0  # then the pause


def test_a_kind_is_checked_by_its_grammar_row_and_listed_in_errors(tone):
    from voiceguide.script.loader import load_text

    with pytest.raises(ScriptError) as bad:
        load_text("title: T\nsteps:\n  - tone: 2s\n    hz: 5\n", "t.yaml")
    assert "hz" in str(bad.value)
    with pytest.raises(ScriptError) as unknown:
        load_text("title: T\nsteps:\n  - tones: 2s\n", "t.yaml")
    assert 'did you mean "tone"' in str(unknown.value) or "tone" in str(unknown.value)


def test_without_its_registration_the_kind_is_unknown():
    from voiceguide.script.loader import load_text

    with pytest.raises(ScriptError):
        load_text("title: T\nsteps:\n  - tone: 2s\n", "t.yaml")
