"""Sounds that play once: bells, a breathing-pacer cycle, a walking tick, the record cue.

Each starts and ends at exactly 0.0 with a raised-cosine edge and peaks at
exactly 1.0; the mixer scales them.
"""

from __future__ import annotations

from typing import Any, Dict, Sequence, Tuple

import numpy as np

from voiceguide.audio import dsp
from voiceguide.audio.generators._common import _TWO_PI, _check_sr, _is_finite_number, _normalise_peak
from voiceguide.script.model import BELL_KINDS, BELL_SECONDS

#: Pacer pitch: up a fifth on the inhale, back down on the exhale.
PACER_LOW_HZ = 200.0
PACER_HIGH_HZ = 300.0

TICK_SECONDS = 0.06

# A partial: (ratio to the fundamental, amplitude, decay time constant s,
#             beat offset Hz, beat partner amplitude relative, bloom rise s).
_Partial = Tuple[float, float, float, float, float, float]

_BELLS: Dict[str, Dict[str, Any]] = {
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
