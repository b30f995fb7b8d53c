"""Sample-rate conversion for speech clips, done once when a clip is cached.

Speech engines write at their own rate (espeak-ng: 22050 Hz) and the mixer
runs at the device rate (usually 48000 Hz). Converting 22050 -> 48000 Hz by
linear interpolation leaves mirror images of the speech band at 18-22 kHz:
inaudible to some, a harsh fizz to others, and it aliases again in any later
processing. Both resamplers here are proper band-limited interpolators whose
anti-imaging filter keeps everything above the source Nyquist frequency at
least 80 dB down.

* :func:`resample_soxr` - python-soxr at "HQ". Fast C with NEON/SSE. It has
  no wheel for ARMv6 (Raspberry Pi 1 and Zero), where it is not installed.
* :func:`resample_numpy` - a polyphase windowed-sinc (Kaiser) resampler in
  plain numpy, vectorised per filter phase (no per-sample Python loops). It
  is the fallback where soxr cannot be imported, and about as accurate, but
  several times slower; it only runs when a clip is cached, never while
  audio plays.

:func:`resample` picks soxr when importable, otherwise numpy.
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil

import numpy as np

try:  # pragma: no cover - depends on the platform
    import soxr as _soxr
except Exception:  # ImportError, or an ABI problem on an odd platform
    _soxr = None

__all__ = ["resample", "resample_numpy", "resample_soxr", "have_soxr"]

#: Stopband attenuation of the numpy resampler's Kaiser filter, in dB.
STOPBAND_DB = 90.0
#: Passband edge as a fraction of the lower of the two Nyquist frequencies;
#: the stopband starts exactly at that Nyquist frequency, so nothing above it
#: images or aliases. 0.85 keeps everything speech needs (9.4 kHz at 22050 Hz)
#: flat within a few thousandths of a dB.
PASSBAND = 0.85
#: Outputs per gathered block in :func:`resample_numpy` (bounds its memory).
_CHUNK = 4096


def have_soxr() -> bool:
    """True when python-soxr is importable (so :func:`resample` uses it)."""
    return _soxr is not None


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample mono ``x`` from ``from_rate`` to ``to_rate``; float32 result.

    Uses python-soxr ("HQ") when it is importable, else :func:`resample_numpy`.
    Equal rates return a float32 copy. The output holds about
    ``len(x) * to_rate / from_rate`` samples and is not delayed (both filters
    are linear-phase with their delay removed).
    """
    if _soxr is not None:
        return resample_soxr(x, from_rate, to_rate)
    return resample_numpy(x, from_rate, to_rate)


def _check(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected mono (1-D) samples, got shape {x.shape}")
    if int(from_rate) != from_rate or int(to_rate) != to_rate or from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive integers: {from_rate}, {to_rate}")
    return x


def resample_soxr(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample with python-soxr at "HQ" quality. Raises ImportError without it."""
    x = _check(x, from_rate, to_rate)
    if from_rate == to_rate or x.size == 0:
        return x.copy()
    if _soxr is None:
        raise ImportError("python-soxr is not installed (no wheel for ARMv6); use resample_numpy")
    y = _soxr.resample(x, int(from_rate), int(to_rate), quality="HQ")
    return np.ascontiguousarray(y, dtype=np.float32)


def _kaiser_beta(attenuation_db: float) -> float:
    a = attenuation_db
    if a > 50:
        return 0.1102 * (a - 8.7)
    if a >= 21:
        return 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21)
    return 0.0


def resample_numpy(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase windowed-sinc resampler (Kaiser window) in numpy.

    The ratio ``to/from`` is reduced to ``L/M``. Output sample ``n`` sits at
    input position ``n*M/L = base + p/L``; it is the dot product of the input
    around ``base`` with the sinc kernel sampled at offsets ``p/L + k``. All
    outputs sharing a residue ``n mod L`` share the phase ``p`` and read
    windows ``M`` input samples apart, so each phase is one strided gather and
    one matrix-vector product: the Python loop runs over the ``L`` phases
    (320 for 22050 -> 48000 Hz), never over samples.

    The kernel's cutoff sits between :data:`PASSBAND` of the lower Nyquist
    frequency and that Nyquist frequency itself (the stopband edge), with a
    Kaiser window for :data:`STOPBAND_DB` of attenuation. Each phase is
    normalised to unit DC gain, so no phase-dependent gain ripple leaks in as
    images.
    """
    x = _check(x, from_rate, to_rate)
    if from_rate == to_rate or x.size == 0:
        return x.copy()
    ratio = Fraction(int(to_rate), int(from_rate))
    up, down = ratio.numerator, ratio.denominator  # L, M
    # Filter in units of input samples: cutoffs relative to the input rate.
    nyq = 0.5 * min(1.0, up / down)          # lower Nyquist, cycles per input sample
    f_pass, f_stop = PASSBAND * nyq, nyq
    cutoff = 0.5 * (f_pass + f_stop)
    width = f_stop - f_pass
    beta = _kaiser_beta(STOPBAND_DB)
    taps = int(ceil((STOPBAND_DB - 7.95) / (14.36 * width))) + 1
    half = taps // 2 + 1                      # k runs over -half..half
    span = float(half + 1)                    # window half-width, beyond every tap

    n_out = int(ceil(x.size * up / down))
    width_w = 2 * half + 1
    pad = half + 1
    xpad = np.concatenate(
        [np.zeros(pad, np.float64), x.astype(np.float64), np.zeros(pad + 1, np.float64)]
    )
    windows = np.lib.stride_tricks.sliding_window_view(xpad, width_w)
    k = np.arange(half, -half - 1, -1, dtype=np.float64)  # reversed: matches window order
    y = np.empty(n_out, dtype=np.float64)
    i0_beta = np.i0(beta)
    for r in range(min(up, n_out)):
        q = r * down
        base, p = divmod(q, up)
        count = (n_out - 1 - r) // up + 1
        tau = p / up + k                      # kernel offsets for this phase
        h = 2 * cutoff * np.sinc(2 * cutoff * tau)
        h *= np.i0(beta * np.sqrt(np.clip(1.0 - (tau / span) ** 2, 0.0, None))) / i0_beta
        h /= h.sum()
        # window starting at base+1 holds x[base-half .. base+half]
        starts = base + 1 + down * np.arange(count)
        out = y[r::up]
        for c in range(0, count, _CHUNK):  # bound the gathered matrix's memory
            out[c:c + _CHUNK] = windows[starts[c:c + _CHUNK]] @ h
    return y.astype(np.float32)
