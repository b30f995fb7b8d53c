"""Every sound that is not speech: drones, noise beds, sound loops, bells, the
breathing pacer and the walking tick, as pure numpy generators.

All functions return a fresh, C-contiguous ``float32`` mono array at the sample
rate ``sr`` they are given (48000 in use; 44100 and 22050 work too). They are
deterministic (fixed seeds, fixed phases) and vectorised (no per-sample Python
loops), so the same script always gives the same samples and building a whole
ambient bed costs a fraction of a second.

Two kinds of buffer, two level conventions
------------------------------------------

**Loops** (:func:`drone_loop`, :func:`noise_loop`, :func:`sound_loop`) are
played for the whole session by indexing them *modulo their length*. That is
what keeps ambient cheap (hundreds of times real time): nothing is
synthesised while the session runs. It only works if the last sample flows
into the first one exactly as any sample flows into the next, so every loop
here is built from components that are periodic in the loop length:

- drones from sinusoids whose frequencies (partials, detuned chorus copies and
  the slow amplitude LFOs alike) are rounded to a *whole number of cycles per
  loop*;
- noise shaped in the frequency domain (``rfft`` bins -> ``irfft``), whose
  result is circular by construction;
- sound files with their tail crossfaded into their head.

Loops are normalised to an RMS of exactly ``1/sqrt(2)`` (:data:`LOOP_RMS`),
the RMS of a full-scale sine, i.e. 0 dB. The mixer multiplies a loop by
``10 ** (level_db / 20)``, so a layer at ``-30 dB`` is as loud (by RMS) as a
-30 dBFS sine, whatever its colour or timbre.

Trap: a loop's *peak* is not bounded by 1.0. Noise has a crest factor of
about 4 (peaks near +-3 at this RMS), a drone about 1.4. Scale first,
then limit; never clip a loop to [-1, 1] before applying its level.

**One-shots** (:func:`bell`, :func:`pacer_cycle`, :func:`tick`) are
normalised to a peak of exactly 1.0; the mixer scales them. They begin at
exactly 0.0 with a raised-cosine attack (no click) and end at exactly 0.0,
so they can be dropped into the mix, or concatenated (pacer cycles, ticks),
at any sample without an edge.

Traps
-----

- Lengths are whole samples, computed with :func:`round` from seconds, the
  same way the timeline does (``round(seconds * sr)``). A bell lasts exactly
  ``round(BELL_SECONDS[kind] * sr)`` samples and a pacer cycle exactly
  ``round((inhale + hold + exhale + hold_out) * sr)`` samples: the timeline
  relies on that, do not "improve" it with ``ceil``.
- A drone's frequencies are quantised to ``1 / seconds`` Hz (1/30 Hz for the
  default 30 s loop): far below what anyone can hear, but a drone is *not*
  exactly at ``hz``. The LFO rates are quantised the same way, so loops much
  shorter than ~20 s turn the slow movement into a faster tremolo.
- Noise is deterministic per ``(color, sr, seconds, seed)`` and per numpy
  version (``numpy.random.default_rng``, PCG64). Give two noise layers in one
  session different seeds or they will be identical and sum coherently.
- Buffers are returned fresh; the mixer may cache them, but should not write
  into a cached array shared between layers.
- Nothing here touches an audio device; only :func:`sound_loop` does I/O (it
  reads one file, streamed, and refuses one longer than
  :data:`MAX_SOUND_SECONDS`).
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Dict, Sequence, Tuple

import numpy as np

from ..errors import VoiceguideError
from . import dsp
from ..script.model import BELL_KINDS, BELL_SECONDS, NOISE_COLORS
from ..script.units import format_duration

__all__ = [
    "LOOP_RMS",
    "SoundLoopError",
    "drone_loop",
    "noise_loop",
    "sound_loop",
    "bell",
    "pacer_cycle",
    "tick",
]

#: RMS of every loop: that of a full-scale sine, so "0 dB" means the same for
#: a drone, a noise bed and a sound file.
LOOP_RMS = 1.0 / math.sqrt(2.0)

#: Noise and drones are high-passed here so there is no DC and no sub-bass
#: rumble that small speakers cannot play and headphones make oppressive.
NOISE_HIGHPASS_HZ = 25.0

#: Crossfade of a sound file's tail into its head (shortened for short files).
SOUND_CROSSFADE_SECONDS = 0.75
#: The longest sound file a loop is made from, and its highest sample rate:
#: the loop is held in memory whole (about 58 MB for five minutes at 48 kHz,
#: and as much again while it is resampled), and a Pi Zero 2 W has 512 MB.
MAX_SOUND_SECONDS = 300.0
MAX_SOUND_RATE = 192_000
#: Frames decoded per read: a bounded buffer, whatever the file's channels.
_READ_FRAMES = 1 << 16

#: Pacer pitch: up a fifth on the inhale, back down on the exhale.
PACER_LOW_HZ = 200.0
PACER_HIGH_HZ = 300.0

TICK_SECONDS = 0.06

_TWO_PI = 2.0 * math.pi


class SoundLoopError(VoiceguideError):
    """A sound file for an ambient loop cannot be read or is unusable."""


# --- helpers ---------------------------------------------------------------


def _check_sr(sr: int) -> int:
    if not _is_finite_number(sr) or int(sr) != sr or sr < 8000:
        raise ValueError(f"sample rate must be an integer >= 8000, got {sr!r}")
    return int(sr)


def _is_finite_number(x: object) -> bool:
    """A real, finite number (numpy scalars included, bool excluded)."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _n_samples(seconds: float, sr: int, what: str) -> int:
    if not _is_finite_number(seconds) or seconds <= 0:
        raise ValueError(f"{what} must be a positive number of seconds, got {seconds!r}")
    n = int(round(seconds * sr))
    if n < 2:
        raise ValueError(f"{what} of {seconds!r} s is shorter than two samples at {sr} Hz")
    return n


