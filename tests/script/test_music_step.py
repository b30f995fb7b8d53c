"""The music step in the format and the timeline (the sound itself: tests/player/test_music.py)."""

from __future__ import annotations

import pytest

from tests.support.fakes import FakeSynth
from voiceguide.errors import ScriptError
from voiceguide.script.loader import load_text
from voiceguide.script.model import Music
from voiceguide.timeline import compile_timeline

SR = 48000


def load(steps: str):
    return load_text("title: T\nsteps:\n" + steps, "s.yaml")


def test_a_music_step_and_its_fade():
    first, second = load("  - music: 5m\n  - {music: 90s, fade: 2s}\n").steps
    assert (first.seconds, first.fade) == (300.0, 3.0) and isinstance(first, Music)
    assert (second.seconds, second.fade) == (90.0, 2.0)


@pytest.mark.parametrize("steps, message", [
    ("  - music: 9m\n", "s.yaml:3:12: music is 540 s; use a value between 10 s and 480 s"),
    ("  - music: 0\n", "s.yaml:3:12: music must be longer than 0 seconds"),
    ("  - {music: 2m, fade: 20s}\n", "fade is 20 s; use a value between 0.5 s and 10 s"),
    ("  - music: song.flac\n", "s.yaml:3:12: music: expected a duration"),
])
def test_mistakes_are_located(steps, message):
    with pytest.raises(ScriptError) as info:
        load(steps)
    assert any(message in str(p) for p in info.value.problems), [str(p) for p in info.value.problems]


def test_the_step_lasts_the_piece_or_its_longest():
    script = load("  - Hello.\n  - music: 5m\n  - Bye.\n")
    synth = FakeSynth()

    def music_length(seconds):
        timeline = compile_timeline(script, synth.length, sample_rate=SR, music_seconds=seconds)
        (event,) = [e for e in timeline.events if e.kind == "music"]
        assert (event.step, event.data.fade) == (2, 3.0)  # a music event carries its step
        return event.length / SR

    assert music_length(200.0) == pytest.approx(200.0)    # a shorter piece: the whole piece
    assert music_length(400.0) == pytest.approx(300.0)    # a longer one: cut (and faded) at 5 m
    assert music_length(None) == pytest.approx(300.0)     # no piece (preview): its longest
