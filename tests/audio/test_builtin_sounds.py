"""The ambient sounds that ship in sounds/: small, seamless, calm, and usable from a script."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile

from voiceguide.script.loader import load_text

SOUNDS = Path(__file__).resolve().parents[2] / "sounds"
NAMES = ["rain", "ocean", "stream", "wind"]


def _sound_loop():
    try:
        from voiceguide.audio.generators import sound_loop
    except ImportError:  # before the rename
        from voiceguide.audio.generators import sound_loop
    return sound_loop


@pytest.mark.parametrize("name", NAMES)
def test_each_sound_is_small_readable_and_long_enough_to_loop(name):
    path = SOUNDS / f"{name}.ogg"
    assert path.stat().st_size <= 300 * 1024, "a built-in sound stays a few hundred KB at most"
    info = soundfile.info(str(path))
    assert info.channels == 1 and info.duration >= 20.0


@pytest.mark.parametrize("name", NAMES)
def test_each_sound_loops_without_a_click_and_without_dropouts(name):
    x = _sound_loop()(SOUNDS / f"{name}.ogg", 48_000).astype(np.float64)
    assert np.all(np.isfinite(x)) and np.max(np.abs(x)) > 0
    # The seam (last sample -> first) is no bigger a step than the file's own steps.
    steps = np.abs(np.diff(x))
    assert abs(x[0] - x[-1]) <= np.percentile(steps, 99.9)
    # No silent gap and no burst: every half second carries the bed within 20 dB of the median.
    half = 24_000
    rms = np.sqrt(np.mean(x[: len(x) // half * half].reshape(-1, half) ** 2, axis=1))
    level = 20 * np.log10(rms / np.median(rms))
    assert level.min() > -20 and level.max() < 10, level.round(1)


def test_the_docs_example_with_a_builtin_sound_loads(tmp_path):
    text = textwrap.dedent("""\
        title: Rain
        ambient:
          - sound: rain.ogg
            level: -30 dB
        steps:
          - say: Listen to the rain. You may stop at any time.
        """)
    script = load_text(text, str(tmp_path / "rain.yaml"), tmp_path)
    assert Path(script.ambient[0].path).name == "rain.ogg"