def _normalise_rms(x: np.ndarray, target: float = LOOP_RMS) -> np.ndarray:
    """Scale (in float64) to RMS *target* and return float32."""
    rms = math.sqrt(float(np.mean(np.square(x, dtype=np.float64))))
    if not rms > 0.0 or not math.isfinite(rms):
        raise ValueError("cannot normalise a silent or non-finite signal")
    return np.ascontiguousarray(x * (target / rms), dtype=np.float32)


def _normalise_peak(x: np.ndarray) -> np.ndarray:
    """Scale (in float64) to a peak of exactly 1.0 and return float32.

    ``p / p`` is exactly 1.0 in IEEE arithmetic, and 1.0 is exact in float32,
    so the loudest sample really is 1.0, not 0.99999994.
    """
    peak = float(np.max(np.abs(x)))
    if not peak > 0.0:
        raise ValueError("cannot normalise a silent signal")
    return np.ascontiguousarray(x / peak, dtype=np.float32)


# --- loops -----------------------------------------------------------------

#: Drone partials: (harmonic number, gain dB, LFO Hz, LFO depth, phase).
_DRONE_PARTIALS: Tuple[Tuple[int, float, float, float, float], ...] = (
    (1, 0.0, 0.07, 0.12, 0.0),
    (2, -12.0, 0.11, 0.35, 1.3),
    (3, -20.0, 0.16, 0.45, 2.1),  # the fifth an octave up, very quiet
    (4, -30.0, 0.13, 0.50, 0.4),
)
#: Chorus: detuned copies of the fundamental and octave (Hz offset, gain dB).
_DRONE_CHORUS: Tuple[Tuple[int, float, float, float], ...] = (
    # harmonic, detune Hz, gain dB, phase
    (1, +0.13, -20.0, 0.7),
    (1, -0.09, -22.0, 2.9),
    (2, +0.21, -24.0, 4.0),
)
#: A slow swell of the whole drone.
_DRONE_SWELL_HZ, _DRONE_SWELL_DEPTH = 0.05, 0.08


