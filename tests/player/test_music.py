"""The listener's own music (--music FILE): placed where preview says, faded, levelled, played as rendered.

A generated piece (a 330 Hz tone at near full scale, as music is mastered)
goes through the real path: soundfile decodes it, the resampler brings
44.1 kHz to 48 kHz, the mixer fades it, and `play` sends it through
PortAudio into ALSA's file plugin.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from tests.support.audio_env import alsa_file_home, base_env, voiceguide

pytestmark = pytest.mark.audio
SR = 48000
PIECE_HZ = 330.0

SCRIPT = """\
title: Music check
ambient:
  - noise: pink
    level: -30 dB
duck: 10 dB
steps:
  - say: Before the music. You may stop at any time.
  - music: 20s
    fade: 2s
  - say: After the music.
"""


@pytest.fixture()
def script(tmp_path):
    path = tmp_path / "music-check.yaml"
    path.write_text(SCRIPT)
    return path


def piece(tmp_path, seconds: float, name: str = "piece.flac"):
    t = np.arange(int(seconds * 44100)) / 44100
    path = tmp_path / name
    sf.write(str(path), (0.9 * np.sin(2 * np.pi * PIECE_HZ * t)).astype(np.float32), 44100)
    return path


def music_event(script, music, env):
    shown = voiceguide("preview", str(script), "--json", "--music", str(music), env=env)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    (event,) = [e for e in data["events"] if e["kind"] == "music"]
    return data, event


def level_db(x, a, b):
    seg = x[int(a * SR):int(b * SR)]
    return 20 * np.log10(np.sqrt(np.mean(seg ** 2)))


def test_the_piece_plays_where_preview_says_faded_and_at_the_level_of_the_voice(script, tmp_path):
    env = base_env(tmp_path)
    music = piece(tmp_path, 12.0)
    timeline, event = music_event(script, music, env)
    assert event["end"] - event["start"] == pytest.approx(12.0, abs=0.01)   # the whole (shorter) piece
    out = tmp_path / "out.wav"
    result = voiceguide("render", str(script), "-o", str(out), "--music", str(music), "--no-ambient", env=env)
    assert result.returncode == 0, result.stderr
    x, _ = sf.read(str(out), dtype="float64")
    assert len(x) / SR == pytest.approx(timeline["duration"], abs=0.01)
    start, end = event["start"], event["end"]
    middle = level_db(x, start + 4, end - 4)
    assert middle == pytest.approx(-20.0, abs=1.0)        # a loud master, brought to the voice's level
    assert level_db(x, start, start + 0.2) < middle - 15   # fades in...
    assert level_db(x, start + 1.0, start + 1.2) == pytest.approx(middle - 6, abs=2)  # ...half-way at 1 s
    assert level_db(x, end - 0.2, end) < middle - 15       # ...and out
    seg = x[int((start + 4) * SR):int((end - 4) * SR)]
    peak = np.fft.rfftfreq(len(seg), 1 / SR)[np.argmax(np.abs(np.fft.rfft(seg * np.hanning(len(seg)))))]
    assert peak == pytest.approx(PIECE_HZ, abs=1.0)


def test_a_longer_piece_fades_out_at_the_steps_length(script, tmp_path):
    env = base_env(tmp_path)
    music = piece(tmp_path, 40.0)
    _, event = music_event(script, music, env)
    assert event["end"] - event["start"] == pytest.approx(20.0, abs=1e-3)
    out = tmp_path / "out.wav"
    assert voiceguide("render", str(script), "-o", str(out), "--music", str(music), env=env).returncode == 0
    x, _ = sf.read(str(out), dtype="float64")
    assert level_db(x, event["end"] - 0.1, event["end"]) < level_db(x, event["start"] + 10, event["start"] + 12) - 15


def test_play_sends_the_music_through_portaudio_as_render_writes_it(script, tmp_path):
    env = base_env(tmp_path)
    music = piece(tmp_path, 8.0)
    rendered_path = tmp_path / "rendered.wav"
    assert voiceguide("render", str(script), "-o", str(rendered_path), "--music", str(music),
                      env=env).returncode == 0
    rendered, _ = sf.read(str(rendered_path), dtype="float64")
    home, wav = alsa_file_home(tmp_path)
    play_env = base_env(home)
    play_env["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]
    result = voiceguide("play", str(script), "--music", str(music), env=play_env)
    assert result.returncode == 0, result.stderr
    played, _ = sf.read(str(wav), dtype="float64")
    played = played[:, 0] if played.ndim == 2 else played
    # play starts with a short pre-roll of silence: find it by correlation (the first non-zero
    # sample is not a good mark here: the bed fades in from below the WAV's 24-bit resolution)
    window = rendered[:SR]
    lags = [float(np.dot(played[lag:lag + SR], window)) for lag in range(0, SR // 10)]
    lead = int(np.argmax(lags))
    body = played[lead:lead + len(rendered)]
    assert len(body) == len(rendered)
    np.testing.assert_allclose(body, rendered, atol=2.0 ** -22)


@pytest.mark.parametrize("args, words", [
    ([], 'plays a piece of music you choose: add --music FILE'),
    (["--music", "missing.flac"], "--music missing.flac: no such file"),
    (["--music", "SCRIPT"], "cannot read music"),
])
def test_music_mistakes_are_one_line_and_exit_2(script, tmp_path, args, words):
    env = base_env(tmp_path)
    args = [str(script) if a == "SCRIPT" else a for a in args]
    for command in (["play", str(script)], ["render", str(script), "-o", str(tmp_path / "x.wav")]):
        result = voiceguide(*command, *args, env=env)
        assert result.returncode == 2, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert words in line


def test_music_for_an_exercise_without_a_music_step_is_refused(tmp_path):
    env = base_env(tmp_path)
    result = voiceguide("play", "breathing", "--music", str(piece(tmp_path, 3.0)), env=env)
    assert result.returncode == 2
    assert 'has no music step; --music is for exercises that play your own piece' in result.stderr


def test_preview_without_music_holds_the_longest_length_and_says_so(script, tmp_path):
    shown = voiceguide("preview", str(script), "--json", env=base_env(tmp_path))
    assert shown.returncode == 0
    (event,) = [e for e in json.loads(shown.stdout)["events"] if e["kind"] == "music"]
    assert event["end"] - event["start"] == pytest.approx(20.0, abs=1e-3)
    assert "plays a piece you choose (--music FILE)" in shown.stderr
