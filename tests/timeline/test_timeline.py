"""The timeline is a pure function: tested with model objects and fake clip lengths."""

from __future__ import annotations

from pathlib import Path

import pytest

from voiceguide.errors import UsageError
from voiceguide.script.model import Bell, Breathe, Count, Pause, Repeat, Say, Script, Section, Voice, Walk
from voiceguide.timeline import PAUSE_FLOOR_SECONDS, compile_timeline, estimate, LazyTimeline

from tests.support.fakes import SRC

SR = 48000


def words_len(text, voice):
    """Half a second per word: easy to reason about."""
    return len(text.split()) * SR // 2


def script(*steps, **kw):
    return Script(title="T", steps=tuple(steps), path=Path("t.yaml"), **kw)


def test_say_then_pause_places_events_back_to_back():
    tl = compile_timeline(script(Say("one two", SRC, pause=4.0), Pause(2.0, SRC)), words_len)
    kinds = [(e.kind, e.start, e.length) for e in tl.events]
    assert kinds == [("say", 0, SR), ("pause", SR, 4 * SR), ("pause", 5 * SR, 2 * SR)]
    assert tl.length == 7 * SR
    assert tl.duration == 7.0


def test_count_speaks_numbers_one_second_apart_onset_to_onset():
    tl = compile_timeline(script(Count(5, SRC)), words_len)
    says = tl.says()
    assert [e.text for e in says] == ["one", "two", "three", "four", "five"]
    assert [e.start for e in says] == [0, SR, 2 * SR, 3 * SR, 4 * SR]
    assert tl.length == 5 * SR  # the last one-second slot is kept


def test_count_in_other_language_uses_digits():
    tl = compile_timeline(script(Count(2, SRC), language="fr"), words_len)
    assert [e.text for e in tl.says()] == ["1", "2"]


