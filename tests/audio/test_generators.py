"""Tests of the non-speech sound generators (voiceguide.audio.generators).

Fast on purpose (a few seconds): loops are generated short where the
property does not depend on length, and checks are vectorised numpy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile

from voiceguide.audio import generators
from voiceguide.audio.generators import (
    LOOP_RMS,
    SoundLoopError,
    bell,
    drone_loop,
    noise_loop,
    pacer_cycle,
    sound_loop,
    tick,
)
from voiceguide.script.model import BELL_KINDS, BELL_SECONDS, NOISE_COLORS

SRS = (48000, 44100, 22050)


# --- helpers ---------------------------------------------------------------


def rms(x):
    return math.sqrt(float(np.mean(np.square(x, dtype=np.float64))))


def db(ratio):
    return 20.0 * math.log10(ratio)


def seam_ok(x, factor=3.0):
    """The wrap (last sample -> first) jumps no more than a typical step."""
    x = np.asarray(x, dtype=np.float64)
    typical = float(np.mean(np.abs(np.diff(x))))
    return abs(x[0] - x[-1]) <= factor * typical


def octave_slope_db(x, sr, lo=100.0, hi=4000.0):
    """Least-squares slope (dB per octave) of the power spectrum in [lo, hi],
    from third-octave band averages of the whole-loop periodogram."""
    power = np.abs(np.fft.rfft(np.asarray(x, dtype=np.float64))) ** 2
    f = np.fft.rfftfreq(len(x), 1.0 / sr)
    edges = lo * 2.0 ** np.arange(0.0, math.log2(hi / lo) + 1e-9, 1.0 / 3.0)
    centres, levels = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        band = (f >= a) & (f < b)
        centres.append(math.log2(math.sqrt(a * b)))
        levels.append(10.0 * math.log10(power[band].mean()))
    return float(np.polyfit(centres, levels, 1)[0])


def zero_crossing_hz(x, sr, window):
    """Frequency per window of ``window`` s, from counted sign changes."""
    n = int(window * sr)
    usable = len(x) // n * n
    frames = np.asarray(x[:usable], dtype=np.float64).reshape(-1, n)
    changes = np.count_nonzero(np.diff(np.signbit(frames), axis=1), axis=1)
    return changes / (2.0 * window)


def assert_float32_mono(x):
    assert isinstance(x, np.ndarray)
    assert x.dtype == np.float32
    assert x.ndim == 1
    assert x.flags.c_contiguous
    assert np.all(np.isfinite(x))


# --- drone -----------------------------------------------------------------


@pytest.mark.parametrize("sr", SRS)
@pytest.mark.parametrize("hz", [55.0, 110.0, 146.83, 440.0])
def test_drone_seamless_level_and_pitch(hz, sr):
    x = drone_loop(hz, sr, seconds=10.0)
    assert_float32_mono(x)
    assert len(x) == round(10.0 * sr)
    assert seam_ok(x)
    assert abs(db(rms(x) / LOOP_RMS)) < 0.1
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64)))
    peak_hz = np.fft.rfftfreq(len(x), 1.0 / sr)[np.argmax(spectrum)]
    assert abs(peak_hz - hz) <= 0.01 * hz


def test_drone_default_length_and_determinism():
    a = drone_loop(110.0, 48000)
    assert len(a) == 30 * 48000
    assert np.array_equal(a, drone_loop(110.0, 48000))


def test_drone_tiled_has_no_click_at_the_seam():
    """Second differences at the seam of two tiled copies look like any other."""
    sr = 48000
    x = drone_loop(98.0, sr, seconds=5.0).astype(np.float64)
    tiled = np.concatenate([x, x])
    d2 = np.abs(np.diff(tiled, 2))
    seam = d2[len(x) - 3: len(x) + 1].max()
    assert seam <= 2.0 * np.percentile(d2, 99)


def test_drone_has_movement_and_harmonics():
    sr = 22050
    x = drone_loop(110.0, sr, seconds=30.0).astype(np.float64)
    # Slow amplitude movement: the RMS of 1 s frames varies audibly, but gently.
    frames = x[: 30 * sr].reshape(30, sr)
    frame_db = 20 * np.log10(np.sqrt(np.mean(frames ** 2, axis=1)))
    assert 0.5 < frame_db.max() - frame_db.min() < 6.0
    # Soft harmonics: 2x well below the fundamental, but present.
    spectrum = np.abs(np.fft.rfft(x))
    f = np.fft.rfftfreq(len(x), 1.0 / sr)
    level = lambda hz: spectrum[np.abs(f - hz) < 0.5].max()  # noqa: E731
    assert -16 < db(level(220.0) / level(110.0)) < -8
    assert db(level(330.0) / level(110.0)) < -15


def test_drone_rejects_bad_input():
    with pytest.raises(ValueError):
        drone_loop(0.0, 48000)
    with pytest.raises(ValueError):
        drone_loop(30000.0, 48000)
    with pytest.raises(ValueError):
        drone_loop(110.0, 48000, seconds=0)


def test_drone_without_chorus_would_not_be_periodic_check_has_teeth():
    """The seam check catches a loop that is not a whole number of cycles."""
    sr = 48000
    t = np.arange(sr * 2) / sr
    assert not seam_ok(np.sin(2 * np.pi * 110.25 * t + 0.3))


# --- noise -----------------------------------------------------------------


@pytest.mark.parametrize("sr", SRS)
@pytest.mark.parametrize("color", NOISE_COLORS)
def test_noise_seamless_level_deterministic(color, sr):
    x = noise_loop(color, sr, seconds=4.0, seed=3)
    assert_float32_mono(x)
    assert len(x) == round(4.0 * sr)
    assert seam_ok(x)
    assert abs(db(rms(x) / LOOP_RMS)) < 0.1
    assert np.array_equal(x, noise_loop(color, sr, seconds=4.0, seed=3))
    assert not np.array_equal(x, noise_loop(color, sr, seconds=4.0, seed=4))


@pytest.mark.parametrize("sr", SRS)
@pytest.mark.parametrize("color, slope", [("white", 0.0), ("pink", -3.0), ("brown", -6.0)])
def test_noise_spectral_slope(color, slope, sr):
    x = noise_loop(color, sr, seconds=8.0)
    assert abs(octave_slope_db(x, sr) - slope) < 1.5


@pytest.mark.parametrize("color", NOISE_COLORS)
def test_noise_has_no_dc_or_rumble(color):
    sr = 48000
    x = noise_loop(color, sr, seconds=8.0).astype(np.float64)
    assert abs(x.mean()) < 1e-6
    power = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1.0 / sr)
    # Brown noise rises 6 dB/oct towards DC: without a steep high-pass most of
    # its power would sit below 20 Hz, where it is rumble, not sound.
    assert power[f < 15].sum() < 0.005 * power.sum()
    assert power[f < 25].sum() < 0.15 * power.sum()


def test_noise_seams_hold_for_many_seeds():
    for seed in range(20):
        assert seam_ok(noise_loop("pink", 22050, seconds=1.0, seed=seed), factor=5.0)


def test_noise_rejects_unknown_colour():
    with pytest.raises(ValueError, match="pink"):
        noise_loop("purple", 48000)


# --- sound loops from files ------------------------------------------------


def _raw_recording(sr, seconds, stereo=False):
    """A sine that is NOT a whole number of cycles, plus seeded noise: a raw
    recording whose own wrap would click."""
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * sr)) / sr
    left = 0.4 * np.sin(2 * np.pi * 441.3 * t + 0.4) + 0.05 * rng.standard_normal(len(t))
    if not stereo:
        return left
    right = 0.3 * np.sin(2 * np.pi * 441.3 * t + 0.9) + 0.05 * rng.standard_normal(len(t))
    return np.stack([left, right], axis=1)


def test_sound_loop_is_seamless_and_normalised(tmp_path):
    sr = 48000
    raw = _raw_recording(sr, 4.37)
    assert not seam_ok(raw)  # the check has teeth: the raw file clicks
    path = tmp_path / "rain.wav"
    soundfile.write(str(path), raw, sr, subtype="PCM_16")
    x = sound_loop(path, sr)
    assert_float32_mono(x)
    fade = round(generators.SOUND_CROSSFADE_SECONDS * sr)
    assert len(x) == len(raw) - fade
    assert seam_ok(x)
    assert abs(db(rms(x) / LOOP_RMS)) < 0.1
    assert np.array_equal(x, sound_loop(path, sr))


def test_sound_loop_stereo_resampled(tmp_path):
    path = tmp_path / "stream.flac"
    soundfile.write(str(path), _raw_recording(44100, 3.0, stereo=True), 44100)
    x = sound_loop(path, 48000)
    assert_float32_mono(x)
    resampled = round(3.0 * 44100 * 48000 / 44100)
    assert abs(len(x) - (resampled - round(generators.SOUND_CROSSFADE_SECONDS * 48000))) <= 2
    assert seam_ok(x)
    # The pitch survives resampling (441.3 Hz, not shifted by 48/44.1).
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64)))
    peak = np.fft.rfftfreq(len(x), 1 / 48000)[np.argmax(spectrum)]
    assert abs(peak - 441.3) < 1.0


def test_sound_loop_already_looping_file_does_not_swell(tmp_path):
    """Head and tail of a file that already loops are correlated: an
    equal-power crossfade would bulge by up to 3 dB. It must not."""
    sr = 22050
    n = 4 * sr
    t = np.arange(n) / sr
    raw = 0.5 * np.sin(2 * np.pi * 220.0 * t)  # whole cycles: a perfect loop
    path = tmp_path / "loop.wav"
    soundfile.write(str(path), raw, sr, subtype="FLOAT")
    x = sound_loop(path, sr).astype(np.float64)
    fade = round(generators.SOUND_CROSSFADE_SECONDS * sr)
    middle = slice(fade // 4, 3 * fade // 4)
    assert abs(db(rms(x[middle]) / rms(x[fade:]))) < 0.3


def test_sound_loop_short_file_uses_a_shorter_crossfade(tmp_path):
    sr = 22050
    path = tmp_path / "short.wav"
    soundfile.write(str(path), _raw_recording(sr, 0.8), sr)
    x = sound_loop(path, sr)
    assert len(x) == round(0.8 * sr) - round(0.8 * sr) // 4
    assert seam_ok(x)


def test_sound_loop_errors(tmp_path):
    with pytest.raises(SoundLoopError, match="cannot read"):
        sound_loop(tmp_path / "missing.wav", 48000)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a sound file at all")
    with pytest.raises(SoundLoopError):
        sound_loop(bad, 48000)
    silent = tmp_path / "silent.wav"
    soundfile.write(str(silent), np.zeros(48000), 48000)
    with pytest.raises(SoundLoopError, match="silent"):
        sound_loop(silent, 48000)
    tiny = tmp_path / "tiny.wav"
    soundfile.write(str(tiny), np.ones(100) * 0.1, 48000)
    with pytest.raises(SoundLoopError, match="short"):
        sound_loop(tiny, 48000)


def test_sound_loop_keeps_its_pitch_without_soxr(monkeypatch, tmp_path):
    """On ARMv6 there is no soxr: a sound file still loops at its own pitch, at the right level."""
    import voiceguide.synth.resample as rs

    monkeypatch.setattr(rs, "_soxr", None)
    sr_in, sr_out = 44100, 48000
    t = np.arange(2 * sr_in) / sr_in
    path = tmp_path / "tone.wav"
    soundfile.write(str(path), 0.5 * np.sin(2 * np.pi * 1000.0 * t), sr_in)
    y = sound_loop(path, sr_out)
    fade = min(round(generators.SOUND_CROSSFADE_SECONDS * sr_out), 2 * sr_out // 4)  # a quarter at most
    assert len(y) == 2 * sr_out - fade
    peak = np.fft.rfftfreq(len(y), 1 / sr_out)[np.argmax(np.abs(np.fft.rfft(y)))]
    assert abs(peak - 1000.0) < 1.5
    assert abs(rms(y) - LOOP_RMS) < 0.01


# --- bells -----------------------------------------------------------------


@pytest.mark.parametrize("sr", SRS)
@pytest.mark.parametrize("kind", BELL_KINDS)
def test_bell_shape(kind, sr):
    x = bell(kind, sr)
    assert_float32_mono(x)
    assert len(x) == round(BELL_SECONDS[kind] * sr)
    assert x[0] == 0.0
    assert x[-1] == 0.0
    assert np.max(np.abs(x)) == 1.0
    x64 = x.astype(np.float64)
    # It decays: the last second is at least 30 dB below the first.
    assert db(rms(x64[-sr:]) / rms(x64[:sr])) <= -30.0
    # No click: a raised-cosine attack. The first samples barely move, and the
    # first 2 ms never step further than the ringing that follows.
    d = np.abs(np.diff(x64))
    assert d[: int(0.00025 * sr)].max() < 0.01
    assert np.abs(x64[: int(0.0005 * sr)]).max() < 0.1
    two_ms = int(0.002 * sr)
    assert d[:two_ms].max() <= 0.75 * d[two_ms: int(0.05 * sr)].max()
    # And it fades smoothly to its final zero.
    assert np.abs(x64[-int(0.01 * sr):]).max() < 0.01


def test_bells_are_deterministic_and_distinct():
    sr = 22050
    bowl = bell("bowl", sr)
    assert np.array_equal(bowl, bell("bowl", sr))
    centroid = {}
    for kind in BELL_KINDS:
        x = bell(kind, sr).astype(np.float64)
        p = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1.0 / sr)
        centroid[kind] = float((p * f).sum() / p.sum())
    assert centroid["gong"] < centroid["bowl"] < centroid["chime"]


def test_bell_unknown_kind():
    with pytest.raises(ValueError, match="bowl"):
        bell("cowbell", 48000)


# --- pacer -----------------------------------------------------------------


@pytest.mark.parametrize("sr", SRS)
def test_pacer_pitch_follows_the_breath(sr):
    inhale, hold, exhale, hold_out = 4.0, 1.0, 6.0, 2.0
    x = pacer_cycle(inhale, hold, exhale, hold_out, sr)
    assert_float32_mono(x)
    assert len(x) == round((inhale + hold + exhale + hold_out) * sr)
    assert x[0] == 0.0 and x[-1] == 0.0
    assert np.max(np.abs(x)) == 1.0
    w = 0.25
    hz = zero_crossing_hz(x, sr, w)
    at = lambda t0, t1: hz[int(t0 / w): int(t1 / w)]  # noqa: E731
    rising = at(0.0, inhale)
    falling = at(inhale + hold, inhale + hold + exhale)
    assert np.all(np.diff(rising) >= -2.0) and rising[-1] - rising[0] > 70
    assert np.all(np.diff(falling) <= 2.0) and falling[0] - falling[-1] > 70
    assert 195 <= rising[0] <= 215 and 285 <= rising[-1] <= 305
    assert np.all(np.abs(at(inhale, inhale + hold) - 300.0) < 5)
    assert 195 <= falling[-1] <= 215
    # hold_out is silence.
    assert not np.any(x[round((inhale + hold + exhale) * sr):])


def test_pacer_loudness_swells_and_fades():
    sr = 22050
    x = pacer_cycle(4.0, 2.0, 4.0, 0.0, sr).astype(np.float64)
    level = np.sqrt(np.mean(x.reshape(50, -1) ** 2, axis=1))  # 0.2 s frames
    assert level[1] < level[10] < level[19]  # swells on the inhale
    assert np.ptp(level[21:29]) < 0.02  # steady on the hold
    assert level[49] < 0.5 * level[40] < level[31]  # fades on the exhale


def test_pacer_cycles_concatenate_without_clicks():
    sr = 48000
    x = pacer_cycle(3.0, 0.0, 3.0, 0.0, sr)
    assert x[0] == 0.0 and x[-1] == 0.0
    two = np.concatenate([x, x]).astype(np.float64)
    d = np.abs(np.diff(two))
    seam = d[len(x) - 50: len(x) + 50].max()
    assert seam < 0.01  # silence-ish at the seam, no step
    assert np.abs(np.diff(x.astype(np.float64), 2)).max() < 0.02  # phase-continuous


def test_pacer_length_rounding_and_edge_cases():
    sr = 44100
    assert len(pacer_cycle(4.3, 0.7, 5.9, 1.1, sr)) == round((4.3 + 0.7 + 5.9 + 1.1) * sr)
    x = pacer_cycle(0.0, 2.0, 0.0, 0.0, sr)  # hold only: still soft edges
    assert x[0] == 0.0 and x[-1] == 0.0 and np.max(np.abs(x)) == 1.0
    with pytest.raises(ValueError):
        pacer_cycle(-1.0, 0.0, 4.0, 0.0, sr)
    with pytest.raises(ValueError):
        pacer_cycle(0.0, 0.0, 0.0, 4.0, sr)


# --- tick ------------------------------------------------------------------


@pytest.mark.parametrize("sr", SRS)
def test_tick(sr):
    x = tick(sr)
    assert_float32_mono(x)
    assert 0.04 * sr <= len(x) <= 0.08 * sr
    assert x[0] == 0.0 and x[-1] == 0.0
    assert np.max(np.abs(x)) == 1.0
    assert np.array_equal(x, tick(sr))
    x64 = x.astype(np.float64)
    # Fast decay: the last third is quiet.
    assert np.abs(x64[2 * len(x) // 3:]).max() < 0.05
    # Muted: most energy below 2.5 kHz.
    p = np.abs(np.fft.rfft(x64)) ** 2
    f = np.fft.rfftfreq(len(x64), 1.0 / sr)
    assert p[f < 2500].sum() > 0.9 * p.sum()
