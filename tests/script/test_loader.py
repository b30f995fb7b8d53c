"""Tests of voiceguide.script.loader: every written form, every error, every limit."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

from voiceguide.script import compose, model, path_policy, problems as problems_module
from voiceguide.errors import Problem, ScriptError
from voiceguide.script.loader import check, load, load_text
from voiceguide.script.model import (
    Bell,
    Breathe,
    Count,
    Drone,
    Noise,
    Pause,
    Repeat,
    Say,
    Script,
    Section,
    SoundLoop,
    Voice,
    Walk,
)

from tests.support.scripts import DESIGN_EXAMPLE
from tests.support.sounds import write_wav

VALID = DESIGN_EXAMPLE


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def problems(text, filename="s.yaml", base_dir=None):
    """The problems of a script given as text, as 'file:line:col: message' lines."""
    with pytest.raises(ScriptError) as info:
        load_text(text, filename, base_dir)
    for p in info.value.problems:
        assert isinstance(p, Problem)
        assert p.line >= 1 and p.col >= 1
    return [str(p) for p in info.value.problems]


def one_problem(text, **kw):
    found = problems(text, **kw)
    assert len(found) == 1, found
    return found[0]


def steps_script(steps_yaml: str) -> str:
    """A valid header followed by the given (dedented) steps list."""
    return "title: T\nsteps:\n" + textwrap.indent(dedent(steps_yaml), "  ")


# --- the happy path --------------------------------------------------------------


def test_design_example_loads_completely(tmp_path):
    path = tmp_path / "palm-pressure.yaml"
    path.write_text(VALID, encoding="utf-8")
    script = load(path)
    assert isinstance(script, Script)
    assert script.id == "palm-pressure"
    assert script.path == path
    assert script.title == "Palm-pressure grounding"
    assert script.summary == "Press, hold and release."
    assert script.language == "en"
    assert script.voice == Voice(rate=140, volume=0.9, name=None)
    assert script.duck_db == 8.0
    drone, noise = script.ambient
    assert isinstance(drone, Drone) and drone.note == "A2"
    assert drone.hz == pytest.approx(110.0) and drone.level_db == -28.0
    assert noise == Noise("brown", -34.0, noise.source)
    f = str(path)
    kinds = [type(s) for s in script.steps]
    assert kinds == [Bell, Section, Say, Say, Pause, Repeat, Breathe, Walk, Bell]
    bell, section, say, bare, pause, repeat, breathe, walk, _ = script.steps
    assert bell.kind == "bowl" and bell.level_db == -12.0
    assert (bell.source.file, bell.source.line, bell.source.col) == (f, 14, 5)
    assert section.name == "Settling"
    assert say.text.startswith("Find") and say.pause == 4.0 and say.stretch == 1.0
    assert say.source.line == 16
    assert bare == Say("Let your hands rest in your lap.", bare.source)
    assert bare.source.line == 18 and bare.source.col == 5
    assert pause.seconds == 10.0 and pause.stretch == 2.0
    assert repeat.times == 3 and [type(s) for s in repeat.steps] == [Say, Count, Say]
    assert repeat.steps[1].to == 5 and repeat.steps[1].interval == 1.0
    assert repeat.steps[0].source.line == 23 and repeat.steps[0].source.col == 9
    assert breathe.cycle_seconds == 11.0 and breathe.cycles == 5 and breathe.hold_out == 0.0
    assert walk.duration == 120.0 and walk.cadence == 40.0
    assert check(path) == []


def test_load_text_accepts_bytes_and_str_and_a_bom():
    a = load_text(VALID, "x.yaml")
    b = load_text(VALID.encode("utf-8"), "x.yaml")
    c = load_text(b"\xef\xbb\xbf" + VALID.encode("utf-8"), "x.yaml")
    assert a == b == c
    assert a.path == Path("x.yaml")


def test_minimal_script_defaults():
    script = load_text("title: T\nsteps: [Hello]\n", "m.yaml")
    assert script.summary is None
    assert script.language == "en"
    assert script.voice == Voice()
    assert script.ambient == ()
    assert script.duck_db == model.DEFAULT_DUCK_DB
    assert script.steps == (Say("Hello", script.steps[0].source),)


@pytest.mark.parametrize(
    "written, seconds",
    [
        ("4", 4.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("'4'", 4.0),
        ("500ms", 0.5),
        ("4s", 4.0),
        ("4 s", 4.0),
        ("1.5s", 1.5),
        (".5s", 0.5),
        ("10sec", 10.0),
        ("2m", 120.0),
        ("2min", 120.0),
        ("1m30s", 90.0),
        ("1m 30s", 90.0),
        ("1h", 3600.0),
        ("1h2m3s", 3723.0),
        ("1m30s250ms", 90.25),
        ("'4S'", 4.0),
    ],
)
def test_every_written_duration_form(written, seconds):
    script = load_text(steps_script(f"- pause: {written}\n"), "d.yaml")
    assert script.steps[0].seconds == pytest.approx(seconds)


@pytest.mark.parametrize(
    "written, db",
    [("-28", -28.0), ("-28 dB", -28.0), ("-28dB", -28.0), ("-28 db", -28.0), ("0", 0.0),
     ("-6.5 dB", -6.5), ("'-3'", -3.0)],
)
def test_every_written_level_form(written, db):
    text = f"title: T\nambient:\n  - noise: pink\n    level: {written}\nsteps:\n  - bell: chime\n    level: {written}\n"
    script = load_text(text, "l.yaml")
    assert script.ambient[0].level_db == db
    assert script.steps[0].level_db == db


def test_default_levels_of_layers_and_bells(tmp_path):
    write_wav(tmp_path / "rain.wav")
    text = "title: T\nambient:\n  - drone: 110 Hz\n  - noise: white\n  - sound: rain.wav\nsteps:\n  - bell: gong\n"
    script = load_text(text, str(tmp_path / "a.yaml"))
    drone, noise, sound = script.ambient
    assert (drone.level_db, noise.level_db, sound.level_db) == (-30.0, -36.0, -30.0)
    assert drone.hz == 110.0 and drone.note == "110 Hz"
    assert isinstance(sound, SoundLoop) and sound.path == (tmp_path / "rain.wav").resolve()
    assert sound.path.is_absolute()
    assert script.steps[0].level_db == -12.0


def test_drone_as_a_number_and_as_note_names():
    text = "title: T\nambient:\n  - drone: 220\n  - drone: C#3\n  - drone: Bb1\nsteps: [hi]\n"
    a, b, c = load_text(text, "x.yaml").ambient
    assert a.hz == 220.0 and a.note is None
    assert b.note == "C#3" and b.hz == pytest.approx(138.59, abs=0.01)
    assert c.note == "Bb1"


def test_duck_forms():
    for written, db in (("8 dB", 8.0), ("0", 0.0), ("12", 12.0), ("'6db'", 6.0)):
        assert load_text(f"title: T\nduck: {written}\nsteps: [hi]\n", "x.yaml").duck_db == db


def test_say_options_make_a_voice():
    script = load_text(steps_script("""
        - say: Slowly.
          pause: 1m30s
          stretch: 0
          rate: 120
          volume: 0.5
          voice: en-us
    """), "x.yaml")
    say = script.steps[0]
    assert say == Say("Slowly.", say.source, pause=90.0, stretch=0.0,
                      voice=Voice(rate=120, volume=0.5, name="en-us"))


def test_count_options_and_breathe_and_walk_defaults():
    script = load_text(steps_script("""
        - count: 20
          interval: 500ms
          pause: 2s
          stretch: 3
        - breathe:
            inhale: 4
            exhale: 6
            hold: 1s
            hold_out: 2s
            cycles: 200
        - walk: {duration: 1m}
    """), "x.yaml")
    count, breathe, walk = script.steps
    assert (count.to, count.interval, count.pause, count.stretch) == (20, 0.5, 2.0, 3.0)
    assert (breathe.inhale, breathe.exhale, breathe.hold, breathe.hold_out, breathe.cycles) == (4, 6, 1, 2, 200)
    assert walk.cadence == 40.0


def test_bare_strings_and_plain_scalars_that_yaml_would_retype():
    script = load_text(steps_script("""
        - Breathe in.
        - yes
        - 'quoted: with a colon'
        - >
          folded text
          over two lines
        - say: 3
    """), "x.yaml")
    texts = [s.text for s in script.steps]
    assert texts == ["Breathe in.", "yes", "quoted: with a colon", "folded text over two lines", "3"]
    assert all(isinstance(s, Say) for s in script.steps)


def test_nested_repeat():
    script = load_text(steps_script("""
        - repeat: 2
          steps:
            - section: Outer
            - repeat: 3
              steps:
                - say: Inner
                - pause: 1
    """), "x.yaml")
    outer = script.steps[0]
    assert outer.times == 2
    inner = outer.steps[1]
    assert isinstance(inner, Repeat) and inner.times == 3
    assert [type(s) for s in inner.steps] == [Say, Pause]
    assert inner.steps[0].source.line == 8 and inner.steps[0].source.col == 13


def test_aliases_within_limits_are_fine():
    text = "title: T\nx: &p {pause: 2s}\nsteps: [*p, *p]\n"
    # x is unknown, but the aliases themselves are fine
    assert problems(text) == [
        's.yaml:2:1: unknown key "x" in the script; the script takes: title, summary, language,'
        " voice, ambient, duck, steps, part"
    ]
    script = load_text("title: &t Hello\nsteps: [*t, *t]\n", "a.yaml")
    assert [s.text for s in script.steps] == ["Hello", "Hello"]


def test_loading_is_fast():
    text = VALID
    load_text(text, "warm.yaml")
    start = time.perf_counter()
    for _ in range(7):
        load_text(text, "x.yaml")
    assert time.perf_counter() - start < 0.25  # a few ms normally; generous for CI


def test_loader_imports_nothing_heavy():
    import subprocess
    import sys

    code = "import sys, voiceguide.script.loader; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- one test per kind of error ----------------------------------------------------


def test_empty_file():
    assert one_problem("") == "s.yaml:1:1: the file is empty; a script needs at least 'title:' and 'steps:'"
    assert one_problem("# only a comment\n\n").startswith("s.yaml:1:1: the file is empty")


def test_top_level_must_be_a_mapping():
    assert one_problem("- a\n- b\n") == (
        "s.yaml:1:1: the script: expected a mapping such as title: ... and steps: ..., got a list"
    )


def test_missing_title_and_steps():
    assert problems("summary: hi\n") == [
        "s.yaml:1:1: the script has no steps; add 'steps:' with a list of steps",
        "s.yaml:1:1: the script has no title; add a line such as 'title: Body scan'",
    ]


def test_empty_steps():
    assert one_problem("title: T\nsteps: []\n") == (
        "s.yaml:2:8: steps is empty; add at least one step such as '- say: Hello'"
    )


def test_unknown_top_level_key_did_you_mean():
    assert one_problem("title: T\nsumary: x\nsteps: [hi]\n") == (
        's.yaml:2:1: unknown key "sumary" in the script (did you mean "summary"?); the script'
        " takes: title, summary, language, voice, ambient, duck, steps, part"
    )


def test_misspelt_step_kind():
    assert one_problem(steps_script("- sya: hello\n")) == (
        's.yaml:3:5: unknown step kind "sya" (did you mean "say"?); a step is one of: say, pause,'
        " bell, section, repeat, count, breathe, walk, record, music, include"
    )


def test_misspelt_option():
    assert one_problem(steps_script("- say: hello\n  paus: 2s\n")) == (
        's.yaml:4:5: unknown key "paus" in a say step (did you mean "pause"?); a say step takes:'
        " pause, stretch, rate, volume, voice"
    )


def test_misspelt_bell_kind():
    assert one_problem(steps_script("- bell: gnog\n")) == (
        's.yaml:3:11: unknown bell "gnog" (did you mean "gong"?); use one of bowl, chime, gong'
    )


def test_misspelt_noise_colour():
    text = "title: T\nambient:\n  - noise: pnik\nsteps: [hi]\n"
    assert one_problem(text) == (
        's.yaml:3:12: unknown noise colour "pnik" (did you mean "pink"?); use one of white, pink, brown'
    )


def test_two_kinds_in_one_step():
    assert one_problem(steps_script("- say: hello\n  bell: bowl\n")) == (
        's.yaml:4:5: a step has exactly one kind, but this one has "say" and "bell"; split it into'
        " separate '- ' steps (kinds: say, pause, bell, section, repeat, count, breathe, walk, record, music, include)"
    )


def test_no_kind_in_a_step():
    assert one_problem(steps_script("- stretch: 2\n")) == (
        "s.yaml:3:5: this step has no kind (only stretch); a step needs exactly one of: say,"
        " pause, bell, section, repeat, count, breathe, walk, record, music, include"
    )


def test_say_with_pause_is_one_say_step_but_pause_with_bell_is_two_kinds():
    assert isinstance(load_text(steps_script("- pause: 2\n  say: hi\n"), "x.yaml").steps[0], Say)
    assert "has exactly one kind" in one_problem(steps_script("- pause: 2\n  bell: bowl\n"))


def test_duplicate_keys():
    assert one_problem(steps_script("- say: hello\n  pause: 1\n  pause: 2\n")) == (
        's.yaml:5:5: duplicate key "pause" (first at line 4, column 5); remove one of them'
    )
    assert one_problem("title: a\ntitle: b\nsteps: [hi]\n") == (
        's.yaml:2:1: duplicate key "title" (first at line 1, column 1); remove one of them'
    )


def test_wrong_types_say_what_was_expected():
    assert one_problem("title: [a, b]\nsteps: [hi]\n") == "s.yaml:1:8: title: expected text, got a list"
    assert one_problem("title: T\nsteps: hello\n") == (
        "s.yaml:2:8: steps: expected a list (lines starting with '- '), got the text 'hello'"
    )
    assert one_problem(steps_script("- count: five\n")) == (
        "s.yaml:3:12: count: expected a whole number from 1 to 20, got the text 'five'"
    )
    assert one_problem(steps_script("- breathe: 4s\n")) == (
        "s.yaml:3:14: breathe: expected a mapping such as {inhale: 4s, exhale: 6s, cycles: 5},"
        " got the text '4s'"
    )
    assert one_problem("title: T\nvoice: fast\nsteps: [hi]\n") == (
        "s.yaml:2:8: voice: expected a mapping such as {rate: 140, volume: 0.9}, got the text 'fast'"
    )
    assert one_problem(steps_script("- 5\n")) == (
        "s.yaml:3:5: a step cannot be just the number 5; write 'pause: 5' to wait, or put it in quotes to say it"
    )


def test_bad_duration():
    assert one_problem(steps_script("- pause: 4x\n")) == (
        "s.yaml:3:12: pause: expected a duration such as 4, 500ms, 4s, 1.5s, 2m or 1m30s, got '4x'"
    )
    assert one_problem(steps_script("- pause: -3\n")) == (
        "s.yaml:3:12: pause: expected a duration such as 4, 500ms, 4s, 1.5s, 2m or 1m30s"
        " (not negative), got -3"
    )


def test_level_above_zero_db():
    text = "title: T\nambient:\n  - drone: A2\n    level: +3 dB\nsteps: [hi]\n"
    assert one_problem(text) == "s.yaml:4:12: level 3 dB is above 0 dB; use 0 dB or lower, e.g. -28 dB"
    assert one_problem(steps_script("- bell: bowl\n  level: 6\n")) == (
        "s.yaml:4:12: level 6 dB is above 0 dB; use 0 dB or lower, e.g. -28 dB"
    )


def test_bad_duck():
    assert one_problem("title: T\nduck: -4\nsteps: [hi]\n") == (
        "s.yaml:2:7: duck must be between 0 and 60 dB, got -4"
    )


def test_bad_drone():
    text = "title: T\nambient:\n  - drone: 5 Hz\nsteps: [hi]\n"
    assert one_problem(text) == "s.yaml:3:12: drone pitch must be between 20 and 2000 Hz, got 5 Hz"


def test_layer_needs_exactly_one_kind():
    text = "title: T\nambient:\n  - drone: A2\n    noise: pink\n  - level: -3\nsteps: [hi]\n"
    assert problems(text) == [
        's.yaml:4:5: an ambient layer needs exactly one of drone, noise or sound (found "drone"'
        " and \"noise\"); write one layer per '- ' item",
        "s.yaml:5:5: an ambient layer needs exactly one of drone, noise or sound (found none);"
        " write one layer per '- ' item",
    ]


def test_rate_out_of_range():
    assert one_problem("title: T\nvoice: {rate: 350}\nsteps: [hi]\n") == (
        "s.yaml:2:15: rate is 350 words per minute; use a whole number from 80 to 300"
    )
    assert one_problem(steps_script("- say: hi\n  rate: 60\n")) == (
        "s.yaml:4:11: rate is 60 words per minute; use a whole number from 80 to 300"
    )


def test_volume_out_of_range():
    assert one_problem("title: T\nvoice: {volume: 1.5}\nsteps: [hi]\n") == (
        "s.yaml:2:17: volume is 1.5; use a number from 0 to 1"
    )
    assert one_problem(steps_script("- say: hi\n  volume: -0.1\n")) == (
        "s.yaml:4:13: volume is -0.1; use a number from 0 to 1"
    )


def test_say_text_empty_or_too_long():
    assert one_problem(steps_script("- say: ''\n")) == "s.yaml:3:10: say text is empty; write some text"
    long = "word " * 500
    assert one_problem(steps_script(f"- say: {long}\n")) == (
        "s.yaml:3:10: say text is 2499 characters long, more than the limit of 2000;"
        " split it into several steps"
    )
    assert one_problem(steps_script("-\n")).startswith("s.yaml:3:4: empty step;")


def test_section_must_be_non_empty_text():
    assert one_problem(steps_script("- section:\n")) == "s.yaml:3:13: section name: expected text, got nothing"


def test_repeat_limits_and_required_steps():
    assert problems(steps_script("- repeat: 0\n  steps: [hi]\n- repeat: 2\n")) == [
        "s.yaml:3:13: repeat is 0 times; use a whole number from 1 to 1000",
        "s.yaml:5:5: repeat needs 'steps:' with the list of steps to repeat, indented under it",
    ]
    assert one_problem(steps_script("- repeat: 1001\n  steps: [hi]\n")) == (
        "s.yaml:3:13: repeat is 1001 times; use a whole number from 1 to 1000"
    )


def test_count_limits():
    assert one_problem(steps_script("- count: 21\n")) == "s.yaml:3:12: count is 21; use a whole number from 1 to 20"
    assert one_problem(steps_script("- count: 3\n  interval: 6s\n")) == (
        "s.yaml:4:15: interval is 6 s; use a value between 0.5 s and 5 s"
    )
    assert one_problem(steps_script("- count: 3\n  interval: 100ms\n")) == (
        "s.yaml:4:15: interval is 0.1 s; use a value between 0.5 s and 5 s"
    )


def test_breathe_errors():
    assert problems(steps_script("- breathe: {inhale: 0, hold: 1, cycles: 201}\n")) == [
        "s.yaml:3:14: breathe needs exhale; write e.g. {inhale: 4s, exhale: 6s, cycles: 5}",
        "s.yaml:3:23: inhale must be longer than 0 seconds; write e.g. 4s",
        "s.yaml:3:43: cycles is 201; use a whole number from 1 to 200",
    ]
    # keys written at the level of the step instead of under breathe:
    assert problems(steps_script("- breathe:\n  inhale: 4\n")) == [
        "s.yaml:3:13: breathe: expected a mapping such as {inhale: 4s, exhale: 6s, cycles: 5}, got nothing",
        's.yaml:4:5: unknown key "inhale" in a breathe step; indent inhale under breathe: (two more'
        " spaces than breathe)",
    ]


def test_walk_errors():
    assert problems(steps_script("- walk: {cadence: 200, speed: 3}\n")) == [
        "s.yaml:3:11: walk needs a duration; write e.g. {duration: 2m, cadence: 40}",
        "s.yaml:3:21: cadence (steps per minute) is 200; use a number from 10 to 180",
        's.yaml:3:26: unknown key "speed" in walk; walk takes: duration, cadence',
    ]


def test_stretch_must_be_non_negative_number():
    assert one_problem(steps_script("- pause: 1\n  stretch: -1\n")) == (
        "s.yaml:4:14: stretch is -1; use a number 0 or more"
    )
    assert one_problem(steps_script("- pause: 1\n  stretch: lots\n")) == (
        "s.yaml:4:14: stretch: expected a number, 0 or more, got the text 'lots'"
    )


def test_language_and_summary():
    assert one_problem("title: T\nlanguage: english language\nsteps: [hi]\n") == (
        "s.yaml:2:11: language: 'english language' is not a language code; write e.g. en, de or en-GB"
    )
    assert one_problem('title: T\nsummary: "one\\ntwo"\nsteps: [hi]\n') == (
        "s.yaml:2:10: summary must be one line; shorten it or remove the line breaks"
    )


# --- YAML syntax ------------------------------------------------------------------


def test_yaml_syntax_error_colon_in_text():
    assert one_problem(steps_script("- say: Note: this is text\n")) == (
        "s.yaml:3:14: YAML syntax error: mapping values are not allowed in this context;"
        " text containing ': ' must be put in quotes; otherwise check the indentation of this line"
    )


def test_yaml_syntax_error_tab():
    assert one_problem("title: T\nsteps:\n\t- hi\n") == (
        "s.yaml:3:1: YAML syntax error: found character that cannot start any token while"
        " scanning for the next token at line 3, column 1; indent with spaces, not tabs"
    )


def test_yaml_syntax_error_unclosed():
    assert one_problem("title: T\nsteps: [a, b\n") == (
        "s.yaml:3:1: YAML syntax error: did not find expected ',' or ']' while parsing a flow"
        " sequence at line 2, column 8; close the list with ']' or add the missing ','"
    )
    assert one_problem('title: "T\nsteps: [a]\n').endswith("; close the quote")


def test_yaml_bad_indentation():
    found = one_problem("title: T\nsteps:\n  - hi\n - ho\n")
    assert found.startswith("s.yaml:4:2: YAML syntax error:")
    assert "indentation" in found


def test_second_document():
    assert one_problem("title: T\nsteps: [hi]\n---\ntitle: U\n") == (
        "s.yaml:3:1: a second YAML document starts here; a script file holds one document,"
        " so remove the '---' line and what follows (or put it in its own file)"
    )


def test_undefined_and_recursive_alias():
    assert one_problem("title: *nope\nsteps: [hi]\n") == (
        "s.yaml:1:8: alias *nope has no anchor &nope before it; define &nope earlier or write the value out"
    )
    found = problems("title: T\nsteps: &s [*s]\n")
    assert "s.yaml:2:12: alias *s refers to the node that contains it; recursive aliases are not allowed" in found


# --- tags ---------------------------------------------------------------------------


def test_python_tags_are_rejected_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    text = (
        "title: T\n"
        "steps:\n"
        f"  - !!python/object/apply:os.system ['touch {marker}']\n"
        f"  - say: !!python/object/apply:os.system ['touch {marker}']\n"
        "  - !!python/name:os.system hi\n"
    )
    assert problems(text) == [
        "s.yaml:3:5: the tag !!python/object/apply:os.system is not allowed; scripts hold plain"
        " text, numbers, lists and mappings only, so remove the tag",
        "s.yaml:4:10: the tag !!python/object/apply:os.system is not allowed; scripts hold plain"
        " text, numbers, lists and mappings only, so remove the tag",
        "s.yaml:5:5: the tag !!python/name:os.system is not allowed; scripts hold plain text,"
        " numbers, lists and mappings only, so remove the tag",
    ]
    assert not marker.exists()


def test_custom_and_collection_tags_rejected_but_standard_ones_fine():
    assert one_problem(steps_script("- !foo bar\n")) == (
        "s.yaml:3:5: the tag !foo is not allowed; scripts hold plain text, numbers, lists and"
        " mappings only, so remove the tag"
    )
    assert one_problem("title: T\nsteps: !!set {a, b}\n").startswith("s.yaml:2:8: the tag !!set is not allowed")
    script = load_text("title: !!str 4\nsteps: !!seq [!!str hi, {pause: !!int 3}]\n", "x.yaml")
    assert script.title == "4" and script.steps[1].seconds == 3.0


def test_merge_keys_are_rejected():
    text = "title: T\nsteps:\n  - &b {say: hi}\n  - {<<: *b, pause: 2}\n"
    found = problems(text)
    assert ("s.yaml:4:6: the tag !!merge is not allowed; scripts hold plain text, numbers, lists and mappings only,"
            " so remove the tag") in found


# --- limits -------------------------------------------------------------------------


BILLION_LAUGHS = """\
title: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
steps: *i
"""


def test_billion_laughs_fails_fast_and_located():
    start = time.perf_counter()
    found = one_problem(BILLION_LAUGHS, filename="lol.yaml")
    assert time.perf_counter() - start < 0.5
    assert found.startswith("lol.yaml:6:8: alias *e expands to")
    assert "past the limit of 100000 nodes with aliases expanded" in found


def test_too_many_plain_nodes(monkeypatch):
    monkeypatch.setattr(compose, "MAX_NODES", 50)
    text = "title: T\nsteps: [" + ", ".join(["hi"] * 60) + "]\n"
    found = one_problem(text)
    assert found.startswith("s.yaml:2:")
    assert found.endswith("the file has more than 50 YAML nodes; split it into smaller scripts")


def test_nesting_too_deep():
    text = "title: T\nsteps: " + "[" * 40 + "]" * 40 + "\n"
    assert one_problem(text) == (
        "s.yaml:2:39: the script is nested more than 32 levels deep here;"
        " flatten it (fewer nested repeats or lists)"
    )
    # very deep flow nesting is stopped by the parser, still located
    found = one_problem("[" * 5000)
    assert found.startswith("s.yaml:1:")


def test_nesting_too_deep_through_an_alias():
    inner = "[" * 20 + "]" * 20
    text = f"a: &a {inner}\nb: {'[' * 15}*a{']' * 15}\n"
    assert one_problem(text).startswith("s.yaml:2:19: the script is nested more than 32 levels")


def test_too_many_steps_after_repeats_expanded():
    text = steps_script("""
        - say: hi
        - repeat: 1000
          steps:
            - repeat: 6
              steps: [a]
    """)
    assert one_problem(text) == (
        "s.yaml:4:5: the script passes 5000 steps here once repeats are expanded;"
        " lower the repeat counts or split the script"
    )


def test_session_too_long():
    text = steps_script("""
        - bell: bowl
        - repeat: 100
          steps:
            - pause: 2m
            - breathe: {inhale: 4, exhale: 6, cycles: 3}
    """)
    assert one_problem(text) == (
        "s.yaml:4:5: the session passes the limit of 4:00:00 here (it lasts at least 4:10:06);"
        " shorten pauses or lower repeat counts"
    )


def test_session_length_counts_speech_counts_bells_and_walks():
    # 400 words at 100 wpm = 4 minutes of speech; x 61 = 244 minutes > 240
    words = " ".join(["word"] * 400)
    text = f"title: T\nvoice: {{rate: 100}}\nsteps:\n  - repeat: 61\n    steps:\n      - say: {words}\n"
    assert one_problem(text) == (
        "s.yaml:4:5: the session passes the limit of 4:00:00 here (it lasts at least 4:04:00);"
        " shorten pauses or lower repeat counts"
    )
    load_text(text.replace("repeat: 61", "repeat: 59"), "x.yaml")
    # a step's own rate wins over the script's
    load_text(text.replace(words, words + "\n        rate: 110"), "x.yaml")
    walk = steps_script("- walk: {duration: 4h}\n- count: 20\n  interval: 5s\n")
    assert "the session passes the limit" in one_problem(walk)


def test_file_too_big(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"title: T\nsteps:\n" + b"  - say: hello there\n" * 60000)
    assert path.stat().st_size > model.MAX_FILE_BYTES
    start = time.perf_counter()
    with pytest.raises(ScriptError) as info:
        load(path)
    assert time.perf_counter() - start < 0.5
    assert info.value.lines() == (
        f"{path}:1:1: the file is {path.stat().st_size} bytes, more than the limit of"
        f" {model.MAX_FILE_BYTES} bytes; split it into smaller scripts",
    )
    assert len(problems(path.read_bytes())) == 1


def test_binary_file(tmp_path):
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"title: T\nst\x00eps: [hi]\n")
    assert [str(p) for p in check(path)] == [
        f"{path}:2:3: the file contains a NUL byte, so it looks binary (or UTF-16);"
        " a script must be a UTF-8 text file"
    ]
    utf16 = VALID.encode("utf-16")
    assert "NUL byte" in one_problem(utf16)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("title: T\nsteps:\n  - say: Café crème\n".encode("latin-1"))
    assert [str(p) for p in check(path)] == [
        f"{path}:3:13: the file is not valid UTF-8 (byte 0xe9 here); save it as UTF-8 text"
    ]
    # the column counts characters, not bytes, before the bad byte
    assert one_problem("title: ééé\xff".encode("utf-8")[:-2] + b"\xff\n").startswith("s.yaml:1:11:")


def test_control_character():
    assert one_problem("title: T\x07\nsteps: [hi]\n") == (
        "s.yaml:1:9: the file contains the character U+0007, which YAML does not allow;"
        " delete it (use \\t or \\n escapes inside double quotes if you meant one)"
    )


def test_unreadable_paths(tmp_path):
    missing = tmp_path / "nope.yaml"
    (found,) = check(missing)
    assert (found.file, found.line, found.col) == (str(missing), 1, 1)
    assert found.message.startswith("cannot read the script: No such file or directory")
    (found,) = check(tmp_path)
    assert found.message == "cannot read the script: it is a folder, not a script file; check the path"
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    (found,) = check(fifo)  # must not block
    assert found.message == "cannot read the script: it is a named pipe (FIFO), not a regular file; check the path"


def test_file_name_is_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("rel.yaml").write_text("title: T\nsteps: []\n")
    with pytest.raises(ScriptError) as info:
        load("rel.yaml")
    assert info.value.problems[0].file == "rel.yaml"
    assert str(info.value) == "rel.yaml:2:8: steps is empty; add at least one step such as '- say: Hello'"


# --- sound paths --------------------------------------------------------------------


def sound_script(path: str) -> str:
    return f"title: T\nambient:\n  - sound: {path}\nsteps: [hi]\n"


def test_sound_path_leaving_the_folder(tmp_path):
    write_wav(tmp_path / "x.wav")
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    name = str(scripts / "s.yaml")
    assert one_problem(sound_script("../x.wav"), filename=name) == (
        f"{name}:3:12: sound path ../x.wav leaves the script's folder; keep sound files next to"
        " the script or in a folder below it"
    )
    assert one_problem(sound_script("sub/../../x.wav"), filename=name).endswith(
        "leaves the script's folder; keep sound files next to the script or in a folder below it")


def test_sound_path_absolute(tmp_path):
    name = str(tmp_path / "s.yaml")
    assert one_problem(sound_script("/etc/passwd"), filename=name) == (
        f"{name}:3:12: sound path /etc/passwd is absolute; write a path relative to the script's"
        " folder, or the name of a built-in sound"
    )


def test_sound_symlink_out_of_the_folder(tmp_path):
    outside = tmp_path / "outside.wav"
    write_wav(outside)
    here = tmp_path / "here"
    here.mkdir()
    os.symlink(outside, here / "link.wav")
    name = str(here / "s.yaml")
    assert "leaves the script's folder" in one_problem(sound_script("link.wav"), filename=name)


def test_sound_missing(tmp_path):
    name = str(tmp_path / "s.yaml")
    assert one_problem(sound_script("thunderstorm.wav"), filename=name) == (
        f"{name}:3:12: sound file not found: thunderstorm.wav; looked in the script's folder and the built-in sounds"
    )
    # a near miss of a built-in sound is named
    assert 'sound file not found: rain.wav (did you mean "rain.ogg"?)' in one_problem(
        sound_script("rain.wav"), filename=name)


def test_a_sound_file_that_is_not_audio_is_found_by_validate(tmp_path):
    name = str(tmp_path / "s.yaml")
    (tmp_path / "notes.wav").write_text("my private notes, not a sound\n", encoding="utf-8")
    (tmp_path / "empty.ogg").write_bytes(b"")
    (tmp_path / "cut.wav").write_bytes(write_wav(tmp_path / "whole.wav").read_bytes()[:14])
    assert one_problem(sound_script("notes.wav"), filename=name) == (
        f"{name}:3:12: sound notes.wav cannot be played: it is not a sound file in a format voiceguide"
        " reads (WAV, FLAC, Ogg (Vorbis or Opus) or AIFF); use a WAV, FLAC or Ogg file")
    assert one_problem(sound_script("empty.ogg"), filename=name).endswith(
        "sound empty.ogg cannot be played: the file is empty; use a WAV, FLAC or Ogg file")
    assert one_problem(sound_script("cut.wav"), filename=name).endswith(
        "sound cut.wav cannot be played: its WAV header is damaged (no format chunk); use a WAV, FLAC or Ogg file")
    assert load_text(sound_script("whole.wav"), name).ambient[0].path == (tmp_path / "whole.wav").resolve()


def test_every_format_the_mixer_reads_passes_the_header_check(tmp_path):
    import numpy as np
    import soundfile

    from voiceguide.script.soundfiles import check_sound_file

    frames = np.zeros((2000, 2), dtype=np.float32)
    for ext, fmt, subtype, name in [("wav", "WAV", "PCM_16", "WAV"), ("f.wav", "WAV", "FLOAT", "WAV"),
                                    ("flac", "FLAC", "PCM_24", "FLAC"), ("ogg", "OGG", "VORBIS", "Ogg"),
                                    ("opus", "OGG", "OPUS", "Ogg"), ("aiff", "AIFF", "PCM_16", "AIFF")]:
        path = tmp_path / f"x.{ext}"
        soundfile.write(str(path), frames, 48000, format=fmt, subtype=subtype)
        assert check_sound_file(path) == name
        assert soundfile.info(str(path)).channels == 2  # and the mixer's reader agrees
    for builtin in path_policy.builtin_sounds_dir().glob("*.ogg"):
        assert check_sound_file(builtin) == "Ogg"


def test_sound_in_a_subfolder_and_builtin_fallback(tmp_path, monkeypatch):
    (tmp_path / "snd").mkdir()
    write_wav(tmp_path / "snd" / "rain.wav")
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    write_wav(builtin / "bowl.wav")
    monkeypatch.setattr(path_policy, "builtin_sounds_dir", lambda: builtin)
    here = tmp_path / "scripts"
    here.mkdir()
    text = "title: T\nambient:\n  - sound: bowl.wav\n  - sound: ../builtin/bowl.wav\nsteps: [hi]\n"
    script = load_text(text, str(here / "s.yaml"))
    assert [layer.path for layer in script.ambient] == [(builtin / "bowl.wav").resolve()] * 2
    script = load_text("title: T\nambient: [{sound: snd/rain.wav}]\nsteps: [hi]\n", "s.yaml", base_dir=tmp_path)
    assert script.ambient[0].path == (tmp_path / "snd" / "rain.wav").resolve()
    absolute = f"title: T\nambient: [{{sound: {builtin / 'bowl.wav'}}}]\nsteps: [hi]\n"
    assert load_text(absolute, str(here / "s.yaml")).ambient[0].path == (builtin / "bowl.wav").resolve()
    assert 'did you mean "bowl.wav"' in one_problem(sound_script("bwol.wav"), filename=str(here / "s.yaml"))


def test_builtin_sounds_dir_is_the_package_folder():
    import importlib.resources

    assert path_policy.builtin_sounds_dir() == Path(str(importlib.resources.files("voiceguide.sounds")))


# --- every problem is collected ----------------------------------------------------------


def test_three_errors_give_three_lines(tmp_path):
    path = tmp_path / "three.yaml"
    path.write_text(dedent("""
        title: Three
        steps:
          - bell: bol
          - pause: soon
          - count: 50
    """))
    with pytest.raises(ScriptError) as info:
        load(path)
    assert len(info.value.lines()) == 3
    assert [(p.line, p.col) for p in info.value.problems] == [(3, 11), (4, 12), (5, 12)]
    assert str(info.value).count("\n") == 2


def test_errors_everywhere_are_all_collected():
    text = dedent("""
        title: [x]
        voice: {rate: 500, volume: 2, nmae: x}
        ambient:
          - drone: Z9
          - noise: pnk
        duck: -4
        steps:
          - bell: bol
          - sya: hello
          - repeat: 2
            steps:
              - pause: 4x
              - walk: {cadence: 500}
          - breathe: {inhale: 0, exhale: 6s}
    """)
    found = problems(text)
    assert [line.split(":")[1] for line in found] == [
        "1", "2", "2", "2", "4", "5", "6", "8", "9", "12", "13", "13", "14", "14"
    ]


def test_too_many_problems_are_capped():
    text = "title: T\nsteps:\n" + "  - bell: bol\n" * 150
    found = problems(text)
    assert len(found) == problems_module.MAX_PROBLEMS + 1
    assert found[-1].endswith("50 more problems not shown; fix the ones above first")


def test_an_alias_used_twice_reports_its_problem_once():
    text = "title: T\nsteps:\n  - &b {bell: bol}\n  - *b\n  - *b\n"
    assert problems(text) == ['s.yaml:3:15: unknown bell "bol" (did you mean "bowl"?); use one of bowl, chime, gong']


# --- the loader's own shape ---------------------------------------------------------


def test_every_step_kind_in_the_grammar_is_a_registered_kind_with_its_own_row():
    from voiceguide import kinds
    from voiceguide.script import grammar

    assert list(grammar.STEP_NAMES) == [kind.name for kind in kinds.kinds()] + ["include"]
    assert all(grammar.STEPS[kind.name] is kind.grammar for kind in kinds.kinds())


def test_every_kind_of_value_in_the_grammar_has_a_reader():
    import dataclasses

    from voiceguide.script import grammar
    from voiceguide.script.build import ScriptBuilder

    kinds = {cls for cls in vars(grammar).values()
             if isinstance(cls, type) and dataclasses.is_dataclass(cls) and issubclass(cls, grammar.ValueSpec)
             and cls is not grammar.ValueSpec}
    assert kinds and kinds <= set(ScriptBuilder.readers)


def test_no_module_of_the_script_package_passes_500_lines():
    folder = Path(model.__file__).parent
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in folder.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 500} == {}


# --- foreign bytes (issue 14): nothing a script holds acts on a terminal -------------------


def test_control_characters_and_escape_sequences_are_left_out_with_a_warning(tmp_path):
    path = tmp_path / "odd.yaml"
    path.write_text(
        'title: "Calm \\e]0;owned\\a minute"\n'
        "summary: \u202eesrever\u202c text\n"
        "steps:\n"
        '  - section: "Start\\e[2J\\e[H"\n'
        '  - say: "Breathe \\e[31min\\e[0m slowly.\\0"\n'
        "  - say: Plain words stay as they are.\n",
        encoding="utf-8")
    script = load(path)
    assert script.title == "Calm  minute"
    assert script.summary == "esrever text"
    assert [getattr(s, "name", getattr(s, "text", None)) for s in script.steps] == [
        "Start", "Breathe in slowly.", "Plain words stay as they are."]
    warnings = [str(w) for w in script.warnings]
    assert warnings == [
        f"{path}:1:8: title contains ESC, BEL (control characters or escape sequences that a terminal would"
        " act on); they are left out: delete them from the script",
        f"{path}:2:10: summary contains U+202E, U+202C (control characters or escape sequences that a terminal"
        " would act on); they are left out: delete them from the script",
        f"{path}:4:14: section name contains ESC (control characters or escape sequences that a terminal would"
        " act on); they are left out: delete them from the script",
        f"{path}:5:10: say text contains ESC, NUL (control characters or escape sequences that a terminal would"
        " act on); they are left out: delete them from the script",
    ]
    clean = load_text("title: T\nsteps: [hi]\n", "t.yaml")
    assert clean.warnings == ()


def test_validate_prints_the_warning_and_exits_0(tmp_path):
    from click.testing import CliRunner

    from voiceguide.cli import cli

    path = tmp_path / "bell.yaml"
    path.write_text('title: T\nsteps:\n  - say: "ding\\a"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0
    assert result.stderr == (f"{path}:3:10: warning: say text contains BEL (control characters or escape"
                             " sequences that a terminal would act on); they are left out:"
                             " delete them from the script\n")
    assert "\a" not in result.output and result.stdout == "1 file ok\n"


def test_messages_show_control_characters_escaped_never_raw():
    found = problems('title: T\n"\\e[2Jx": 1\nsteps:\n  - bell: "\\e[5mbowl!"\n', filename="e\x1b[1m.yaml")
    assert found == [
        'e\\x1b[1m.yaml:2:1: unknown key "\\x1b[2Jx" in the script; the script takes: title, summary, language,'
        " voice, ambient, duck, steps, part",
        'e\\x1b[1m.yaml:4:11: unknown bell "bowl!" (did you mean "bowl"?); use one of bowl, chime, gong',
    ]
    assert not any("\x1b" in line for line in found)


def test_a_file_that_is_not_a_script_is_not_quoted(tmp_path):
    secrets = {
        "key": ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n"
                "-----END OPENSSH PRIVATE KEY-----\n"),
        "passwd": "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
        "json": '{"token": "s3cr3t-t0ken-value", "user": "bob"}\n',
        "number": "31415926\n",
        "list": "- hunter2\n- swordfish\n",
    }
    for name, text in secrets.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        found = [str(p) for p in check(path)]
        assert len(found) == 1, found
        for word in ("OPENSSH", "b3Blbn", "root:x", "s3cr3t", "bob", "31415926", "hunter2", "token"):
            assert word not in found[0], (name, found[0])
    assert [str(p) for p in check(tmp_path / "passwd")] == [
        f"{tmp_path / 'passwd'}:1:1: the script: expected a mapping such as title: ... and steps: ..., got text"]
    assert [str(p) for p in check(tmp_path / "json")] == [
        f"{tmp_path / 'json'}:1:1: this is not a voiceguide script: it has none of the keys title, summary,"
        " language, voice, ambient, duck, steps, part; check the path, or start a script with `voiceguide new`"]


# --- parts ------------------------------------------------------------------------------


def test_a_part_is_marked_and_part_takes_true_or_false():
    assert load_text("title: Opening\npart: true\nsteps: [hi]\n", "o.yaml").part is True
    assert load_text("title: Opening\npart: false\nsteps: [hi]\n", "o.yaml").part is False
    assert load_text("title: Whole\nsteps: [hi]\n", "w.yaml").part is False
    assert one_problem("title: T\npart: maybe\nsteps: [hi]\n") == (
        "s.yaml:2:7: part: expected true or false, got the text 'maybe'")