def test_repeat_expands_and_sections_name_following_events():
    s = script(Section("Hands", SRC), Repeat(3, (Say("press", SRC), Pause(1.0, SRC)), SRC),
               Section("End", SRC), Bell("bowl", SRC))
    tl = compile_timeline(s, words_len)
    assert [e.kind for e in tl.events] == ["say", "pause"] * 3 + ["bell"]
    assert {e.section for e in tl.events[:6]} == {"Hands"}
    assert tl.events[-1].section == "End"
    assert tl.events[-1].length == 6 * SR
    assert tl.sections() == [("Hands", 0), ("End", 3 * (SR // 2 + SR))]
    assert tl.start_of("end") == tl.events[-1].start
    assert tl.start_of("Ha") == 0
    with pytest.raises(UsageError, match='no such section; sections are "Hands", "End"'):
        tl.start_of("Feet")


def test_breathe_and_walk_have_exact_lengths():
    s = script(Breathe(4.0, 6.0, 5, SRC, hold=1.0), Walk(120.0, 40, SRC))
    tl = compile_timeline(s, words_len)
    assert [(e.kind, e.length) for e in tl.events] == [("breathe", 55 * SR), ("walk", 120 * SR)]


def test_length_stretches_pauses_by_weight_and_never_speech():
    s = script(Say("a b", SRC, pause=4.0), Pause(10.0, SRC, stretch=2), Pause(3.0, SRC, stretch=0))
    base = compile_timeline(s, words_len)
    tl = compile_timeline(s, words_len, length=60.0)
    assert tl.length == 60 * SR
    by = [(e.kind, e.length) for e in tl.events]
    assert by[0] == ("say", SR)            # speech unchanged
    assert by[3] == ("pause", 3 * SR)      # stretch 0 is fixed
    grow_a = by[1][1] - 4 * SR
    grow_b = by[2][1] - 10 * SR
    # in proportion to weight x written length: 1*4 : 2*10
    assert grow_b / grow_a == pytest.approx(5.0, rel=1e-4)
    assert base.length == 18 * SR


def test_length_shrinks_to_the_floor_but_not_below():
    s = script(Say("a b", SRC, pause=4.0), Pause(10.0, SRC))
    tl = compile_timeline(s, words_len, length=2.0)  # 1 s speech + 2 x 0.5 s floors
    assert tl.length == 2 * SR
    assert all(e.length >= PAUSE_FLOOR_SECONDS * SR for e in tl.events if e.kind == "pause")


def test_unreachable_length_is_a_clear_error_with_the_range():
    s = script(Say("a b", SRC, pause=4.0), Pause(10.0, SRC))
    with pytest.raises(UsageError, match=r"--length 0:01 cannot be reached: \"T\" can last from 0:02 to 4:00:00"):
        compile_timeline(s, words_len, length=1.0)
    fixed = script(Say("a b", SRC, pause=4.0, stretch=0))
    with pytest.raises(UsageError, match="no stretchable pauses and always lasts 0:05"):
        compile_timeline(fixed, words_len, length=60.0)


@pytest.mark.parametrize("seconds", [1e12, 3.6e307, 1.7e308])
def test_an_absurd_length_is_the_same_clear_error_not_an_overflow(seconds):
    s = script(Say("a b", SRC, pause=4.0), Pause(10.0, SRC))
    with pytest.raises(UsageError, match=r"cannot be reached: \"T\" can last from 0:02 to 4:00:00"):
        compile_timeline(s, words_len, length=seconds)
    with pytest.raises(UsageError, match="cannot be reached"):
        list(LazyTimeline(s, words_len, length=seconds).events_until(1))


def test_length_is_exact_to_the_sample_with_awkward_numbers():
    s = script(*[Pause(1.0 + i / 7, SRC, stretch=1 + i % 3) for i in range(11)])
    for target in (13.3333, 20.00001, 61.7):
        tl = compile_timeline(s, words_len, length=target)
        assert tl.length == round(target * SR)
        assert sum(e.length for e in tl.events) == tl.length


def test_voice_precedence_option_over_step_over_script():
    s = script(Say("x", SRC, voice=Voice(rate=100)), Say("y", SRC), voice=Voice(rate=120, volume=0.5))
    seen = []
    compile_timeline(s, lambda t, v: seen.append((t, v)) or SR)
    assert seen == [("x", Voice(100, 0.5, None)), ("y", Voice(120, 0.5, None))]
    seen.clear()
    compile_timeline(s, lambda t, v: seen.append((t, v)) or SR, voice=Voice(rate=200))
    assert [v.rate for _, v in seen] == [200, 200]


def test_lazy_timeline_asks_for_each_clip_only_when_needed():
    asked = []
    s = script(Say("a", SRC), Pause(1.0, SRC), Say("b", SRC))
    lazy = LazyTimeline(s, lambda t, v: asked.append(t) or SR)
    it = iter(lazy)
    first = next(it)
    assert first.kind == "say" and asked == ["a"]
    assert lazy.length is None
    rest = list(it)
    assert asked == ["a", "b"] and len(rest) == 2
    assert lazy.length == 3 * SR


def test_json_shape_is_the_pinned_one():
    s = script(Section("S", SRC), Say("hello there", SRC, pause=1.0), Bell("chime", SRC))
    data = compile_timeline(s, words_len).to_json()
    assert set(data) >= {"title", "duration", "sample_rate", "events"}
    assert data["sample_rate"] == SR and data["duration"] == 5.0
    first = data["events"][0]
    assert first == {"start": 0.0, "end": 1.0, "kind": "say", "text": "hello there", "section": "S",
                     "source": "test.yaml:1", "step": 2}
    assert [e["kind"] for e in data["events"]] == ["say", "pause", "bell"]
    assert all("text" not in e for e in data["events"][1:])


def test_estimate_needs_no_engine():
    s = script(Say(" ".join(["word"] * 140), SRC), voice=Voice(rate=140))
    assert 60.0 <= estimate(s).duration <= 61.0
