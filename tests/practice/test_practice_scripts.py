"""The exercises added for the practice habits: valid, lint-clean, and as long as preview says.

Rendered for real (espeak-ng, the mixer, soundfile), like the body scan in
test_audio_path.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from tests.support.audio_env import base_env, voiceguide
from voiceguide.script.lint import lint
from voiceguide.script.loader import load

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
NEW_IDS = ("reach-out", "pause-before-habit", "creative-outlet", "music-listening", "small-contact")


@pytest.mark.parametrize("sid", NEW_IDS)
def test_valid_and_lint_clean(sid):
    assert lint(load(SCRIPTS / f"{sid}.yaml")) == []


@pytest.mark.parametrize("sid", NEW_IDS)
def test_gentle_and_without_promises(sid):
    text = (SCRIPTS / f"{sid}.yaml").read_text(encoding="utf-8").lower()
    assert "you may stop at any time" in text
    for promise in ("cure", "heal", "fix you", "guarantee", "will make you feel"):
        assert promise not in text, promise


def test_the_pause_before_a_habit_breathes_for_about_three_minutes():
    from voiceguide.script.model import Breathe

    script = load(SCRIPTS / "pause-before-habit.yaml")
    (breathe,) = [s for s in script.steps if isinstance(s, Breathe)]
    assert 165 <= breathe.cycles * breathe.cycle_seconds <= 195


@pytest.mark.audio
@pytest.mark.slow
@pytest.mark.parametrize("sid", NEW_IDS)
def test_renders_as_long_as_its_preview(sid, tmp_path):
    import json

    env = base_env(tmp_path)
    music = []
    if sid == "music-listening":  # the listener's own piece: a 90-second chord here
        import numpy as np

        t = np.arange(90 * 44100) / 44100
        chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 4
        # (one big OGG write crashes libsndfile)
        sf.write(str(tmp_path / "piece.flac"), chord.astype(np.float32), 44100)
        music = ["--music", str(tmp_path / "piece.flac")]
    shown = voiceguide("preview", sid, "--json", *music, env=env)
    assert shown.returncode == 0, shown.stderr
    duration = json.loads(shown.stdout)["duration"]
    out = tmp_path / f"{sid}.flac"
    result = voiceguide("render", sid, "-o", str(out), *music, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    info = sf.info(str(out))
    assert info.frames / info.samplerate == pytest.approx(duration, abs=0.01)


def test_music_listening_frames_the_music_and_invites_a_cue():
    from voiceguide.script.model import Music, Record, Say, Section

    script = load(SCRIPTS / "music-listening.yaml")
    kinds = [type(s) for s in script.steps if not isinstance(s, Section)]
    music = kinds.index(Music)
    assert kinds[:music].count(Say) >= 4, "a spoken frame before the music"
    assert Say in kinds[music + 1:] and Record in kinds[music + 1:], "and after it, with an optional cue"
    (piece,) = [s for s in script.steps if isinstance(s, Music)]
    assert piece.fade >= 2.0 and 3 * 60 <= piece.seconds <= 8 * 60
