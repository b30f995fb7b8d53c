"""Shared fixtures: a private HOME/XDG tree per test, and a fake synthesizer for fast tests.

The fake synthesizer is only for fast unit tests of the timeline and mixer;
the tests that prove a path works use the real espeak-ng engine.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from voiceguide.script.model import Source

SRC = Source("test.yaml", 1, 1)


@pytest.fixture(autouse=True)
def private_dirs(tmp_path_factory, monkeypatch):
    """Never touch the developer's own config or cache."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared_cache_dir()))
    return home


def shared_cache_dir() -> Path:
    """A speech cache shared by the whole test run (synthesis is real, and slowish)."""
    root = Path(os.environ.get("VOICEGUIDE_TEST_CACHE", "/tmp/voiceguide-test-cache"))
    root.mkdir(parents=True, exist_ok=True)
    return root


class FakeSynth:
    """Deterministic stand-in clips: a tone burst whose length depends on the text."""

    def __init__(self, sample_rate=48000, seconds_per_word=0.4):
        self.sample_rate = sample_rate
        self.spw = seconds_per_word
        self.calls = 0

    def length(self, text, voice) -> int:
        return int(round(len(text.split()) * self.spw * self.sample_rate))

    def clip(self, text, voice):
        import numpy as np

        self.calls += 1
        n = self.length(text, voice)
        t = np.arange(n) / self.sample_rate
        env = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
        return (0.5 * env * np.sin(2 * np.pi * 220 * t)).astype(np.float32)

    def prefetch(self, items):
        list(items)

    def close(self):
        pass
