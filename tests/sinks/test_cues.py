"""Caption cues: the splitting and timing rules of voiceguide.sinks.cues, on any sentence."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from voiceguide.sinks.cues import (MAX_CHARS, MAX_LINES, MAX_SECONDS, MIN_SECONDS, break_cost, clip_cues, layout,
                                   place)
from voiceguide.synth.words import estimate, tokens

SR = 48000
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzé'", min_size=1, max_size=14)
PUNCT = st.sampled_from(["", "", "", "", ",", ".", ";", "?", ":"])
SENTENCE = st.lists(st.tuples(WORD, PUNCT), min_size=1, max_size=60).map(lambda ws: " ".join(w + p for w, p in ws))


def check(cues, text, sample_rate=SR):
    lo, hi = MIN_SECONDS * sample_rate, MAX_SECONDS * sample_rate
    for cue in cues:
        assert 1 <= len(cue.lines) <= MAX_LINES
        assert all(len(line) <= MAX_CHARS or " " not in line for line in cue.lines), cue
        assert lo - 1 <= cue.end - cue.start <= hi + 1, cue
    for a, b in zip(cues, cues[1:]):
        assert a.end <= b.start
    assert " ".join(c.text for c in cues).split() == tokens(" ".join(text) if isinstance(text, list) else text)


@settings(max_examples=300, deadline=None)
@given(SENTENCE, st.floats(0.05, 0.9), st.integers(0, 10 * SR))
def test_any_sentence_makes_readable_cues(text, seconds_a_word, start):
    words = tokens(text)
    count = max(1, int(len(words) * seconds_a_word * SR))
    cues = place(clip_cues(text, estimate(text, count), start, count, SR), SR)
    check(cues, text)
    assert cues[0].start == start  # the first cue starts with the first word


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(SENTENCE, st.floats(0.0, 3.0), st.floats(0.05, 0.6)), min_size=1, max_size=6))
def test_cues_of_clips_in_a_row_never_overlap(clips):
    raw, at, texts = [], 0, []
    for text, gap, per_word in clips:
        count = max(1, int(len(tokens(text)) * per_word * SR))
        raw.extend(clip_cues(text, estimate(text, count), at, count, SR))
        at += count + int(gap * SR)
        texts.append(text)
    check(place(raw, SR), texts)


def test_breaks_follow_the_sense():
    text = ("Find a position that feels comfortable, sitting or lying down, and let the floor "
            "or the chair take your weight.")
    cues = clip_cues(text, estimate(text, 8 * SR), 0, 8 * SR, SR)
    assert [c.lines for c in cues] == [
        ("Find a position that feels comfortable,", "sitting or lying down,"),
        ("and let the floor", "or the chair take your weight."),  # before "or": the break the sense allows
    ]


def test_one_line_when_it_fits_and_no_orphan_line():
    assert layout("Rest here.".split()) == ("Rest here.",)
    two = layout("Notice the weight of your hands resting on your legs and breathe".split())
    assert two is not None and all(len(line.split()) > 1 for line in two)


def test_break_costs_rank_sentence_clause_conjunction_other():
    words = "Rest. Then, breathe and notice the air".split()
    assert break_cost(words, 1) < break_cost(words, 2) < break_cost(words, 3) < break_cost(words, 6)


def test_a_short_clip_is_shown_a_second_and_a_long_pause_does_not_keep_it():
    cues = place(clip_cues("One.", [(0, SR // 4)], 0, SR // 4, SR), SR)
    assert cues[0].end - cues[0].start == SR
    cues = place(clip_cues("Breathe in slowly.", None, 0, 2 * SR, SR), SR)
    assert cues[0].end <= 2 * SR + int(0.6 * SR) + 1


def test_a_cue_that_would_be_shown_under_a_second_pushes_the_next_one():
    raw = clip_cues("One.", [(0, 4800)], 0, 4800, SR) + clip_cues("Two.", [(0, 4800)], SR // 2, 4800, SR)
    a, b = place(raw, SR)
    assert a.end - a.start >= SR and b.start >= a.end