def drone_loop(hz: float, sr: int, seconds: float = 30.0) -> np.ndarray:
    """A warm, slowly moving tonal bed at ``hz``, seamless over its length.

    The fundamental is joined by soft harmonics (2x at -12 dB, 3x at -20 dB,
    4x at -30 dB), two slightly detuned copies of the fundamental that beat
    slowly against it (a gentle chorus), and an independent slow amplitude
    LFO (0.05-0.2 Hz) on each partial, so it breathes instead of sounding
    like a test tone.

    Seamless because *every* frequency, LFOs and detunings included, is
    rounded to a whole number of cycles per loop (a resolution of
    ``1/seconds`` Hz): the buffer is exactly one period of its own content,
    and the mixer may index it modulo ``len()`` forever.

    Returns ``round(seconds * sr)`` float32 samples at RMS ``1/sqrt(2)``
    (peak a little above 1; see the module notes). Partials at or above 45%
    of ``sr`` are left out, so there is no aliasing at any sample rate.
    """
    sr = _check_sr(sr)
    n = _n_samples(seconds, sr, "drone loop length")
    if not _is_finite_number(hz) or hz <= 0:
        raise ValueError(f"drone frequency must be a positive number of Hz, got {hz!r}")
    nyquist_limit = 0.45 * sr
    if hz >= nyquist_limit:
        raise ValueError(f"drone frequency {hz} Hz is too high for {sr} Hz audio")
    duration = n / sr

    def cycles(freq: float) -> int:
        return max(1, int(round(freq * duration)))

    k0 = cycles(hz)
    # Each component is a phasor c at a whole number of cycles k per loop:
    # x(m) = sum Re(c * exp(2j pi k m / n)). Products of sinusoids (the LFOs,
    # the swell) are sums of such components too, so the whole drone is a
    # sparse spectrum, made real by one inverse FFT: exact periodicity, and
    # a peak memory of two buffers instead of one per partial.
    tones: Dict[int, complex] = {}

    def add(into: Dict[int, complex], k: int, c: complex) -> None:
        if k < 0:
            k, c = -k, c.conjugate()
        into[k] = into.get(k, 0j) + c

    def sin_phasor(amp: float, phase: float) -> complex:
        return amp * complex(math.cos(phase - math.pi / 2), math.sin(phase - math.pi / 2))

    def modulate(signal: Dict[int, complex], k_mod: int, depth: float, phase: float) -> Dict[int, complex]:
        """signal * (1 + depth * sin(2 pi k_mod m / n + phase))."""
        mod = sin_phasor(depth, phase)
        result: Dict[int, complex] = {}
        for k, c in signal.items():
            add(result, k, c)
            add(result, k + k_mod, 0.5 * c * mod)
            add(result, k - k_mod, 0.5 * c * mod.conjugate())
        return result

    for harmonic, gain_db, lfo_hz, depth, phase in _DRONE_PARTIALS:
        k = harmonic * k0
        if k / duration >= nyquist_limit:
            continue
        partial = {k: sin_phasor(dsp.db_to_gain(gain_db), phase)}
        for key, c in modulate(partial, cycles(lfo_hz), depth, phase).items():
            add(tones, key, c)
    for harmonic, detune_hz, gain_db, phase in _DRONE_CHORUS:
        # At least one cycle away from the partial, never onto or below 0 Hz.
        step = max(1, int(round(abs(detune_hz) * duration)))
        k = harmonic * k0 + (step if detune_hz > 0 else -step)
        if k < 1 or k / duration >= nyquist_limit:
            continue
        add(tones, k, sin_phasor(dsp.db_to_gain(gain_db), phase))
    tones = modulate(tones, cycles(_DRONE_SWELL_HZ), _DRONE_SWELL_DEPTH, 0.5)

    spectrum = np.zeros(n // 2 + 1, dtype=np.complex64)  # numpy >= 2 transforms in single precision
    for k, c in tones.items():
        if 0 < k < len(spectrum):
            spectrum[k] += c * (n / 2.0)
    out = np.fft.irfft(spectrum, n)
    del spectrum
    return _normalise_rms(out.astype(np.float32, copy=False))


#: Gentle first-order high-frequency roll-off per colour (None = flat).
_NOISE_ROLLOFF_HZ = {"white": None, "pink": 10000.0, "brown": 8000.0}
_NOISE_SLOPE = {"white": 0.0, "pink": -0.5, "brown": -1.0}  # amplitude exponent of f


def noise_loop(color: str, sr: int, seconds: float = 20.0, seed: int = 0) -> np.ndarray:
    """A seamless noise bed: ``white``, ``pink`` (-3 dB/oct) or ``brown`` (-6 dB/oct).

    Built in the frequency domain: seeded complex Gaussian spectrum, each bin
    multiplied by ``1``, ``1/sqrt(f)`` or ``1/f``, a 4th-order high-pass at
    25 Hz (no DC, no rumble: steep, because brown noise rises 6 dB/oct
    towards it) and, for pink and brown, a gentle first-order
    high-frequency roll-off, then ``irfft``. An inverse DFT is periodic in its
    length, so the loop is circular: no seam, no crossfade needed.

    Returns ``round(seconds * sr)`` float32 samples at RMS ``1/sqrt(2)``.
    Peaks reach about +-3 (Gaussian crest factor): scale before limiting.
    Identical arguments give identical samples; use different ``seed`` values
    for two noise layers in one session.
    """
    if color not in NOISE_COLORS:
        raise ValueError(f"unknown noise colour {color!r}; expected one of {', '.join(NOISE_COLORS)}")
    sr = _check_sr(sr)
    n = _n_samples(seconds, sr, "noise loop length")
    rng = np.random.default_rng([0x6E6F697365, int(seed)])  # "noise", seed
    n_bins = n // 2 + 1
    # Single precision throughout: a 20 s loop at 48 kHz then peaks at about
    # 20 MB instead of 60 (it matters on a Pi Zero 2 W with 512 MB).
    spectrum = np.empty(n_bins, dtype=np.complex64)
    spectrum.real = rng.standard_normal(n_bins, dtype=np.float32)
    spectrum.imag = rng.standard_normal(n_bins, dtype=np.float32)
    f = np.fft.rfftfreq(n, 1.0 / sr).astype(np.float32)
    gain = np.maximum(f, f[1] if n_bins > 1 else 1.0) ** np.float32(_NOISE_SLOPE[color])
    r = (f / np.float32(NOISE_HIGHPASS_HZ)) ** 4
    gain *= r / np.sqrt(1.0 + r * r)  # |H| of a 4th-order Butterworth high-pass
    del r
    rolloff = _NOISE_ROLLOFF_HZ[color]
    if rolloff is not None:
        gain /= np.sqrt(1.0 + (f / np.float32(rolloff)) ** 2)
    del f
    gain[0] = 0.0  # no DC
    spectrum *= gain
    del gain
    return _normalise_rms(np.fft.irfft(spectrum, n))


def sound_loop(path: Path, sr: int) -> np.ndarray:
    """A sound file made into a seamless loop.

    The file is read with soundfile (any format libsndfile knows, whatever
    its extension), mixed to mono (channel mean), resampled to ``sr`` with a
    proper band-limited resampler, its DC removed, and its last ``F`` samples
    (0.75 s, at most a quarter of the file) crossfaded into its first ``F``.
    The result is ``F`` samples shorter than the file; its last sample is
    followed, in the original recording, by what is now its first sample, so
    playing it modulo its length has no seam.

    The crossfade is equal-power (``sin``/``cos``) for uncorrelated material,
    which is what a field recording's head and tail are. Trap: if the file is
    already a loop, head and tail are correlated and equal-power fading would
    swell by up to 3 dB; the gains are therefore corrected for the measured
    correlation (equal-gain when it is fully correlated).

    Returns float32 at RMS ``1/sqrt(2)``. Raises :class:`SoundLoopError` when
    the file cannot be read, is silent, is too short (under 0.1 s), or is
    longer than :data:`MAX_SOUND_SECONDS` (checked from its header before
    anything is decoded: a multi-gigabyte file costs nothing to refuse).

    Memory: the file is decoded block by block straight into one float32 mono
    buffer (never the whole file as float64 or as all its channels), then
    resampled into another: five minutes at 48 kHz is about 58 MB each.
    """
    import soundfile

    sr = _check_sr(sr)
    path = Path(path)
    try:
        with soundfile.SoundFile(str(path)) as f:
            file_sr, frames, channels = int(f.samplerate), int(f.frames), int(f.channels)
            _check_sound_size(path, file_sr, frames)
            x = np.empty(frames, dtype=np.float32)
            block = np.empty((min(frames, _READ_FRAMES), channels), dtype=np.float32)
            done = 0
            while done < frames:
                got = len(f.read(min(_READ_FRAMES, frames - done), dtype="float32", out=block))
                if got == 0:
                    break  # the header promised more than the file holds
                np.mean(block[:got], axis=1, out=x[done:done + got])
                done += got
    except SoundLoopError:
        raise
    except Exception as exc:  # LibsndfileError, RuntimeError, OSError ...
        raise SoundLoopError(f"cannot read sound loop {str(path)!r}: {exc}") from exc
    x = x[:done]
    if len(x) < 0.1 * file_sr:
        raise SoundLoopError(f"sound loop {str(path)!r} is too short to loop (under 0.1 s)")
    if file_sr != sr:
        x = dsp.resample(x, file_sr, sr)
    x -= np.float32(np.mean(x, dtype=np.float64))
    if not np.any(x) or not np.all(np.isfinite(x)):
        raise SoundLoopError(f"sound loop {str(path)!r} is silent or unreadable")

    n = len(x)
    fade = min(int(round(SOUND_CROSSFADE_SECONDS * sr)), n // 4)
    head, tail = x[:fade].astype(np.float64), x[n - fade:].astype(np.float64)
    denom = math.sqrt(float(np.dot(head, head)) * float(np.dot(tail, tail)))
    rho = float(np.dot(head, tail)) / denom if denom > 0 else 0.0
    rho = min(max(rho, 0.0), 1.0)
    theta = (0.5 * np.pi) * np.arange(fade) / fade
    g_in, g_out = np.sin(theta), np.cos(theta)
    # Constant power for partially correlated signals:
    # g_in^2 + g_out^2 + 2 rho g_in g_out = 1.
    norm = 1.0 / np.sqrt(1.0 + rho * np.sin(2.0 * theta))
    out = x[: n - fade]
    out[:fade] = (head * g_in + tail * g_out) * norm
    # As _normalise_rms, without its float64 copy of the whole loop.
    squares = sum(float(np.dot(c, c)) for c in
                  (out[i:i + _READ_FRAMES].astype(np.float64) for i in range(0, len(out), _READ_FRAMES)))
    rms = math.sqrt(squares / len(out))
    if not rms > 0.0 or not math.isfinite(rms):
        raise SoundLoopError(f"sound loop {str(path)!r} is silent")
    out *= LOOP_RMS / rms
    return np.ascontiguousarray(out)


def _check_sound_size(path: Path, file_sr: int, frames: int) -> None:
    """Refuse, from the header alone, a file too long (or too fast) to loop within our memory."""
    if not 0 < file_sr <= MAX_SOUND_RATE:
        raise SoundLoopError(f"sound loop {str(path)!r} has a sample rate of {file_sr} Hz; "
                             f"use a file at {MAX_SOUND_RATE} Hz or less")
    if frames > MAX_SOUND_SECONDS * file_sr:
        limit = format_duration(MAX_SOUND_SECONDS)
        raise SoundLoopError(f"sound loop {str(path)!r} lasts {format_duration(frames / file_sr)}; "
                             f"a sound loop may last at most {limit} (it is held in memory "
                             f"whole): cut a shorter one, a minute or two loops well")


# --- one-shots -------------------------------------------------------------

# A partial: (ratio to the fundamental, amplitude, decay time constant s,
#             beat offset Hz, beat partner amplitude relative, bloom rise s).
_Partial = Tuple[float, float, float, float, float, float]

_BELLS = {
    # Singing bowl: inharmonic 1 : 2.71 : 5.13 : 8.21, each mode split into a
    # slowly beating pair (the bowl's characteristic "wah"), long decay.
    "bowl": dict(
        f0=216.0,
        attack=0.004,
        glide=(0.0, 1.0),
        partials=(
            (1.000, 1.00, 1.30, 0.85, 0.75, 0.0),
            (2.710, 0.50, 0.95, 1.60, 0.70, 0.0),
            (5.130, 0.22, 0.60, 2.40, 0.60, 0.0),
            (8.210, 0.10, 0.35, 3.10, 0.50, 0.0),
            (11.90, 0.05, 0.12, 0.00, 0.00, 0.0),
            (15.60, 0.03, 0.05, 0.00, 0.00, 0.0),
        ),
    ),
    # Chime (a struck bar/tube: 1 : 2.756 : 5.404 : 8.933), brighter, shorter.
    "chime": dict(
        f0=784.0,
        attack=0.003,
        glide=(0.0, 1.0),
        partials=(
            (1.000, 1.00, 0.48, 0.35, 0.40, 0.0),
            (2.756, 0.45, 0.32, 0.60, 0.35, 0.0),
            (5.404, 0.22, 0.18, 0.00, 0.00, 0.0),
            (8.933, 0.10, 0.09, 0.00, 0.00, 0.0),
            (13.34, 0.04, 0.04, 0.00, 0.00, 0.0),
        ),
    ),
    # Gong: low, a dense inharmonic cluster, some modes blooming in after the
    # strike, pitch gliding down ~2% as it settles, long decay.
    "gong": dict(
        f0=82.0,
        attack=0.005,
        glide=(0.02, 1.2),
        partials=(
            (1.000, 1.00, 1.90, 0.30, 0.60, 0.0),
            (1.480, 0.70, 1.60, 0.45, 0.50, 0.08),
            (1.980, 0.55, 1.40, 0.00, 0.00, 0.15),
            (2.440, 0.45, 1.20, 0.70, 0.40, 0.25),
            (2.930, 0.30, 1.00, 0.00, 0.00, 0.30),
            (3.610, 0.22, 0.80, 0.90, 0.40, 0.20),
            (4.460, 0.15, 0.60, 0.00, 0.00, 0.10),
            (5.100, 0.10, 0.45, 0.00, 0.00, 0.0),
            (7.300, 0.05, 0.15, 0.00, 0.00, 0.0),
        ),
    ),
}

#: Every bell ends with a raised-cosine fade to exact zero over this long.
BELL_FADE_SECONDS = 0.3


def bell(kind: str, sr: int) -> np.ndarray:
    """A struck bell: ``bowl``, ``chime`` or ``gong``.

    Struck metal rings in inharmonic modes, each decaying exponentially at
    its own rate (higher modes die faster, which is why the sound mellows as
    it rings). Each mode here may be split into a pair a fraction of a hertz
    apart, which beat slowly as real bowls do; the gong's modes bloom in
    over a few hundred milliseconds and its pitch glides down slightly
    (computed in closed form, phase-continuous).

    The buffer is exactly ``round(BELL_SECONDS[kind] * sr)`` samples: the
    bell step lasts as long as the bell rings. It starts at exactly 0.0 with
    a 3-5 ms raised-cosine attack (a soft mallet, no click) and ends at
    exactly 0.0 after a raised-cosine fade over the last 0.3 s, so cutting it
    off at the step's end is silent. Peak exactly 1.0.
    """
    if kind not in BELL_KINDS:
        raise ValueError(f"unknown bell {kind!r}; expected one of {', '.join(BELL_KINDS)}")
    sr = _check_sr(sr)
    spec = _BELLS[kind]
    n = int(round(BELL_SECONDS[kind] * sr))
    t = np.arange(n) / sr
    glide_amount, glide_tau = spec["glide"]
    # Integral of f(t) = f (1 + g e^(-t/tau)) dt, so the phase is exact.
    warped_t = t + glide_amount * glide_tau * (1.0 - np.exp(-t / glide_tau))
    nyquist_limit = 0.45 * sr
    out = np.zeros(n)
    for i, (ratio, amp, tau, beat_hz, beat_amp, bloom) in enumerate(spec["partials"]):
        f = spec["f0"] * ratio
        if f * (1.0 + glide_amount) >= nyquist_limit:
            continue
        envelope = amp * np.exp(-t / tau)
        if bloom > 0:
            envelope *= 1.0 - np.exp(-t / bloom)
        phase = 0.9 * i  # fixed, spread phases: a deterministic, natural peak
        tone = np.sin(_TWO_PI * f * warped_t + phase)
        if beat_amp > 0:
            tone += beat_amp * np.sin(_TWO_PI * (f + beat_hz) * warped_t + phase + 1.7)
        out += envelope * tone
    attack = int(round(spec["attack"] * sr))
    out[:attack] *= dsp.rise(attack)
    fade = int(round(BELL_FADE_SECONDS * sr))
    out[n - fade:] *= dsp.fall(fade)
    out[0] = 0.0
    out[-1] = 0.0
    return _normalise_peak(out)


def _segment_bounds(durations: Sequence[float], sr: int) -> np.ndarray:
    """Sample boundaries of consecutive segments, rounded cumulatively.

    Rounding the running sum (not each duration) keeps the total exactly
    ``round(sum * sr)``, as the timeline computes it.
    """
    return np.array([0] + [int(round(s * sr)) for s in np.cumsum(durations)], dtype=np.int64)


def pacer_cycle(inhale: float, hold: float, exhale: float, hold_out: float, sr: int) -> np.ndarray:
    """One breath of the pacer: a soft tone that follows the breath.

    Inhale: the pitch glides up a fifth (200 -> 300 Hz, raised-cosine
    shaped) while the tone swells; hold: steady; exhale: the pitch glides
    back to 200 Hz while the tone recedes and fades out; hold_out: silence.
    The tone is a sine plus its octave at -14 dB in sine phase, which keeps
    it soft and has a useful property: ``sin(p) + a sin(2p)`` with
    ``a < 0.5`` crosses zero exactly where ``sin(p)`` does, so zero
    crossings give the pitch.

    Phase-continuous within the cycle (the frequency is integrated with
    ``cumsum``). The cycle starts at exactly 0.0 and its sound ends at exactly
    0.0 (raised-cosine edges), so cycles concatenate without clicks even when
    ``hold_out`` is 0. Length exactly ``round((inhale + hold + exhale +
    hold_out) * sr)`` samples, peak exactly 1.0.
    """
    sr = _check_sr(sr)
    parts = (inhale, hold, exhale, hold_out)
    for name, value in zip(("inhale", "hold", "exhale", "hold_out"), parts):
        if not _is_finite_number(value) or value < 0:
            raise ValueError(f"pacer {name} must be a non-negative number of seconds, got {value!r}")
    b = _segment_bounds(parts, sr)
    n = int(b[-1])
    sound_end = int(b[3])
    if sound_end < 2:
        raise ValueError("pacer cycle needs some inhale, hold or exhale")

    freq = np.full(n, PACER_LOW_HZ)
    level = np.zeros(n)
    quiet = 0.35  # level at the start of the inhale and the end of the exhale
    n_in, n_hold, n_ex = int(b[1] - b[0]), int(b[2] - b[1]), int(b[3] - b[2])
    if n_in:
        s = 0.5 - 0.5 * np.cos(np.pi * np.arange(n_in) / n_in)
        freq[: b[1]] = PACER_LOW_HZ + (PACER_HIGH_HZ - PACER_LOW_HZ) * s
        level[: b[1]] = quiet + (1.0 - quiet) * s
    if n_hold:
        freq[b[1]: b[2]] = PACER_HIGH_HZ if n_in else PACER_LOW_HZ
        level[b[1]: b[2]] = 1.0
    if n_ex:
        top = PACER_HIGH_HZ if n_in else PACER_LOW_HZ
        s = 0.5 + 0.5 * np.cos(np.pi * np.arange(1, n_ex + 1) / n_ex)
        freq[b[2]: b[3]] = PACER_LOW_HZ + (top - PACER_LOW_HZ) * s
        level[b[2]: b[3]] = quiet + (1.0 - quiet) * s

    # Edges: a prompt but soft onset, and a longer fade at the end of the sound.
    edge_in = min(int(round(0.06 * sr)), sound_end // 4)
    edge_out = min(int(round(0.3 * sr)), max(n_ex // 2, sound_end // 4))
    level[:edge_in] *= dsp.rise(edge_in)
    level[sound_end - edge_out: sound_end] *= dsp.fall(edge_out)

    phase = np.empty(n)
    phase[0] = 0.0
    np.cumsum(freq[:-1] * (_TWO_PI / sr), out=phase[1:])
    out = level * (np.sin(phase) + 0.2 * np.sin(2.0 * phase))
    out[0] = 0.0
    out[sound_end - 1:] = 0.0
    return _normalise_peak(out)


def tick(sr: int) -> np.ndarray:
    """A soft, muted tap for walking steps (60 ms).

    A damped 950 Hz sine with a quieter inharmonic partial (a small wooden
    knock) and a touch of low-passed noise for the contact, all dying within
    ~30 ms. 1.5 ms raised-cosine attack and a 10 ms fade to exactly 0.0 at the
    end; peak exactly 1.0. Deterministic (fixed noise seed).
    """
    sr = _check_sr(sr)
    n = int(round(TICK_SECONDS * sr))
    t = np.arange(n) / sr
    out = np.exp(-t / 0.009) * np.sin(_TWO_PI * 950.0 * t)
    out += 0.35 * np.exp(-t / 0.005) * np.sin(_TWO_PI * 1730.0 * t + 0.6)
    noise = np.random.default_rng(0x7469636B).standard_normal(n)  # "tick"
    spec = np.fft.rfft(noise)
    f = np.fft.rfftfreq(n, 1.0 / sr)
    spec /= 1.0 + (f / 1500.0) ** 2  # 2nd-order-ish low-pass: muted, not hissy
    noise = np.fft.irfft(spec, n)
    noise /= np.max(np.abs(noise))
    out += 0.25 * np.exp(-t / 0.003) * noise
    out[: int(round(0.0015 * sr))] *= dsp.rise(int(round(0.0015 * sr)))
    fade = int(round(0.01 * sr))
    out[n - fade:] *= dsp.fall(fade)
    out[0] = 0.0
    out[-1] = 0.0
    return _normalise_peak(out)


CUE_TONE_SECONDS = 0.4


def cue_tone(sr: int) -> np.ndarray:
    """The soft tone before a ``record`` step's recording: "you may speak now" (0.4 s).

    A 660 Hz sine with a quiet octave above it, a 20 ms raised-cosine attack
    and an exponential decay that has fallen by about 35 dB at the end,
    then a 50 ms fade to exactly 0.0, well before recording starts (the
    record step waits :data:`~voiceguide.script.model.RECORD_LEAD_SECONDS`),
    so the tone is not in the recording. Peak exactly 1.0.
    """
    sr = _check_sr(sr)
    n = int(round(CUE_TONE_SECONDS * sr))
    t = np.arange(n) / sr
    out = np.exp(-t / 0.1) * (np.sin(_TWO_PI * 660.0 * t) + 0.2 * np.sin(_TWO_PI * 1320.0 * t))
    attack = int(round(0.02 * sr))
    out[:attack] *= dsp.rise(attack)
    fade = int(round(0.05 * sr))
    out[n - fade:] *= dsp.fall(fade)
    out[0] = 0.0
    out[-1] = 0.0
    return _normalise_peak(out)
