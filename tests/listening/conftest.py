"""Fixtures of the echo canceller's and the delay estimator's tests: a guide speaking, and a person."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from .test_echo import DATA, GUIDE_TEXT, load


@pytest.fixture(scope="module")
def guide(tmp_path_factory) -> np.ndarray:
    """About 20 s of a guide speaking (espeak-ng, or without it the kept command clips one after another),
    at 16 kHz, peaking near full scale."""
    espeak = shutil.which("espeak-ng")
    if espeak:
        wav = tmp_path_factory.mktemp("guide") / "guide.wav"
        subprocess.run([espeak, "-w", str(wav), GUIDE_TEXT], check=True, capture_output=True)
        x = load(wav)
    else:
        clips = sorted(p for p in DATA.glob("*.flac") if p.name != "guide-pause.flac")
        x = np.concatenate([load(p) for p in clips] * 2)
    return (x / np.max(np.abs(x)) * 0.9).astype(np.float32)


@pytest.fixture(scope="module")
def command() -> np.ndarray:
    """A person's "guide, pause" (a kept clip)."""
    return load(DATA / "guide-pause.flac")
