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


def test_small_contact_notices_the_body_before_and_after_the_moment():
    says = _says("small-contact")
    for section in ("Before", "After"):
        words = " ".join(text for _, s, text in says if s == section).lower()
        assert "notice your body" in words, section


def test_small_contact_says_the_moment_may_stay_very_small_or_be_skipped():
    says = _says("small-contact")
    small = " ".join(text for _, section, text in says if section == "Keeping it small").lower()
    assert "very small" in small and "skip" in small and "not a failure" in small
    # said before the listener is asked about afterwards, so it frames the whole plan
    first_after = next(i for i, (_, section, _) in enumerate(says) if section == "After")
    assert max(i for i, (_, section, _) in enumerate(says) if section == "Keeping it small") < first_after
