"""The record step in the format: loaded, located errors, lint advice, placed in the timeline, mixed.

(Recording itself, with a real capture device and without one, is in
tests/player/test_record.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.fakes import FakeSynth
from voiceguide.errors import ScriptError
from voiceguide.script.lint import lint
from voiceguide.script.loader import load_text
from voiceguide.script.model import RECORD_LEAD_SECONDS, Record
from voiceguide.timeline import compile_timeline

SR = 48000


def load(steps: str, head: str = "title: T\n"):
    return load_text(head + "steps:\n" + steps, "s.yaml")


def problems(steps: str):
    with pytest.raises(ScriptError) as info:
        load(steps)
    return [str(p) for p in info.value.problems]


def test_a_record_step_with_and_without_a_prompt():
    script = load("  - record: {prompt: If you like say one word, seconds: 20}\n"
                  "  - record:\n      seconds: 1m\n")
    first, second = script.steps
    assert first == Record(seconds=20.0, source=first.source, prompt="If you like say one word")
    assert (second.seconds, second.prompt) == (60.0, None)
    assert (first.source.line, second.source.line) == (3, 4)


@pytest.mark.parametrize("steps, message", [
    ("  - record: {seconds: 2}\n", "s.yaml:3:23: seconds is 2 s; use a value between 3 s and 120 s"),
    ("  - record: {seconds: 3m}\n", "s.yaml:3:23: seconds is 180 s; use a value between 3 s and 120 s"),
    ("  - record: {prompt: hi}\n", "s.yaml:3:13: record needs a duration"),
    ("  - record: {prompt: hi, secnds: 5}\n", 'unknown key "secnds" in record (did you mean "seconds"?)'),
    ("  - record: 20\n", "s.yaml:3:13: record"),
    ("  - {record: {seconds: 5}, pause: 3s}\n", 'this one has "record" and "pause"; split it'),
])
def test_mistakes_are_located(steps, message):
    assert any(message in p for p in problems(steps)), problems(steps)


def test_the_timeline_speaks_the_prompt_then_a_tone_and_the_listening_time():
    script = load("  - say: Hello.\n  - record: {prompt: If you like say one word, seconds: 20}\n  - Bye.\n"
                  "  - pause: 2s\n")
    synth = FakeSynth()
    timeline = compile_timeline(script, synth.length, sample_rate=SR)
    kinds = [(e.kind, e.step) for e in timeline.events]
    assert kinds == [("say", 1), ("say", 2), ("record", 2), ("say", 3), ("pause", 4)]
    record = timeline.events[2]
    assert record.length == round((RECORD_LEAD_SECONDS + 20.0) * SR) and record.data.seconds == 20.0
    assert record.start == timeline.events[1].end
    # --length never stretches it: it is not a pause
    longer = compile_timeline(script, synth.length, sample_rate=SR, length=timeline.length / SR + 1)
    assert [e.length for e in longer.events if e.kind == "record"] == [record.length]


def test_the_mix_has_a_soft_tone_then_keeps_the_bed_down_while_the_listener_answers():
    from voiceguide.audio.mixer import Mixer

    script = load("  - pause: 8s\n  - record: {seconds: 10}\n  - pause: 8s\n",
                  head="title: T\nambient:\n  - noise: pink\n    level: -30 dB\nduck: 12 dB\n")
    timeline = compile_timeline(script, FakeSynth().length, sample_rate=SR)
    out = np.zeros(timeline.length, dtype=np.float32)
    Mixer(timeline, script, FakeSynth().clip).render(0, out)

    def rms_db(a, b):
        return 20 * np.log10(np.sqrt(np.mean(out[int(a * SR):int(b * SR)].astype(np.float64) ** 2)))

    bed, answering = rms_db(5, 7.5), rms_db(11, 17)
    assert bed - answering == pytest.approx(12.0, abs=1.0)
    tone = out[8 * SR:int(8.4 * SR)]
    assert 10 ** (-24 / 20) < np.abs(tone).max() < 10 ** (-16 / 20)


def test_lint_asks_for_a_question_that_leaves_answering_optional():
    script = load("  - say: You may stop at any time.\n    pause: 1s\n"
                  "  - record: {seconds: 5}\n"
                  "  - pause: 2s\n"
                  "  - record: {seconds: 5}\n"
                  "  - record: {prompt: Say one thing now, seconds: 5}\n"
                  "  - record: {prompt: If you like say one thing. Or simply rest, seconds: 5}\n")
    advice = [(a.source.line, a.message) for a in lint(script)]
    assert [line for line, _ in advice] == [7, 8]
    assert "not told what the recording is for" in advice[0][1]
    assert "answering is up to the listener" in advice[1][1]


def test_a_silent_answer_is_not_kept():
    from voiceguide.player.cue_capture import _said_something

    quiet = np.random.default_rng(1).normal(0, 10 ** (-60 / 20), SR * 3).astype(np.float32)
    assert not _said_something(quiet, SR)
    spoken = quiet.copy()
    spoken[SR:SR + SR // 5] += 0.1 * np.sin(np.arange(SR // 5) * 0.05).astype(np.float32)
    assert _said_something(spoken, SR)
    assert not _said_something(np.zeros(10, dtype=np.float32), SR)
