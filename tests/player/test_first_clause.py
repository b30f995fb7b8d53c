"""Issue 24: a cold Piper session speaks its first clause while the rest of the clip is made.

Piper makes every clip clause by clause (``synth/engines/piper.py``), each
clause final when made, so the clause heard first is the very start of the
clip the cache keeps and ``render`` uses. These tests play a cold session
through PortAudio into ALSA's ``file`` plugin (unpaced: the mixer reaches
the rest of the clip long before it is made, so it always waits there),
then render the same script on the now-warm cache, and compare the speech
sample for sample: the played head, then the played rest after the wait.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.support.audio_env import alsa_file_home, base_env, voiceguide
from voiceguide.synth.engines import piper

pytestmark = [pytest.mark.audio,
              pytest.mark.skipif(not piper.available(), reason="piper-tts is not installed")]

SR = 48000
SCRIPT = """\
title: First clause first
steps:
  - say: Let your shoulders soften, and let your breath slow down. Notice the weight of your hands, resting in your lap.
  - pause: 1s
  - say: Notice the floor beneath you.
"""


def _read(path):
    data, rate = sf.read(str(path), dtype="float64")
    assert rate == SR
    return data[:, 0] if data.ndim == 2 else data


TOLERANCE = 2.0 ** -22   # render's file and the ALSA capture each hold the float32 mix as integers


def _first_loud(x, start=0):
    return int(np.flatnonzero(np.abs(x[start:]) > 1e-3)[0]) + start


def _matches(played, rendered, lead):
    """Whether each rendered sample is the one played *lead* samples later."""
    return np.abs(played[lead:lead + len(rendered)] - rendered[:len(played) - lead]) <= TOLERANCE


def test_the_first_clause_played_cold_is_the_start_of_the_clip_render_writes(tmp_path):
    script = tmp_path / "first.yaml"
    script.write_text(SCRIPT)
    home, wav = alsa_file_home(tmp_path)
    env = base_env(home)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")   # cold: no clip, no saved model
    env["VOICEGUIDE_VOICE"] = "piper"
    played_run = voiceguide("play", str(script), "-v", "--no-ambient", env=env, timeout=180)
    assert played_run.returncode == 0, played_run.stderr
    # the unpaced device reached the rest of the first clip before it was made
    assert "waited" in played_run.stderr and "step(s) 1 " in played_run.stderr, played_run.stderr
    played = _read(wav)

    render_env = dict(env)
    result = voiceguide("render", str(script), "-o", str(tmp_path / "r.wav"), "--no-ambient", env=render_env)
    assert result.returncode == 0, result.stderr
    assert "synthes" not in result.stderr.lower()
    rendered = _read(tmp_path / "r.wav")

    # The head: played as render has it from the first sound until render's clip goes on
    # sounding while the player waited for the rest of it (in silence).
    lead = _first_loud(played) - _first_loud(rendered)
    same = _matches(played, rendered, lead)
    first = _first_loud(rendered)
    assert same[:first].all()
    head_end = first + int(np.flatnonzero(~same[first:])[0])
    assert head_end - first > SR // 2, "no clause was played before the wait"
    loud = np.flatnonzero(np.abs(rendered) > 1e-3)
    clip_end = int(loud[np.flatnonzero(np.diff(loud) > 0.8 * SR)[0]]) + 1   # the 1 s pause follows the clip
    assert head_end < clip_end - SR // 2, "the whole clip was played before the wait: no head"
    # The rest of the clip is render's too, after the wait.
    rest = _first_loud(rendered, head_end)
    assert 0 <= rest - head_end < SR // 20   # the mismatch began where the rest fades in
    later = _first_loud(played, lead + head_end)
    wait = later - (lead + rest)
    assert wait > 0
    same = _matches(played, rendered[rest:clip_end], lead + rest + wait)
    assert same.all(), f"{(~same).sum()} samples of the rest differ from render's"
    # And so is the second clip (it may have been waited for as well), up to the last fade.
    second = _first_loud(rendered, clip_end)
    at = _first_loud(played, lead + clip_end + wait)
    end = int(loud[-1]) + 1 - SR // 10
    same = _matches(played, rendered[second:end], at)
    assert same.all(), f"{(~same).sum()} samples of the second clip differ from render's"
