"""``voiceguide prepare --voice-only``: the voice made ready once, before any session (issue 24).

A Piper voice's first session spends ~0.4 s here (seconds on a Pi)
optimising its model before the first word; ``./run`` prepares the voice
when it installs it, so a person's first session starts like every later one.
Real worker processes: espeak-ng for the command's own behaviour, Piper
for what it leaves in the speech cache.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.support.audio_env import base_env, voiceguide
from voiceguide.synth.engines import piper


def _env(tmp_path, voice):
    env = base_env(tmp_path / "home")
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["VOICEGUIDE_VOICE"] = voice
    return env


def test_it_says_which_voice_it_prepared_and_leaves_a_clip_only_in_the_speech_cache(tmp_path):
    run = voiceguide("prepare", "--voice-only", env=_env(tmp_path, "espeak"))
    assert run.returncode == 0, run.stderr
    assert run.stderr.startswith("prepared the voice espeak:") and run.stdout == ""
    clips = list((tmp_path / "cache" / "voiceguide" / "speech").glob("*.clip"))
    assert len(clips) == 1


def test_an_exercise_with_voice_only_is_a_one_line_usage_error(tmp_path):
    for args in (("body-scan",), ("--all",)):
        run = voiceguide("prepare", "--voice-only", *args, env=_env(tmp_path, "espeak"))
        assert run.returncode == 2
        assert run.stderr.strip().count("\n") == 0 and "--voice-only" in run.stderr
        assert not (tmp_path / "cache" / "voiceguide").exists()   # nothing made


@pytest.mark.slow
@pytest.mark.skipif(not piper.available(), reason="piper-tts is not installed")
def test_piper_leaves_its_saved_model_and_the_next_sessions_guess_even_when_its_clip_was_cached(tmp_path):
    env = _env(tmp_path, "piper")
    models = tmp_path / "cache" / "voiceguide" / "speech" / "models"
    for _ in range(2):   # the second time the clip is cached and the model gone: made again all the same
        run = voiceguide("prepare", "--voice-only", env=env, timeout=180)
        assert run.returncode == 0, run.stderr
        assert "prepared the voice piper:" in run.stderr
        saved = [p for p in models.glob("piper-*") if p.is_dir()]
        assert len(saved) == 1 and any(saved[0].iterdir())
        guess = json.loads((models / "next-worker.json").read_text())["start"]
        assert guess[guess.index("--optimised") + 1] == str(saved[0])   # what play's early worker loads
        shutil.rmtree(models)
