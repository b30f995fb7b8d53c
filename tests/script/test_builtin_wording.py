"""Care in the built-in exercises' words: what a listener hears at each moment."""

from __future__ import annotations

from pathlib import Path

from voiceguide.script.loader import load
from voiceguide.timeline import estimate

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _says(name):
    timeline = estimate(load(SCRIPTS / f"{name}.yaml"))
    return [(e.start / timeline.sample_rate, e.section, e.text) for e in timeline.says()]


def test_journal_prompts_never_ask_a_writer_to_open_their_eyes():
    assert not [text for _, _, text in _says("journal-prompts") if "open your eyes" in text.lower()]


def test_the_permission_to_skip_the_hardest_prompt_comes_before_it():
    says = _says("journal-prompts")
    hardest = next(i for i, (_, _, text) in enumerate(says) if "not said out loud" in text)
    permission = next(i for i, (_, _, text) in enumerate(says) if "leave it blank" in text)
    assert permission == hardest - 1


def test_acknowledge_closes_by_saying_when_to_look_for_help():
    closing = " ".join(text for _, section, text in _says("acknowledge") if section == "Closing").lower()
    for words in ("four to six weeks", "doctor", "trauma", "substances", "detached", "daily life"):
        assert words in closing, words
