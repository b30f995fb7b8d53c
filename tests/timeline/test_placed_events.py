"""The questions the mixer and the player ask, answered alike by the whole and the lazy timeline.

Skip and back are these questions (the player only adds the grace period of
``back``), so they are tested here, fast, on model objects; the keys
themselves are tested on a real device in tests/player/ (the tests marked audio).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from voiceguide.script.model import Pause, Say, Script, Section
from voiceguide.timeline import LazyTimeline, compile_timeline

from tests.support.fakes import SRC

SR = 48000


def half_second_per_word(text, voice):
    return len(text.split()) * SR // 2


#: step 1: a section (no sound)  | step 2: say 0-1 s, pause 1-2 s | step 3: pause 2-3.5 s
#: step 4: a section (no sound)  | step 5: say 3.5-5.5 s          | step 6: pause 5.5-8.5 s
#: step 7: say 8.5-9.5 s (the end)
SCRIPT = Script(title="T", path=Path("t.yaml"), steps=(
    Section("Arrive", SRC), Say("a b", SRC, pause=1.0), Pause(1.5, SRC), Section("Rest", SRC),
    Say("c d e f", SRC), Pause(3.0, SRC), Say("g h", SRC),
))
END = int(9.5 * SR)


def whole(asked=None):
    return compile_timeline(SCRIPT, half_second_per_word)


def lazy(asked=None):
    def clip_length(text, voice):
        if asked is not None:
            asked.append(text)
        return half_second_per_word(text, voice)
    return LazyTimeline(SCRIPT, clip_length)


BOTH = pytest.mark.parametrize("make", [whole, lazy], ids=["whole", "lazy"])


@BOTH
def test_step_questions_for_skip_and_back(make):
    tl = make()
    assert tl.step_at(-1) is None                      # nothing heard yet
    assert tl.step_at(0) == 2 and tl.step_at(2 * SR - 1) == 2
    assert tl.step_at(int(3.5 * SR) - 1) == 3 and tl.step_at(int(3.5 * SR)) == 5
    assert tl.step_at(100 * SR) == 7                   # past the end: still the last step
    assert tl.step_start(2) == 0 and tl.step_start(5) == int(3.5 * SR)
    assert tl.step_start(4) is None                    # a section makes no sound
    assert tl.step_start(8) is None                    # no such step
    assert tl.next_step_start(-SR) == 2 * SR           # before the first sound: after the first step
    assert tl.next_step_start(SR) == 2 * SR
    assert tl.next_step_start(3 * SR) == int(3.5 * SR)  # over the silent section step
    assert tl.next_step_start(9 * SR) is None           # the last step


@BOTH
def test_what_sounds_where_and_when_the_end_is_known(make):
    tl = make()
    assert [e.kind for e in tl.events_until(SR)] == ["say"]
    assert [e.kind for e in tl.events_until(SR + 1)] == ["say", "pause"]
    assert [(e.kind, e.step) for e in tl.sounding(SR - 10, SR + 10)] == [("say", 2), ("pause", 2)]
    assert [(e.kind, e.step) for e in tl.sounding(3 * SR, 4 * SR)] == [("pause", 3), ("say", 5)]
    assert tl.sounding(END, END + SR) == []
    assert tl.length_by(9 * SR) is None                # the end is further on
    assert tl.length_by(END) == END and tl.length == END


@BOTH
def test_questions_in_any_order_give_the_same_answers(make):
    tl = make()
    assert tl.length_by(END + SR) == END
    assert tl.next_step_start(3 * SR) == int(3.5 * SR)
    assert tl.step_at(0) == 2
    assert [e.start for e in tl.events_until(END)] == [e.start for e in whole().events]


def test_lazy_places_only_as_far_as_a_question_needs():
    asked = []
    tl = lazy(asked)
    assert tl.next_step_start(0) == 2 * SR and asked == ["a b"]   # the next step is a pause
    assert tl.length is None
    assert tl.next_step_start(2 * SR) == int(3.5 * SR) and asked == ["a b", "c d e f"]
    assert tl.length_by(6 * SR) is None and asked == ["a b", "c d e f"]
    assert tl.next_step_start(6 * SR) == int(8.5 * SR) and asked == ["a b", "c d e f", "g h"]
    assert tl.length is None                            # not known until placing is over
    assert tl.next_step_start(9 * SR) is None and tl.length == END
