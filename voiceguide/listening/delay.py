"""The bulk delay between the player's output and its echo in the microphone, found by cross-correlation.

Why: the echo canceller (:mod:`.echo`) only looks back 0.6 s from the
reference sample it is given, so the reference must reach it a little
*before* the echo does. The stamps of :mod:`.reference` put it there on
paper; on a real sound server they do not (PulseAudio's streams report
latencies they do not have, and a microphone read in fragments stamps its
blocks up to a fragment late: on a private null sink the stamped reference
was ~110 ms late and wandered by tens of ms). The sound itself does not
lie: the microphone hears the guide at one lag behind the reference, and
that lag is where the cross-correlation of the two peaks.

How (:class:`DelayEstimator`): it is fed the microphone and the reference
exactly as the listener lines them up, block by block, and keeps the last
:data:`WINDOW` s of both. When enough of that has had the player heard
(:data:`FIRST` s of reference above :data:`ACTIVE_DB` after a start or a
reset, then every :data:`EVERY` s of it), it estimates: GCC-PHAT -- the
cross-spectrum of the two windows (one zero-padded FFT each), whitened to
unit magnitude (every frequency gets one vote, so a loud vowel's low
harmonics do not smear the peak into a pitch period's comb), limited to
:data:`BAND` Hz, back to time -- and looks for the peak within
+-:data:`SEARCH` s. Lag ``d`` samples means the microphone hears the
reference ``d`` samples after it (negative: before, i.e. the reference is
late).

A peak is believed (``confident``) only when it stands out: at least
:data:`PEAK_OVER_SECOND` times the highest value more than :data:`CLUSTER`
s from it (a room's early reflections are one cluster; a second peak of
nearly the same height elsewhere is an ambiguity, not a room) and
:data:`PEAK_OVER_MEDIAN` times the median. Silence and headphones (no echo at
all) give no such peak, and the listener keeps the alignment it has; a
person talking is not correlated with the reference and makes no peak of
its own (with them 6 dB over the echo, the echo's peak is still found).

Cost: one estimate is three FFTs of 2^17 points (~7 ms of one core, 16 at
worst) every :data:`EVERY` s of the player speaking -- ~0.2 % of a core;
feeding is two copies into rings. (Every 3 s rather than 10: at that price
a jump -- an underrun, a reopened device -- is found within seconds, and the
drift fit has points to fit.)

Measured (``tests/listening/echo_feed_driver.py``, a PulseAudio null sink
whose monitor is the microphone, three runs): the stamps' first guess was
70-310 ms from where the sound put the reference; after the first believed
estimate (~2.5 s of the guide heard) the reference stood 480 samples (the lead)
ahead of the echo to within a sample -- 0.0-0.06 ms -- for the rest of the
run, one move, drift 0 ppm (the monitor and the output share a clock), and
the canceller took out 22-39 dB over the last 8 s.

Traps:

* The two streams fed must be contiguous as fed: after the listener moves
  its alignment it calls :meth:`DelayEstimator.reset` (the history on the
  two sides of the move does not line up).
* A jump of the stream smaller than :data:`JUMP` (5 ms, or 300 ppm of the
  time since the last estimate) is taken for drift until the estimates after
  it put the drift right again: a few seconds of a slightly wrong drift.
* The estimate is of the strongest path, usually the direct sound; the
  listener places the reference :data:`LEAD` s ahead of it so that the
  direct path of a loudspeaker whose strongest arrival is a reflection, and
  an estimate a few ms off, still fall inside the filter.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

RATE = 16000
#: Seconds either way the lag is looked for.
SEARCH = 0.5
#: Seconds of both streams an estimate looks at.
WINDOW = 4.0
#: Seconds of active reference before the first estimate (and the first after a reset) ...
FIRST = 2.5
#: ... between two estimates after that ...
EVERY = 3.0
#: ... and before another try after an estimate that was not believed.
RETRY = 2.0
#: A reference block quieter than this (dBFS RMS) is not the player heard.
ACTIVE_DB = -55.0
#: Hz: the band the cross-spectrum is whitened and summed over (a loudspeaker's and a voice's).
BAND = (200.0, 6000.0)
#: Seconds around the peak that count as its own cluster (the room's early reflections).
CLUSTER = 0.03
#: The peak must be this many times the highest value outside its cluster ...
PEAK_OVER_SECOND = 1.6
#: ... and this many times the median of the whole search range.
PEAK_OVER_MEDIAN = 8.0
#: Seconds the listener places the reference ahead of the peak it found.
LEAD = 0.03


@dataclass(frozen=True)
class Estimate:
    """One estimate: ``lag`` samples the microphone hears the reference after it, and how sure it is."""

    lag: int
    peak_over_second: float
    peak_over_median: float
    confident: bool
    rate: int = RATE
    #: The lag to a fraction of a sample (a parabola through the peak and its neighbours).
    fine: float = 0.0
    #: Samples back from the newest sample fed to the middle of the reference's energy in the window.
    centre: float = 0.0

    @property
    def seconds(self) -> float:
        return self.lag / self.rate


def gcc_phat(mic: np.ndarray, reference: np.ndarray, most: int, rate: int = RATE,
             band: tuple = BAND) -> np.ndarray:
    """The whitened cross-correlation of *mic* against *reference* at lags ``-most .. most`` (module docs).

    Element ``most + d`` is the correlation at lag ``d``: the microphone ``d`` samples after the reference.
    """
    x = np.asarray(reference, dtype=np.float64)
    y = np.asarray(mic, dtype=np.float64)
    n = max(len(x), len(y))
    size = 1 << int(math.ceil(math.log2(n + most + 1)))
    cross = np.conjugate(np.fft.rfft(x, size)) * np.fft.rfft(y, size)
    magnitude = np.abs(cross)
    lo = int(band[0] * size / rate)
    hi = min(len(cross), int(band[1] * size / rate) + 1)
    cross[:lo] = 0.0
    cross[hi:] = 0.0
    floor = 1e-6 * float(magnitude[lo:hi].mean()) + 1e-30 if hi > lo else 1e-30
    cross[lo:hi] /= magnitude[lo:hi] + floor
    c = np.fft.irfft(cross, size)
    return np.concatenate([c[size - most:], c[: most + 1]])


def judge(correlation: np.ndarray, rate: int = RATE) -> Estimate:
    """The lag of the highest peak of a :func:`gcc_phat` result, and whether it stands out (module docs)."""
    most = (len(correlation) - 1) // 2
    a = np.abs(correlation)
    k = int(np.argmax(a))
    peak = float(a[k])
    cluster = max(1, int(CLUSTER * rate))
    outside = np.concatenate([a[: max(0, k - cluster)], a[k + cluster + 1:]])
    second = float(outside.max()) if len(outside) else 0.0
    median = float(np.median(a))
    over_second = peak / (second + 1e-30)
    over_median = peak / (median + 1e-30)
    confident = peak > 0 and over_second >= PEAK_OVER_SECOND and over_median >= PEAK_OVER_MEDIAN
    fine = float(k)
    if 0 < k < len(a) - 1:
        left, right = float(a[k - 1]), float(a[k + 1])
        bend = left - 2 * peak + right
        if bend < 0:
            fine = k + 0.5 * (left - right) / bend
    return Estimate(k - most, round(over_second, 2), round(over_median, 1), bool(confident), rate, fine - most)


class DelayEstimator:
    """Fed the microphone and the reference as lined up, block by block; now and then, an :class:`Estimate`.

    ``feed(mic, reference)`` returns an estimate when one was due (module
    docs: after :data:`FIRST`, then every :data:`EVERY` s of active
    reference), else None. Both arguments: float32 mono at *rate*, equal
    lengths, any length.
    """

    def __init__(self, rate: int = RATE, search: float = SEARCH, window: float = WINDOW, first: float = FIRST,
                 every: float = EVERY, retry: float = RETRY):
        self.rate = int(rate)
        self.most = int(search * rate)
        self.size = int(window * rate)
        if self.size <= 2 * self.most:
            raise ValueError("the window must be longer than the search range either way")
        self._mic = np.zeros(self.size, dtype=np.float32)
        self._ref = np.zeros(self.size, dtype=np.float32)
        self._at = 0            # samples fed since the reset (the rings' write position is _at % size)
        self._first = int(first * rate)
        self._every = int(every * rate)
        self._retry = int(retry * rate)
        self._active = 0        # samples of active reference since the last estimate (or the reset)
        self._due = self._first
        self._threshold = 10 ** (ACTIVE_DB / 10)
        self.estimates = 0
        self.last: Optional[Estimate] = None

    @property
    def fed(self) -> int:
        """Samples fed since the start or the last reset."""
        return self._at

    def reset(self) -> None:
        """Forget the history (the alignment moved); the next estimate after :data:`FIRST` s of the player."""
        self._mic[:] = 0.0
        self._ref[:] = 0.0
        self._at = 0
        self._active = 0
        self._due = self._first

    def feed(self, mic: np.ndarray, reference: np.ndarray) -> Optional[Estimate]:
        mic = np.asarray(mic, dtype=np.float32).reshape(-1)
        reference = np.asarray(reference, dtype=np.float32).reshape(-1)
        if len(mic) != len(reference):
            raise ValueError(f"mic and reference differ in length ({len(mic)} and {len(reference)})")
        n = len(mic)
        if n == 0:
            return None
        self._put(self._mic, mic)
        self._put(self._ref, reference)
        self._at += n
        if float(np.mean(np.square(reference, dtype=np.float64))) > self._threshold:
            self._active += n
        if self._active < self._due or self._at < min(self.size, self._first + 2 * self.most):
            return None
        estimate = self.estimate()
        self._active = 0
        self._due = self._every if estimate.confident else self._retry
        return estimate

    def estimate(self) -> Estimate:
        """An estimate over the history now (what :meth:`feed` does when one is due)."""
        k = self._at % self.size
        have = min(self._at, self.size)
        mic = np.concatenate([self._mic[k:], self._mic[:k]])[self.size - have:]
        ref = np.concatenate([self._ref[k:], self._ref[:k]])[self.size - have:]
        estimate = judge(gcc_phat(mic, ref, self.most, self.rate), self.rate)
        energy = np.square(ref, dtype=np.float64)
        total = float(energy.sum())
        back = float(np.dot(energy, np.arange(len(ref), 0, -1, dtype=np.float64)) / total) if total > 0 else have / 2
        estimate = dataclasses.replace(estimate, centre=back)
        self.estimates += 1
        self.last = estimate
        return estimate

    def _put(self, ring: np.ndarray, x: np.ndarray) -> None:
        size = len(ring)
        if len(x) >= size:
            ring[:] = x[-size:]
            # the ring then starts at _at + len(x) - size == the position the next sample goes
            ring[:] = np.roll(ring, (self._at + len(x)) % size)
            return
        start = self._at % size
        first = min(len(x), size - start)
        ring[start:start + first] = x[:first]
        if first < len(x):
            ring[: len(x) - first] = x[first:]


#: Seconds an estimate must be off before the alignment moves.
TOLERANCE = 0.004
#: Seconds off the line of the estimates before (or this fraction of the time since the last, if more):
#: the stream jumped (an underrun, a reopened device), it did not drift.
JUMP = (0.005, 0.0003)
#: The largest drift believed (reference samples per microphone sample, either way): 2000 ppm.
MOST_DRIFT = 0.002
#: Seconds of estimates (since the last jump) the drift is fitted over, and the fewest they must span.
DRIFT_SPAN = (6.0, 60.0)


class Aligner:
    """Where the reference for each microphone sample is taken from, as estimates come in.

    ``take(n)`` gives the clock sample (with a fraction) to take the reference for
    the next *n* microphone samples from, at ``1 + drift`` clock samples a
    microphone sample, and moves on by ``n * (1 + drift)``: the two
    streams' clocks may differ (hundreds of ppm between a PulseAudio null sink
    and ``time.monotonic()``; tens between two sound cards), and a reference
    that slides by a sample every fraction of a second is one the filter
    chases instead of cancels. ``update(estimate, span)`` takes an
    :class:`Estimate` (made over the samples fed up to now) and returns
    the move (samples, 0 for none): each believed estimate is a point of the
    true line "microphone sample -> clock sample of its echo's reference",
    the drift is the slope of the points since the last jump, and the
    alignment moves when it is more than :data:`TOLERANCE` s from that line
    plus :data:`LEAD`. A moved alignment makes the caller reset its
    estimator and realign its canceller.
    """

    def __init__(self, rate: int = RATE, lead: float = LEAD, tolerance: float = TOLERANCE):
        self.rate = int(rate)
        self.lead = lead * rate
        self.tolerance = tolerance * rate
        self.pos: Optional[float] = None   # the clock sample of the next microphone sample's reference
        self.drift = 0.0
        self.count = 0                     # microphone samples taken
        self.locked = False                # a believed estimate has placed it
        self.moves = 0
        #: The last estimates: (microphone sample, lag, believed, move, drift), for a person reading logs.
        self.log: list = []
        self._points: list = []            # (count, ideal position) of believed estimates since a jump

    def seed(self, pos: float) -> None:
        """Put the alignment at *pos* (the stamps' guess) and forget the estimates."""
        self.pos = float(pos)
        self.locked = False
        self._points = []

    def take(self, n: int) -> float:
        """The clock sample (a fraction of one too) of the next microphone sample's reference; moves on by *n*."""
        if self.pos is None:
            raise ValueError("not seeded")
        at = self.pos
        self.pos += n * (1.0 + self.drift)
        self.count += n
        return at

    def update(self, estimate: Estimate) -> int:
        move = self._update(estimate)
        self.log = self.log[-49:] + [(self.count, estimate.lag, estimate.confident, move, self.drift)]
        return move

    def _update(self, estimate: Estimate) -> int:
        if not estimate.confident or self.pos is None:
            return 0
        back = estimate.centre
        centre = self.count - back
        ideal = self.pos - back * (1.0 + self.drift) + self.lead - estimate.fine
        points = self._points
        if points:
            c, p = points[-1]
            if abs(p + (centre - c) * (1.0 + self.drift) - ideal) > max(JUMP[0] * self.rate, JUMP[1] * (centre - c)):
                points.clear()
        points.append((centre, ideal))
        while points[0][0] < centre - DRIFT_SPAN[1] * self.rate:
            points.pop(0)
        if len(points) >= 2 and centre - points[0][0] >= DRIFT_SPAN[0] * self.rate:
            counts = np.array([c for c, _ in points])
            ideals = np.array([p for _, p in points])
            slope = float(np.polyfit(counts - counts[-1], ideals - ideals[-1], 1)[0])
            self.drift = min(MOST_DRIFT, max(-MOST_DRIFT, slope - 1.0))
        self.locked = True
        move = int(round(ideal + back * (1.0 + self.drift) - self.pos))
        if abs(move) <= self.tolerance:
            return 0
        self.pos += move
        self.moves += 1
        return move
