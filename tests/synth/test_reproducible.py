"""Speech synthesis is a function of its cache key (issue 14), on the real engine.

* The same text, voice and rate give the same samples whatever the worker
  spoke before, in any worker (espeak-ng keeps state across utterances; each
  utterance now starts from the same state).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from voiceguide.synth import Synthesizer, VoiceSpec

pytestmark = pytest.mark.audio

Espeak = functools.partial(VoiceSpec, name="espeak")
#: A text whose sentence pause espeak-ng used to stretch after a longer utterance
#: (63023 samples alone, 64305 after BEFORE, at the engine's 22050 Hz).
AFTER = "And release. Let your hands rest."
BEFORE = [
    "Press your palms together firmly, and hold the pressure.",
    "One. Two? Three!",
    "Hello world hello world hello world hello world hello",
]


def spoken(cache_dir: Path, texts, voice=None, workers: int = 1) -> np.ndarray:
    """The last of *texts*, spoken by a fresh synthesizer (fresh workers) after the others."""
    voice = voice or Espeak()
    with Synthesizer(sample_rate=48000, cache_dir=cache_dir, workers=workers) as s:
        out = [np.array(s.clip(t, voice)) for t in texts]
    return out[-1]


def test_same_text_same_samples_whatever_the_worker_spoke_before(tmp_path):
    alone = spoken(tmp_path / "alone", [AFTER])
    for i, before in enumerate(BEFORE):
        after = spoken(tmp_path / f"after-{i}", [before, AFTER])
        assert after.size == alone.size, f"after {before!r}: {after.size} samples, alone {alone.size}"
        assert np.array_equal(after, alone), f"after {before!r}: the samples differ"
    # Another voice and language spoken first in the same worker changes nothing either.
    german = VoiceSpec(name="espeak:gmw/de", language="de")
    with Synthesizer(sample_rate=48000, cache_dir=tmp_path / "mixed", workers=1) as s:
        s.clip("Atme ruhig ein und aus.", german)
        s.clip(BEFORE[0], Espeak(rate=200))
        mixed = np.array(s.clip(AFTER, Espeak()))
    assert np.array_equal(mixed, alone)


def test_same_samples_from_two_workers_at_once(tmp_path):
    """Two workers of one pool, each after different texts, give one result."""
    texts = BEFORE + [t + " Again." for t in BEFORE] + [AFTER]
    with Synthesizer(sample_rate=48000, cache_dir=tmp_path / "a", workers=2) as s:
        s.prefetch((t, Espeak()) for t in texts)
        first = np.array(s.clip(AFTER, Espeak()))
    assert np.array_equal(first, spoken(tmp_path / "b", [AFTER]))
