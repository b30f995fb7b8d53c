"""Seamless tonal and noise beds: :func:`drone_loop` and :func:`noise_loop`.

Both are exactly periodic in their length (whole cycles per loop, or noise
shaped in the frequency domain), so the mixer can index them modulo their
length for a whole session.
"""

from __future__ import annotations

import math
from typing import Dict, Tuple

import numpy as np

from voiceguide.audio import dsp
from voiceguide.audio.generators._common import _check_sr, _is_finite_number, _n_samples, _normalise_rms
from voiceguide.script.model import NOISE_COLORS

#: Noise and drones are high-passed here so there is no DC and no sub-bass
#: rumble that small speakers cannot play and headphones make oppressive.
NOISE_HIGHPASS_HZ = 25.0

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
