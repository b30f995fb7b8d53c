"""Script texts shared by several test modules."""

from __future__ import annotations

#: The example of docs (DESIGN.md): every step kind of the first version, in the
#: written forms a person uses. tests/script/test_loader.py checks every value
#: it loads to (and its line numbers: edit it only together with that test).
DESIGN_EXAMPLE = """\
title: Palm-pressure grounding
summary: Press, hold and release.
language: en
voice:
  rate: 140
  volume: 0.9
ambient:
  - drone: A2
    level: -28 dB
  - noise: brown
    level: -34 dB
duck: 8 dB
steps:
  - bell: bowl
  - section: Settling
  - say: Find a comfortable position, sitting or standing.
    pause: 4s
  - Let your hands rest in your lap.
  - pause: 10s
    stretch: 2
  - repeat: 3
    steps:
      - say: Press your palms together firmly.
      - count: 5
      - say: And release.
        pause: 5s
  - breathe: {inhale: 4s, hold: 1s, exhale: 6s, cycles: 5}
  - walk: {duration: 2m, cadence: 40}
  - bell: bowl
"""


#: Three sections of one sentence and a 3 s pause each, under a quiet drone: a session
#: of about 20 s whose pauses can be heard (the player and station tests listen for them).
THREE_STEPS = """\
ambient:
  - drone: A2
    level: -30 dB
steps:
  - section: One
  - say: This is the first step. You may stop at any time.
    pause: 3s
  - section: Two
  - say: This is the second step.
    pause: 3s
  - section: Three
  - say: This is the third step.
    pause: 3s
"""
