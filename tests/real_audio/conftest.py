"""Fixtures shared by the real-audio tests: a private PulseAudio sink, an ALSA file device."""

from __future__ import annotations

from typing import Dict

import pytest

from tests.support.audio_env import PulseNullSink, alsa_file_home, base_env


@pytest.fixture()
def pulse(tmp_path) -> PulseNullSink:
    """A private real-time PulseAudio null sink for one test (a module may share one instead)."""
    with PulseNullSink(tmp_path) as sink:
        yield sink


@pytest.fixture()
def alsa_env(tmp_path) -> Dict[str, str]:
    """An environment whose default ALSA device writes, unpaced, to tmp_path/played.wav."""
    home, _ = alsa_file_home(tmp_path)
    return base_env(home)
