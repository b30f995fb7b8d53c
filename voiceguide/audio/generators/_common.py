"""What every generator shares: sample-count arithmetic and the two level conventions.

See the package docstring for the conventions (loops at RMS ``LOOP_RMS``,
one-shots at a peak of exactly 1.0).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

#: RMS of every loop: that of a full-scale sine, so "0 dB" means the same for
#: a drone, a noise bed and a sound file.
LOOP_RMS = 1.0 / math.sqrt(2.0)

_TWO_PI = 2.0 * math.pi


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
