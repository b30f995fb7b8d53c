"""Fakes for fast unit tests only: the tests that prove a path works use the real parts."""

from __future__ import annotations

from voiceguide.script.model import Source

SRC = Source("test.yaml", 1, 1)
"""A source location for steps built in code rather than loaded from a file."""


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
