"""The real audio path, end to end: espeak-ng speech, the mixer, soundfile, PortAudio, ALSA.

No mocks here. Speech is synthesised by espeak-ng through pyttsx3; ``play``
goes through sounddevice and PortAudio into ALSA's ``file`` plugin (unpaced)
or a private PulseAudio null sink (real time). See tests/support/audio_env.py.
"""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.support.audio_env import PulseNullSink, alsa_file_home, base_env, voiceguide

pytestmark = pytest.mark.audio

SR = 48000

SHORT = """\
title: Audio path check
voice: {rate: 150}
ambient:
  - drone: A2
    level: -30 dB
  - noise: pink
    level: -40 dB
steps:
  - bell: chime
  - section: Hands
  - say: Press your palms together.
    pause: 2s
  - count: 3
  - say: And release. You may stop at any time.
    pause: 3s
  - Notice what remains.
  - pause: 2s
  - bell: chime
"""


@pytest.fixture()
def env(tmp_path):
    return base_env(tmp_path)


@pytest.fixture()
def short_script(tmp_path):
    path = tmp_path / "short.yaml"
    path.write_text(SHORT)
    return path


def preview(path, env, *extra):
    result = voiceguide("preview", str(path), "--json", *extra, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def render(path, out, env, *extra):
    result = voiceguide("render", str(path), "-o", str(out), *extra, env=env)
    assert result.returncode == 0, result.stderr
    data, rate = sf.read(str(out), dtype="float32")
    assert rate == SR
    return data


def onsets(x, threshold=10 ** (-45 / 20), gap=0.25):
    """Sample positions where sound starts after at least *gap* seconds of near-silence."""
    loud = np.flatnonzero(np.abs(x) > threshold)
    if not len(loud):
        return []
    starts = loud[np.diff(loud, prepend=-10 * SR) > gap * SR]
    return list(starts)


def test_render_places_every_word_where_the_timeline_says(short_script, tmp_path, env):
    timeline = preview(short_script, env)
    data = render(short_script, tmp_path / "voice.wav", env, "--no-ambient")
    assert len(data) / SR == pytest.approx(timeline["duration"], abs=0.01)
    says = [e for e in timeline["events"] if e["kind"] == "say"]
    assert [e["text"] for e in says][1:4] == ["one", "two", "three"]
    for event in says:
        a, b = int(event["start"] * SR), int(event["end"] * SR)
        segment = data[max(0, a - SR // 10):b]
        heard = onsets(segment, threshold=10 ** (-50 / 20), gap=0.05)  # Piper's words rise gently
        assert heard, f"nothing heard for {event['text']!r}"
        start = max(0, a - SR // 10) + heard[0]
        assert abs(start - a) / SR <= 0.030, (event["text"], (start - a) / SR)
    for event in timeline["events"]:
        if event["kind"] == "pause":
            a, b = int(event["start"] * SR), int(event["end"] * SR)
            assert not data[a + 1:b].any(), "a pause without ambient must be digital silence"
    assert np.max(np.abs(data)) <= 10 ** (-1 / 20) + 1e-4


def test_written_pause_is_heard_as_that_long_a_silence(short_script, tmp_path, env):
    timeline = preview(short_script, env)
    data = render(short_script, tmp_path / "voice.wav", env, "--no-ambient")
    first = next(e for e in timeline["events"] if e["kind"] == "say")
    pause = timeline["events"][timeline["events"].index(first) + 1]
    assert pause["kind"] == "pause" and pause["end"] - pause["start"] == pytest.approx(2.0)
    # measure from the audio: last loud sample of the speech to the next onset
    loud = np.flatnonzero(np.abs(data[int(first["start"] * SR):int(pause["end"] * SR) + SR // 2]) > 10 ** (-50 / 20))
    gaps = np.diff(loud)
    assert gaps.max() / SR == pytest.approx(2.0, abs=0.05)


def test_no_clicks_at_clip_edges_and_nothing_clips(short_script, tmp_path, env):
    timeline = preview(short_script, env)
    data = render(short_script, tmp_path / "voice.wav", env, "--no-ambient")
    for event in timeline["events"]:
        if event["kind"] not in ("say", "bell"):
            continue
        for edge in (int(event["start"] * SR), int(event["end"] * SR)):
            # a click is a jump: near the edge the wave starts (or ends) from
            # nothing and moves by less than 1% of full scale per sample
            window = data[max(0, edge - 48):edge + 48].astype(np.float64)  # +-1 ms
            assert abs(data[min(edge, len(data) - 1)]) < 0.005, (event, edge)
            assert np.max(np.abs(np.diff(window))) < 0.01, (event, edge)
    assert np.max(np.abs(data)) <= 10 ** (-1 / 20) + 1e-4


def test_pauses_hold_only_the_ambient_bed(short_script, tmp_path, env):
    timeline = preview(short_script, env)
    full = render(short_script, tmp_path / "full.wav", env)
    voice = render(short_script, tmp_path / "voice.wav", env, "--no-ambient")
    assert len(full) == len(voice)
    pause = [e for e in timeline["events"] if e["kind"] == "pause"][-1]
    a, b = int(pause["start"] * SR) + SR // 2, int(pause["end"] * SR) - SR // 4
    bed = full[a:b]
    assert not voice[a:b].any()
    rms_db = 20 * np.log10(np.sqrt(np.mean(bed.astype(np.float64) ** 2)))
    assert -40 < rms_db < -28, rms_db
    # the bed is quieter under the voice than in the pause (ducking)
    say = [e for e in timeline["events"] if e["kind"] == "say"][-1]
    under = (full - voice)[int(say["start"] * SR) + SR // 5:int(say["end"] * SR) - SR // 5]
    under_db = 20 * np.log10(np.sqrt(np.mean(under.astype(np.float64) ** 2)))
    assert under_db < rms_db - 5


def test_speech_has_no_imaging_above_12_khz(short_script, tmp_path, env):
    data = render(short_script, tmp_path / "voice.wav", env, "--no-ambient").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(data)) ** 2
    freqs = np.fft.rfftfreq(len(data), 1 / SR)
    band = spectrum[(freqs >= 200) & (freqs <= 4000)].mean()
    high = spectrum[freqs >= 12000].mean()
    assert 10 * np.log10(band / high) >= 40


def test_render_length_matches_preview_with_length_option(short_script, tmp_path, env):
    timeline = preview(short_script, env, "--length", "40s")
    assert timeline["duration"] == pytest.approx(40.0, abs=1e-6)
    data = render(short_script, tmp_path / "long.flac", env, "--length", "40s")
    assert len(data) / SR == pytest.approx(40.0, abs=0.01)


def test_body_scan_renders_as_long_as_its_preview(tmp_path, env):
    timeline = preview("body-scan", env)
    assert 9.5 * 60 <= timeline["duration"] <= 10.5 * 60  # "a ten-minute body scan", with real speech
    # silence carries it (issue 13: speech filled 46% once espeak-ng spoke at the rate asked for)
    speech = sum(e["end"] - e["start"] for e in timeline["events"] if e["kind"] == "say")
    assert speech / timeline["duration"] <= 0.36
    data = render("body-scan", tmp_path / "body-scan.wav", env)
    assert len(data) / SR == pytest.approx(timeline["duration"], abs=0.01)
    assert np.max(np.abs(data)) <= 10 ** (-1 / 20) + 1e-4


def test_play_through_portaudio_and_alsa_is_what_render_writes(short_script, tmp_path, env):
    home, wav = alsa_file_home(tmp_path)
    play_env = base_env(home)
    play_env["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]
    rendered = render(short_script, tmp_path / "rendered.wav", env)
    result = voiceguide("play", str(short_script), "-v", env=play_env)
    assert result.returncode == 0, result.stderr
    assert "underrun" not in result.stderr.replace("0 underruns", "")
    # -v: a time of day a person can read, not a raw epoch (issue 13)
    assert re.search(r"^first sound at \d\d:\d\d:\d\d\.\d{3} \(\d+\.\d{3} s after the process started\)$",
                     result.stderr, re.M), result.stderr
    played, rate = sf.read(str(wav), dtype="float64")
    assert rate == SR
    played = played[:, 0] if played.ndim == 2 else played
    # play starts the device with a short pre-roll of silence, and ALSA may pad
    # the end: between the two, every sample must be what render wrote
    lead = int(np.flatnonzero(played)[0] - np.flatnonzero(rendered)[0])
    assert 0 <= lead <= SR // 10
    assert not played[:lead].any()
    body = played[lead:lead + len(rendered)]
    assert len(body) == len(rendered)
    assert not played[lead + len(rendered):].any()
    np.testing.assert_allclose(body, rendered, atol=2.0 ** -22)


def test_play_in_real_time_on_pulseaudio(short_script, tmp_path, env):
    sink = PulseNullSink(tmp_path).start()
    try:
        play_env = sink.env
        play_env["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]
        duration = preview(short_script, env)["duration"]
        rendered = render(short_script, tmp_path / "rendered.wav", env).astype(np.float64)
        sink.record(tmp_path / "monitor.wav")
        started = time.monotonic()
        result = voiceguide("play", str(short_script), env=play_env, timeout=duration + 30)
        elapsed = time.monotonic() - started
        time.sleep(0.3)
        sink.stop_recording()
    finally:
        sink.stop()
    assert result.returncode == 0, result.stderr
    assert elapsed >= duration - 0.5, "a paced device plays in real time"
    heard, _ = sf.read(str(tmp_path / "monitor.wav"), dtype="float64")
    # find a distinctive stretch of the session in the recording, then compare sample by sample
    offset = _align(heard, rendered, 5 * SR, 3 * SR)
    lo, hi = max(0, -offset), min(len(rendered), len(heard) - offset)
    assert hi - lo >= 0.9 * len(rendered), "the session reached the sink"
    # Compare second by second, each aligned on its own (within 50 ms of the
    # last): a real-time device on a busy machine may slip a few ms, but every
    # second of the session must be heard, in order, as rendered.
    slips = []
    for start in range(lo, hi - SR, SR):
        want = rendered[start:start + SR]
        if np.mean(want ** 2) < 10 ** (-45 / 10):
            continue  # too quiet to align on; 16-bit rounding dominates there
        best = _align(heard, want, 0, SR, around=start + offset, within=SR // 20)
        got = heard[best:best + SR]
        residual_db = 10 * np.log10(np.mean((got - want) ** 2) / np.mean(want ** 2))
        assert residual_db < -30, (start / SR, residual_db)
        slips.append(best - (start + offset))
        offset = best - start
    assert len(slips) >= 0.8 * (hi - lo) / SR


def _align(haystack, needle, at, size, around=None, within=None):
    """Offset of needle[at:at+size] in haystack (by cross-correlation), minus *at*."""
    probe = needle[at:at + size]
    if around is None:
        first, region = 0, haystack
    else:
        first = max(0, around - within)
        region = haystack[first:around + within + size]
    n = 1 << int(np.ceil(np.log2(len(region) + len(probe))))
    corr = np.fft.irfft(np.fft.rfft(region, n) * np.conj(np.fft.rfft(probe, n)), n)[:len(region) - len(probe) + 1]
    if around is not None:
        # Normalised: on a decaying sound (a bell's tail) the raw correlation
        # favours a lag where the haystack is merely louder.
        energy = np.concatenate([[0.0], np.cumsum(region ** 2)])
        corr = corr / np.sqrt(np.maximum(energy[len(probe):] - energy[:-len(probe)], 1e-30))
    return first + int(np.argmax(corr)) - at


def test_ctrl_c_fades_out_within_a_second_and_exits_130(short_script, tmp_path, env):
    sink = PulseNullSink(tmp_path).start()
    try:
        play_env = sink.env
        play_env["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]
        status, err, took = sink.play_and_signal(short_script, signal.SIGINT, 4.0,
                                                 tmp_path / "monitor.wav", play_env)
    finally:
        sink.stop()
    assert status == 130, err
    assert "Traceback" not in err
    assert took < 1.5
    heard, _ = sf.read(str(tmp_path / "monitor.wav"), dtype="float32")
    loud = np.flatnonzero(np.abs(heard) > 10 ** (-50 / 20))
    tail = heard[loud[-1] - SR // 5:loud[-1]]
    # a fade, not a cut: the last 200 ms of sound decay to near nothing
    assert np.max(np.abs(tail[-480:])) < 0.25 * np.max(np.abs(heard[loud[-1] - SR:loud[-1] - SR // 2]))


@pytest.mark.parametrize("suffix", [".ogg", ".flac"])
def test_render_writes_compressed_formats_of_the_same_length(short_script, tmp_path, env, suffix):
    timeline = preview(short_script, env)
    data = render(short_script, tmp_path / f"session{suffix}", env)
    assert len(data) / SR == pytest.approx(timeline["duration"], abs=0.01)
    assert np.max(np.abs(data)) > 0.1


def test_render_is_the_mix_play_plays_with_settings_from_the_config_and_environment(short_script, tmp_path, env):
    """Issue 13: with `rate = 200` in config.toml, render and play gave different sessions."""
    home, wav = alsa_file_home(tmp_path)
    config = home / ".config" / "voiceguide"
    config.mkdir(parents=True)
    (config / "config.toml").write_text("rate = 200\nambient_level = -6\n")
    play_env = base_env(home)
    play_env["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]
    play_env["VOICEGUIDE_VOLUME"] = "0.5"
    plain = render(short_script, tmp_path / "plain.wav", env)
    rendered = render(short_script, tmp_path / "rendered.wav", play_env)
    assert len(rendered) < len(plain) - SR // 2, "the config's rate reached render"
    assert preview(short_script, play_env)["duration"] == pytest.approx(len(rendered) / SR, abs=0.01)
    result = voiceguide("play", str(short_script), env=play_env)
    assert result.returncode == 0, result.stderr
    played, _ = sf.read(str(wav), dtype="float64")
    played = played[:, 0] if played.ndim == 2 else played
    lead = int(np.flatnonzero(played)[0] - np.flatnonzero(rendered)[0])
    assert 0 <= lead <= SR // 10
    np.testing.assert_allclose(played[lead:lead + len(rendered)], rendered, atol=2.0 ** -22)
    # the options beat the environment and the file, for render as for play
    slower = render(short_script, tmp_path / "slower.wav", play_env, "--rate", "120", "--ambient-level", "-20")
    assert len(slower) > len(rendered) + SR // 2


@pytest.mark.parametrize("where", ["option", "environment", "config", "script"])
def test_an_unknown_voice_is_a_clear_error_naming_where_and_how_to_list_voices(short_script, tmp_path, env, where):
    args, run_env, script = [], dict(env), short_script
    if where == "option":
        args = ["--voice", "vulcan"]
    elif where == "environment":
        run_env["VOICEGUIDE_VOICE"] = "vulcan"
    elif where == "config":
        config = Path(run_env["XDG_CONFIG_HOME"]) / "voiceguide"
        config.mkdir(parents=True, exist_ok=True)
        (config / "config.toml").write_text('voice = "vulcan"\n')
    else:
        script = tmp_path / "vulcan.yaml"
        script.write_text(SHORT.replace("voice: {rate: 150}", "voice: {rate: 150, name: vulcan}"))
    for command in (["preview", str(script)], ["render", str(script), "-o", str(tmp_path / "v.wav")]):
        result = voiceguide(*command, *args, env=run_env)
        assert result.returncode == 2, result.stderr
        line = result.stderr.strip().splitlines()[-1]
        origin = {"option": "--voice vulcan", "environment": "VOICEGUIDE_VOICE=vulcan",
                  "config": 'config.toml: voice = "vulcan"', "script": "vulcan.yaml"}[where]
        assert origin in line and "no voice 'vulcan'" in line and "`voiceguide voices`" in line, line
        assert "Traceback" not in result.stderr and not (tmp_path / "v.wav").exists()
