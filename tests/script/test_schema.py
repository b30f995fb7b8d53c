"""`voiceguide schema`: a valid draft 2020-12 schema that agrees with the loader.

The schema is generated from voiceguide.script.grammar, the table the loader builds
values with; these tests check the result against the real loader on a corpus
of valid and invalid scripts. Where the loader checks what a JSON Schema
cannot express, the case is listed by name in LOADER_ONLY (or SCHEMA_ONLY),
and the test proves that each listed case really is one where they differ --
so the lists cannot rot.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from voiceguide.script import grammar, loader, model, units
from voiceguide.cli import cli
from voiceguide.errors import ScriptError
from voiceguide.script.schema import dumps, schema

from tests.support.scripts import DESIGN_EXAMPLE
from tests.support.sounds import write_wav

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "scripts" / "voiceguide.schema.json"
BUILTINS = sorted((ROOT / "scripts").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft202012Validator(schema())


def schema_ok(validator, text: str) -> bool:
    return validator.is_valid(yaml.safe_load(text))


def loader_ok(text: str, folder: Path) -> bool:
    try:
        loader.load_text(text, str(folder / "case.yaml"), folder)
    except ScriptError:
        return False
    return True


def s(steps: str, head: str = "title: T\n") -> str:
    """A script: *head* then the (dedented) *steps* list."""
    return head + "steps:\n" + textwrap.indent(textwrap.dedent(steps).strip("\n") + "\n", "  ")


# --- the schema itself -------------------------------------------------------------


def test_schema_passes_the_draft_2020_12_meta_schema():
    jsonschema.Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_command_prints_it_and_the_shipped_file_is_equal():
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == schema()
    assert SCHEMA_FILE.read_text(encoding="utf-8") == result.output == dumps(), (
        "scripts/voiceguide.schema.json is stale: run `voiceguide schema > scripts/voiceguide.schema.json`")
    from voiceguide.script.scaffold import shipped_schema

    assert shipped_schema().read_text(encoding="utf-8") == dumps()  # where the package finds it


def test_schema_names_every_key_and_kind_of_the_grammar():
    sch = schema()
    assert list(sch["properties"]) == list(grammar.TOP_KEYS)
    assert sch["required"] == ["title", "steps"]
    kinds = [next(iter(alt["properties"])) for alt in sch["$defs"]["step"]["anyOf"][1:]]
    assert kinds == list(grammar.STEP_NAMES)
    for alt, kind in zip(sch["$defs"]["step"]["anyOf"][1:], grammar.STEPS.values()):
        assert list(alt["properties"])[1:] == list(kind.option_names())
    layers = [next(iter(alt["properties"])) for alt in sch["$defs"]["layer"]["anyOf"]]
    assert layers == list(grammar.LAYER_KINDS)


@pytest.mark.parametrize("path", BUILTINS, ids=lambda p: p.stem)
def test_every_builtin_validates_against_the_schema(validator, path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=voiceguide.schema.json\n")
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(text))]
    assert errors == []


# --- the corpus: schema and loader agree ----------------------------------------------

VALID = {
    "design_example": DESIGN_EXAMPLE,
    "voice_all_keys": "title: T\nvoice: {rate: 140, volume: 0.9, name: en}\nsteps: [hi]\n",
    "minimal": "title: T\nsteps: [hi]\n",
    "a_part": "title: Opening\npart: true\nsteps: [hi]\n",
    "record": s("- record: {prompt: Name one small thing you felt today, seconds: 20}\n"
                "- record:\n    prompt: Is there one small thing you felt today?\n    seconds: 1m"),
    "music": s("- music: 5m\n- {music: 90s, fade: 2s}"),
    "say_options": s("- {say: hi, pause: 1.5s, stretch: 0, rate: 120, volume: 0.5, voice: en-us}"),
    "say_a_number_as_written": s("- say: 42\n- say: 3.5"),
    "bare_yes_is_said": s("- yes"),
    "durations": s("- pause: 4\n- pause: 0.5\n- pause: 500ms\n- pause: 1m30s\n- pause: '1m 30s'\n"
                   "- pause: 1h\n- pause: 2min\n- pause: 3 sec\n- pause: 1m30\n- pause: '7'\n- pause: 0"),
    "levels": s("- {bell: gong, level: -6}\n- {bell: chime, level: -6.5 dB}\n- {bell: bowl, level: 0dB}\n"
                "- {bell: bowl, level: '+0'}"),
    "duck_forms_number": "title: T\nduck: 0\nsteps: [hi]\n",
    "duck_forms_text": "title: T\nduck: 60 dB\nsteps: [hi]\n",
    "drones": "title: T\nambient:\n  - drone: 110\n  - drone: C#3\n  - drone: '220 Hz'\n"
              "  - noise: white\n    level: -40\n  - noise: pink\nsteps: [hi]\n",
    "empty_ambient": "title: T\nambient: []\nsteps: [hi]\n",
    "count_options": s("- {count: 20, interval: 2s, pause: 3s, stretch: 1}"),
    "breathe_all_keys": s("- breathe: {inhale: 4, hold: 0, exhale: 6s, hold_out: 1s, cycles: 200}"),
    "walk_default_cadence": s("- walk: {duration: 30s}"),
    "nested_repeat": s("- repeat: 2\n  steps:\n    - repeat: 2\n      steps: [hi]"),
    "language_region": "title: T\nlanguage: en-GB\nsteps: [hi]\n",
    "title_as_number": "title: 2024\nsteps: [hi]\n",
    "text_with_spaces_around": s("- say: '  padded  '"),
    "long_text_at_the_limit": s(f"- say: {'a' * grammar.MAX_TEXT_CHARS}"),
    "include_an_id": s("- include: part"),
    "include_a_path": s("- include: part.yaml"),
    "sound_next_to_the_script": "title: T\nambient:\n  - sound: bed.wav\n    level: -30 dB\nsteps: [hi]\n",
}

INVALID = {
    "part_not_true_or_false": "title: T\npart: maybe\nsteps: [hi]\n",
    "empty_mapping": "{}\n",
    "not_a_mapping": "- hi\n",
    "unknown_top_key": "title: T\nsumary: x\nsteps: [hi]\n",
    "missing_title": "steps: [hi]\n",
    "missing_steps": "title: T\n",
    "empty_steps": "title: T\nsteps: []\n",
    "title_is_a_list": "title: [a, b]\nsteps: [hi]\n",
    "title_two_lines": 'title: "a\\nb"\nsteps: [hi]\n',
    "title_blank": "title: '  '\nsteps: [hi]\n",
    "title_too_long": f"title: {'t' * 201}\nsteps: [hi]\n",
    "say_too_long": s(f"- say: {'a' * (grammar.MAX_TEXT_CHARS + 1)}"),
    "unknown_step_kind": s("- sya: hello"),
    "two_kinds": s("- {say: hi, bell: bowl}"),
    "pause_and_bell": s("- {pause: 2, bell: bowl}"),
    "no_kind": s("- stretch: 2"),
    "misspelt_option": s("- {say: hi, paus: 2}"),
    "option_of_another_kind": s("- {bell: bowl, pause: 2}"),
    "null_step": s("- ~"),
    "list_step": s("- [a, b]"),
    "bare_number_step": s("- 4"),
    "say_nothing": s("- say:"),
    "unknown_bell": s("- bell: gnog"),
    "unknown_noise": "title: T\nambient:\n  - noise: pnik\nsteps: [hi]\n",
    "level_above_zero": s("- {bell: bowl, level: 3}"),
    "level_text_above_zero": s("- {bell: bowl, level: '+3 dB'}"),
    "level_not_a_level": s("- {bell: bowl, level: loud}"),
    "negative_duration": s("- pause: -1"),
    "duration_units_backwards": s("- pause: 30s1m"),
    "duration_unit_twice": s("- pause: 1s 2s"),
    "duration_bare_number_first": s("- pause: 30 1m"),
    "duration_nonsense": s("- pause: soon"),
    "duration_boolean": s("- pause: yes"),
    "inhale_zero": s("- breathe: {inhale: 0, exhale: 6, cycles: 5}"),
    "inhale_zero_text": s("- breathe: {inhale: 0.0s, exhale: 6, cycles: 5}"),
    "breathe_missing_exhale": s("- breathe: {inhale: 4, cycles: 5}"),
    "breathe_unknown_key": s("- breathe: {inhale: 4, exhale: 6, cycles: 5, hodl: 1}"),
    "breathe_keys_beside_it": s("- breathe:\n  inhale: 4"),
    "cycles_too_many": s("- breathe: {inhale: 4, exhale: 6, cycles: 201}"),
    "walk_without_duration": s("- walk: {cadence: 40}"),
    "walk_cadence_too_fast": s("- walk: {duration: 1m, cadence: 200}"),
    "count_too_high": s("- count: 21"),
    "count_not_whole": s("- count: two"),
    "interval_number_too_long": s("- {count: 3, interval: 6}"),
    "repeat_without_steps": s("- repeat: 3"),
    "repeat_zero": s("- repeat: 0\n  steps: [hi]"),
    "repeat_empty_steps": s("- repeat: 2\n  steps: []"),
    "section_empty": s("- section: ''"),
    "stretch_negative": s("- {pause: 1, stretch: -1}"),
    "rate_too_fast": "title: T\nvoice: {rate: 400}\nsteps: [hi]\n",
    "rate_not_whole": s("- {say: hi, rate: fast}"),
    "volume_too_loud": "title: T\nvoice: {volume: 2}\nsteps: [hi]\n",
    "voice_unknown_key": "title: T\nvoice: {speed: 2}\nsteps: [hi]\n",
    "voice_not_a_mapping": "title: T\nvoice: fast\nsteps: [hi]\n",
    "layer_two_kinds": "title: T\nambient:\n  - {drone: A2, noise: pink}\nsteps: [hi]\n",
    "layer_no_kind": "title: T\nambient:\n  - {level: -30}\nsteps: [hi]\n",
    "layer_unknown_key": "title: T\nambient:\n  - {drone: A2, volume: 1}\nsteps: [hi]\n",
    "drone_number_too_low": "title: T\nambient:\n  - drone: 5\nsteps: [hi]\n",
    "drone_nonsense": "title: T\nambient:\n  - drone: H2\nsteps: [hi]\n",
    "ambient_not_a_list": "title: T\nambient: {drone: A2}\nsteps: [hi]\n",
    "duck_too_deep": "title: T\nduck: 70\nsteps: [hi]\n",
    "duck_text_too_deep": "title: T\nduck: 70 dB\nsteps: [hi]\n",
    "duck_negative": "title: T\nduck: -3\nsteps: [hi]\n",
    "language_not_a_code": "title: T\nlanguage: english\nsteps: [hi]\n",
    "include_nothing": s("- include:"),
    "include_with_an_option": s("- {include: part, pause: 2}"),
}

#: Cases the loader refuses and the schema cannot: each is a check a JSON
#: Schema cannot express (files on disk, whole-session limits, YAML features
#: that a JSON view of the document no longer shows).
LOADER_ONLY = {
    "sound_file_missing": "title: T\nambient:\n  - sound: nothere.wav\nsteps: [hi]\n",
    "sound_path_leaves_the_folder": "title: T\nambient:\n  - sound: ../outside.wav\nsteps: [hi]\n",
    "sound_path_absolute": "title: T\nambient:\n  - sound: /etc/passwd\nsteps: [hi]\n",
    "include_missing": s("- include: no-such-script"),
    "include_cycle": s("- include: case"),
    "include_leaves_the_folder": s("- include: ../part.yaml"),
    "session_too_long": s("- pause: 5h"),
    "too_many_steps_after_repeats": s("- repeat: 1000\n  steps: [a, b, c, d, e, f]"),
    "alias_expansion": s("- repeat: 2\n  steps: &a [x, x, x, x, x, x, x, x, x, x]\n"
                         + "".join("- repeat: 2\n  steps: *a\n" for _ in range(model.MAX_NODES // 10 + 1))),
    "nesting_too_deep": s("- repeat: 1\n  steps:\n" + "".join(
        "  " * (2 * i + 2) + "- repeat: 1\n" + "  " * (2 * i + 2) + "  steps:\n" for i in range(20))
        + "  " * 44 + "- hi"),
    "duplicate_key": "title: a\ntitle: b\nsteps: [hi]\n",
    "merge_key": "title: T\nvoice: {rate: 120, <<: {volume: 0.5}}\nsteps: [hi]\n",
    "interval_text_out_of_range": s("- {count: 3, interval: 100ms}"),
    "drone_note_below_20_hz": "title: T\nambient:\n  - drone: C0\nsteps: [hi]\n",
    "drone_text_above_2000_hz": "title: T\nambient:\n  - drone: 5000 Hz\nsteps: [hi]\n",
    "whole_number_written_with_a_point": s("- breathe: {inhale: 4, exhale: 6, cycles: 5.0}"),
}

#: Cases the schema refuses and the loader accepts.
SCHEMA_ONLY = {
    # YAML 1.1 (PyYAML, used here to make JSON) reads `no` as false; the loader
    # keeps it as written, and editors (YAML 1.2) read it as text too.
    "language_no_read_as_a_boolean": "title: T\nlanguage: no\nsteps: [hi]\n",
}


@pytest.fixture()
def folder(tmp_path):
    (tmp_path / "part.yaml").write_text("title: Part\nsteps: [hi]\n", encoding="utf-8")
    (tmp_path / "case.yaml").write_text(s("- include: case"), encoding="utf-8")
    write_wav(tmp_path / "bed.wav")  # the loader checks that it is there and is a sound file
    return tmp_path


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_corpus_both_accept(validator, folder, name):
    text = VALID[name]
    assert loader_ok(text, folder), name
    assert schema_ok(validator, text), [e.message for e in validator.iter_errors(yaml.safe_load(text))]


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_corpus_both_refuse(validator, folder, name):
    text = INVALID[name]
    assert not loader_ok(text, folder), f"the loader accepts {name}"
    assert not schema_ok(validator, text), f"the schema accepts {name}"


@pytest.mark.parametrize("name", sorted(LOADER_ONLY))
def test_what_only_the_loader_checks(validator, folder, name):
    text = LOADER_ONLY[name]
    assert not loader_ok(text, folder), f"{name}: the loader accepts it; remove it from LOADER_ONLY"
    assert schema_ok(validator, text), f"{name}: the schema refuses it now; move it to INVALID"


@pytest.mark.parametrize("name", sorted(SCHEMA_ONLY))
def test_what_only_the_schema_refuses(validator, folder, name):
    text = SCHEMA_ONLY[name]
    assert loader_ok(text, folder)
    assert not schema_ok(validator, text)


def test_corpus_covers_every_step_kind_and_key():
    corpus = "\n".join(VALID.values())
    for names in grammar.every_key().values():
        for name in names:
            assert name in corpus, f"no valid corpus case uses {name!r}"


# --- the written forms: one pattern for parser and schema -------------------------------

FORM_ALPHABET = st.sampled_from(list("0123456789 .-+msMShinecdBbHzA#") + ["ms", "min", "sec", " dB", "h"])
forms = st.lists(FORM_ALPHABET, min_size=0, max_size=8).map("".join)


def _parses(parse, text) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def _matches(pattern: str, text: str) -> bool:
    return jsonschema.Draft202012Validator({"type": "string", "pattern": pattern}).is_valid(text)


@settings(max_examples=400, deadline=None)
@given(forms)
def test_duration_pattern_is_the_parser(text):
    assert _matches(units.DURATION_PATTERN, text) == _parses(units.parse_duration, text), text
    positive = _parses(units.parse_duration, text) and units.parse_duration(text) > 0
    assert _matches(units.POSITIVE_DURATION_PATTERN, text) == positive, text


@settings(max_examples=400, deadline=None)
@given(forms)
def test_level_and_gain_patterns_are_the_parsers(text):
    assert _matches(units.LEVEL_PATTERN, text) == _parses(units.parse_level, text), text
    assert _matches(units.GAIN_PATTERN, text) == _parses(units.parse_gain, text), text


@pytest.mark.parametrize("text", ["1m30s", "1h 5m", "500ms", "4", "1.5s", ".5s", "2MIN", "1m30", " 4s "])
def test_duration_examples_match(text):
    assert _matches(units.DURATION_PATTERN, text)
    assert _parses(units.parse_duration, text)
