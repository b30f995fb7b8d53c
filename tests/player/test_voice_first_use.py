"""A Piper voice's first session here says why its first word waits (issue 24), and only that session.

The first worker to load a voice optimises its model and keeps it (~0.4 s
here, seconds on a Pi); ``play`` says so in one line before the audio starts,
so a person on a Pi knows the silence is the voice being made ready. Real
Piper workers, played through PortAudio into ALSA's ``file`` plugin.
"""

from __future__ import annotations

import pytest

from tests.support.audio_env import alsa_file_home, base_env, voiceguide
from voiceguide.synth.engines import piper

pytestmark = [pytest.mark.audio, pytest.mark.slow,
              pytest.mark.skipif(not piper.available(), reason="piper-tts is not installed")]

LINE = "getting the voice piper:"


def _script(tmp_path, name, text):
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"title: {name}\nsteps:\n  - say: {text}\n")
    return str(path)


def test_only_the_voices_first_session_says_it_is_getting_the_voice_ready(tmp_path):
    home, _ = alsa_file_home(tmp_path)
    env = base_env(home)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")   # the voice never used here
    env["VOICEGUIDE_VOICE"] = "piper"
    first = voiceguide("play", _script(tmp_path, "one", "Let your shoulders soften."), "--no-ambient",
                       env=env, timeout=180)
    assert first.returncode == 0, first.stderr
    assert [line for line in first.stderr.splitlines() if line.startswith(LINE)] == [
        "getting the voice piper:en_US-joe-medium ready (only the first time)"], first.stderr
    # another text (nothing cached) with the model kept: no such line; nor when every clip is cached
    for name, text in (("two", "Notice the floor beneath you."), ("one", "Let your shoulders soften.")):
        again = voiceguide("play", _script(tmp_path, name, text), "--no-ambient", env=env, timeout=180)
        assert again.returncode == 0 and LINE not in again.stderr, again.stderr


def test_espeak_never_says_it(tmp_path):
    home, _ = alsa_file_home(tmp_path)
    env = base_env(home)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["VOICEGUIDE_VOICE"] = "espeak"
    run = voiceguide("play", _script(tmp_path, "one", "Let your shoulders soften."), "--no-ambient",
                     env=env, timeout=120)
    assert run.returncode == 0 and "getting the voice" not in run.stderr, run.stderr
