"""Property tests: whatever the input, the loader returns a Script or raises a
ScriptError whose problems are all located (line >= 1, col >= 1). Any other
exception is a bug."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voiceguide.errors import ScriptError
from voiceguide.script.loader import load_text
from voiceguide.script.model import Script

from tests.support.sounds import write_wav

VALID = """\
title: Palm-pressure grounding
summary: Press, hold and release.
language: en
voice:
  rate: 140
  volume: 0.9
  name: en
ambient:
  - drone: A2
    level: -28 dB
  - noise: brown
    level: -34 dB
  - sound: rain.wav
duck: 8 dB
steps:
  - bell: bowl
    level: -10 dB
  - section: Settling
  - say: "Find a comfortable position, sitting or standing."
    pause: 4s
    stretch: 2
    rate: 120
  - Let your hands rest in your lap.
  - &p {pause: 10s, stretch: 2}
  - *p
  - repeat: 3
    steps:
      - say: Press your palms together firmly.
      - count: 5
        interval: 1.5s
      - say: 'And release.'
        pause: 1m30s
  - breathe: {inhale: 4s, hold: 1s, exhale: 6s, hold_out: 500ms, cycles: 5}
  - walk: {duration: 2m, cadence: 40}
  - bell: gong
"""

#: Characters that matter to YAML and to our own parsing of values.
YAML_CHARS = st.sampled_from(
    list(":-[]{},&*!|>'\"#%@`?\n\t \r\\0123456789.smhdB")
    + ["\x00", "\xff", "é", "\u2028", "\x85", "---", "!!python/object:os.system "]
)


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    write_wav(folder / "rain.wav")
    return folder


def check(text, base_dir: Path) -> None:
    try:
        result = load_text(text, "fuzz.yaml", base_dir)
    except ScriptError as exc:
        assert exc.problems, "a ScriptError must hold at least one problem"
        for problem in exc.problems:
            assert problem.file == "fuzz.yaml"
            assert problem.line >= 1 and problem.col >= 1, problem
            assert problem.message
        return
    assert isinstance(result, Script)


def test_the_seed_script_is_valid(base_dir):
    script = load_text(VALID, "fuzz.yaml", base_dir)
    assert len(script.steps) == 10


def mutate(data: st.DataObject, text: str) -> str:
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        lines = text.split("\n")
        op = data.draw(
            st.sampled_from(["insert", "delete", "replace", "dup_line", "del_line", "swap_lines", "indent"]),
            label="op",
        )
        if op in ("insert", "delete", "replace"):
            pos = data.draw(st.integers(0, max(0, len(text))), label="pos")
            chunk = data.draw(st.one_of(YAML_CHARS, st.text(max_size=3)), label="chunk")
            if op == "insert":
                text = text[:pos] + chunk + text[pos:]
            elif op == "delete":
                size = data.draw(st.integers(1, 8), label="size")
                text = text[:pos] + text[pos + size:]
            else:
                text = text[:pos] + chunk + text[pos + len(chunk):]
            continue
        i = data.draw(st.integers(0, len(lines) - 1), label="line")
        if op == "dup_line":
            lines.insert(i, lines[i])
        elif op == "del_line":
            del lines[i]
        elif op == "swap_lines":
            j = data.draw(st.integers(0, len(lines) - 1), label="other")
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines[i] = data.draw(st.sampled_from(["", " ", "  ", "\t", "- "]), label="prefix") + lines[i]
        text = "\n".join(lines)
    return text


FUZZ = settings(max_examples=int(os.environ.get("VOICEGUIDE_FUZZ_EXAMPLES", "300")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.data())
def test_mutated_valid_script(base_dir, data):
    check(mutate(data, VALID), base_dir)


@FUZZ
@given(data=st.data())
def test_mutated_valid_script_as_bytes(base_dir, data):
    text = mutate(data, VALID)
    raw = text.encode("utf-8", "surrogatepass")
    if data.draw(st.booleans(), label="corrupt"):
        pos = data.draw(st.integers(0, len(raw)), label="pos")
        raw = raw[:pos] + data.draw(st.binary(min_size=1, max_size=3), label="bytes") + raw[pos:]
    check(raw, base_dir)


@FUZZ
@given(text=st.lists(st.one_of(YAML_CHARS, st.characters()), max_size=120).map("".join))
def test_random_text(base_dir, text):
    check(text, base_dir)


@FUZZ
@given(raw=st.binary(max_size=200))
def test_random_bytes(base_dir, raw):
    check(raw, base_dir)
