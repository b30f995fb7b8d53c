"""Lint advice for breathing patterns that are uncomfortable or unsafe to follow."""

from __future__ import annotations

import pytest

from voiceguide.script.lint import lint
from voiceguide.script.loader import load_text

TEMPLATE = """\
title: Breath
steps:
  - say: You may stop at any time and breathe as you like.
  - breathe: PATTERN
"""


def advice_for(pattern: str):
    script = load_text(TEMPLATE.replace("PATTERN", pattern), "breath.yaml")
    return [a for a in lint(script) if a.source.line == 4]


def test_a_calm_pattern_gets_no_advice():
    assert advice_for("{inhale: 4s, hold: 1s, exhale: 6s, cycles: 10}") == []
    assert advice_for("{inhale: 4s, hold: 7s, exhale: 8s, cycles: 8}") == []  # 4-7-8


@pytest.mark.parametrize("pattern, words", [
    ("{inhale: 20s, exhale: 1s, cycles: 3}", ["inhale of 20 s", "gasping"]),
    ("{inhale: 4s, exhale: 20s, cycles: 3}", ["exhale of 20 s"]),
    ("{inhale: 4s, hold: 30s, exhale: 6s, cycles: 3}", ["hold of 30 s", "light-headed"]),
    ("{inhale: 4s, exhale: 4s, hold_out: 15s, cycles: 3}", ["hold_out of 15 s"]),
    ("{inhale: 1s, exhale: 1s, cycles: 20}", ["30 breaths a minute"]),
    ("{inhale: 4s, exhale: 6s, cycles: 150}", ["150 cycles are 25 minutes"]),
])
def test_uncomfortable_patterns_get_advice_that_says_why(pattern, words):
    messages = " | ".join(a.message for a in advice_for(pattern))
    for word in words:
        assert word in messages, messages
    assert all(str(a).startswith("breath.yaml:4:") for a in advice_for(pattern))
