"""The few signal operations every stage after synthesis shares: one copy of each.

* **Gains**: :func:`db_to_gain` -- every level in a script, every volume key
  and every threshold below is written in dB and multiplied as a gain.
* **Raised-cosine ramps**: :func:`raised_cosine` (a shape of position, for
  envelopes computed from absolute sample positions: ambient fades, ducking,
  the master fade), :func:`rise` and :func:`fall` (``n``-sample edges of
  one-shots: bells, the pacer, ticks; the live sink's pause fade).
  Raised-cosine because its slope is zero at both ends: no click where it
  starts or ends, which a linear fade has.
* **The limiter**: :func:`soft_limit`, the last thing applied to every mixed
  block.
* **Resampling**: :func:`resample`, band-limited (python-soxr, or a numpy
  polyphase filter where soxr has no wheel). Its implementation lives in
  :mod:`voiceguide.synth.resample` because speech clips are resampled when
  they are cached, and the synth stage sits below this one (it may not
  import ``audio``); :func:`resample` here forwards to it, importing it (and
  soxr) only when first called, so that ``list`` and a warm ``play`` do not
  pay for it. Sound files take the same path as speech.

Traps:

* The ramps keep their exact arithmetic: the rendered samples (and the
  tests that compare ``play`` with ``render`` sample for sample) depend on
  it. ``rise(n)`` is ``0.5 - 0.5 cos(pi k / n)``, which is *not* bit-equal to
  ``raised_cosine(k / n)`` (the division happens in another order); do not
  "simplify" one into the other.
* The speech worker (:mod:`voiceguide.synth.worker`) fades each clip's edges
  with the same formula as :func:`rise`, written out there for the same
  import-direction reason as the resampler.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "LIMIT_CEILING", "LIMIT_KNEE", "db_to_gain", "fall", "raised_cosine", "resample", "rise",
    "soft_limit",
]

#: The limiter: transparent below the knee (-3 dBFS), never above the ceiling (-1 dBFS).
LIMIT_KNEE = 10 ** (-3.0 / 20)
LIMIT_CEILING = 10 ** (-1.0 / 20)
#: The largest float32 not above the ceiling (the ceiling itself is not a float32).
_CEILING_BELOW = np.nextafter(np.float32(LIMIT_CEILING), np.float32(0.0)) \
    if float(np.float32(LIMIT_CEILING)) > LIMIT_CEILING else np.float32(LIMIT_CEILING)


def db_to_gain(db: float) -> float:
    """``10 ** (db / 20)``: -6 dB is about half the amplitude, 0 dB is 1.0."""
    return 10.0 ** (db / 20.0)


def raised_cosine(x: np.ndarray) -> np.ndarray:
    """0 -> 1 over x in [0, 1], smooth at both ends.

    Trap: *x* is clipped to [0, 1] **in place** (it is a scratch array in
    every caller); pass a copy if you need it afterwards.
    """
    np.clip(x, 0.0, 1.0, out=x)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def rise(n: int, *, to_one: bool = False) -> np.ndarray:
    """``n`` float64 samples rising from exactly 0.0.

    By default towards 1.0, exclusive (the sample after the ramp is the
    first at full level: an attack). With *to_one*, the last of the ``n``
    samples is exactly 1.0: a table of fade levels to step through, both
    ends included (the live sink's pause fade).
    """
    if n <= 0:
        return np.ones(0)
    if to_one:
        return 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)


def fall(n: int) -> np.ndarray:
    """``n`` float64 samples falling from 1.0 to exactly 0.0 on the last one."""
    if n <= 0:
        return np.ones(0)
    if n == 1:
        return np.zeros(1)
    out = 0.5 + 0.5 * np.cos(np.pi * np.arange(n) / (n - 1))
    out[-1] = 0.0
    return out


def soft_limit(block: np.ndarray) -> int:
    """Limit *block* in place: unchanged below the knee, never above the ceiling.

    A static curve (no gain memory), so it cannot depend on block size. The
    mix is levelled so that only rare peaks reach the knee at all.

    Whatever the block holds, afterwards every sample is a finite number
    within +-:data:`LIMIT_CEILING`: samples that are not numbers (NaN, +-inf,
    from a damaged sound) become silence, and their count is returned so the
    caller can say so once. Returns 0 for an ordinary block.
    """
    mag = np.abs(block)
    peak = mag.max(initial=0.0)  # NaN propagates through max: one pass answers both questions
    if peak <= LIMIT_KNEE:
        return 0  # the usual block: nothing near the knee, nothing broken
    bad = 0
    if not np.isfinite(peak):
        broken = ~np.isfinite(block)
        bad = int(np.count_nonzero(broken))
        block[broken] = 0.0
        mag[broken] = 0.0
    over = mag > LIMIT_KNEE
    if not over.any():
        return bad
    span = LIMIT_CEILING - LIMIT_KNEE
    limited = LIMIT_KNEE + span * np.tanh((mag[over] - LIMIT_KNEE) / span)
    np.minimum(limited, _CEILING_BELOW, out=limited)  # float32 rounding must not step over it
    block[over] = np.copysign(limited, block[over])
    return bad


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample mono *x* from *from_rate* to *to_rate* with a band-limited filter (float32).

    See :func:`voiceguide.synth.resample.resample`: python-soxr "HQ" when it
    is importable, else a numpy windowed-sinc resampler (Raspberry Pi 1 and
    Zero have no soxr wheel), both at least 80 dB down above the lower Nyquist
    frequency. Equal rates return a float32 copy.
    """
    from voiceguide.synth.resample import resample as band_limited

    return band_limited(x, from_rate, to_rate)
