"""An acoustic echo canceller: the guide's own voice, heard through the room, taken out of the microphone.

Why: the listener hears the room, and the loudest thing in the room is
usually the guide itself. Every word it says is a chance for the keyword
spotter to hear "guide" and the grammar to hear a command (the false
commands of an hour of sessions were nearly all the guide's own words).
The player knows its output sample for sample, so the microphone's copy of
it can be predicted and subtracted: what remains is the room and the
person. The echo-level gate (:mod:`.commands`, ``echo``) stays as a second
line: it asks more of a phrase said over the guide, this takes the guide out.

How: a partitioned-block frequency-domain adaptive filter (PBFDAF, also
called multi-delay filter or frequency-domain NLMS), overlap-save:

* the reference (what the player sent) is cut into blocks of ``block``
  samples (256 at 16 kHz: 16 ms); each block with the one before it is
  transformed (FFT of 2 x block), and the last ``partitions`` spectra are
  kept (enough to cover ``filter_seconds``: 0.6 s = 38 partitions, the
  delay from the player to the microphone plus a room with an RT60 of
  0.5 s);
* the echo estimate is the sum over partitions of weights x spectrum,
  back to time, the last half kept (overlap-save); the error is the
  microphone minus the estimate;
* the weights learn by normalised LMS in each frequency bin: the step is
  divided by the reference's power in that bin over the filter's span (a
  speech reference has 40 dB between its loud and quiet bins; a single
  step size would be unstable in one and asleep in the other), and the
  gradient is constrained to the first half of each partition (else
  circular wrap-around leaks in and the filter stops at ~10 dB);
* the double-talk guard, in two parts. (1) A *background* filter adapts;
  a *foreground* filter makes the output, and takes the background's
  weights only when the background's error has been clearly smaller for
  a while. When the background goes wrong (someone spoke and it tried to
  learn their voice), it is put back to the foreground's weights. (2) The
  background freezes while the near end is much louder than the echo
  estimate would explain (the residual is above half the foreground's
  echo estimate plus the noise floor, once the filter has converged) and
  for :data:`HANGOVER` blocks after. A "double talk" that lasts longer
  than :data:`DOUBLE_TALK_LIMIT` s is taken for a changed room (someone
  moved the speaker) and adapted to at a quarter of the step -- the
  foreground only follows if that makes the output quieter.

Traps:

* The output is delayed by exactly one block (``block`` samples, 16 ms):
  ``process`` returns as many samples as it was given, the first block of
  them zeros. Whoever times phrases from the output's position is 16 ms
  late; nobody notices at 10 ms frames.
* ``reference[i]`` must be what the loudspeaker played at the moment
  ``mic[i]`` was captured, give or take: the filter only looks *back* (a
  causal room), so a reference that arrives late by more than the filter's
  span, or at all later than the echo, cannot be cancelled. The feed
  (:mod:`.reference`) places the reference early rather than late; the
  filter's first partitions then learn a bulk delay of zeros.
* A silent reference (the player is quiet, or ``voiceguide listen`` alone)
  passes the microphone through unchanged -- sample for sample, one block
  late -- and costs almost nothing: the filter is skipped while the last
  ``filter_seconds`` of reference are silent, and never adapts then.
* A nonlinear loudspeaker (distortion at full volume) and a different
  clock for the microphone and the output (a USB microphone: tens of ppm,
  a sample every few seconds) limit what any linear filter can take out;
  the filter tracks slow drift, it does not model distortion.
* Everything is float64 inside (a float32 filter stalls near 25 dB when
  the echo is loud); the arrays are made once: nothing grows per block.
"""

from __future__ import annotations

import math

import numpy as np

RATE = 16000
BLOCK = 256
FILTER_SECONDS = 0.6
#: NLMS step (0..1) of the background filter.
STEP = 0.7
#: A reference block quieter than this (dBFS) does not adapt the filter.
ACTIVE_DB = -70.0
#: Blocks the adaptation stays frozen after double talk was last seen (~130 ms).
HANGOVER = 8
#: Seconds of continuous "double talk" after which it is taken for a changed room.
DOUBLE_TALK_LIMIT = 2.0
#: The foreground takes the background's weights when the background's error is this much smaller ...
COPY_RATIO = 0.8
#: ... and the background is reset to the foreground when its error is this much larger.
RESET_RATIO = 4.0
#: Double talk: the residual is this many times what the foreground's ERLE would leave of the echo estimate.
DOUBLE_TALK_RATIO = 8.0
#: Both filters' smoothed residuals this many times the microphone's: they diverged, start over.
DIVERGED_RATIO = 2.0


class EchoCanceller:
    """``EchoCanceller().process(mic, reference)``: the microphone with the reference's echo taken out.

    Both arguments are float32 mono at *rate*, of equal length (any length:
    they are buffered into blocks); the result has the same length and is
    delayed by exactly one block. See the module docs.
    """

    def __init__(self, rate: int = RATE, filter_seconds: float = FILTER_SECONDS, block: int = BLOCK,
                 step: float = STEP):
        n = int(block)
        if n < 16:
            raise ValueError("block must be at least 16 samples")
        self.rate = int(rate)
        self.block = n
        self.partitions = max(1, math.ceil(filter_seconds * rate / n))
        self.step = float(step)
        p, k = self.partitions, n + 1
        self._bins = k
        # Reference spectra, newest first, kept twice over so that [head:head + P] is always one view.
        self._x = np.zeros((2 * p, k), dtype=np.complex128)
        self._x2 = np.zeros((2 * p, k), dtype=np.float64)        # |X|^2 of the same
        self._xe = np.zeros(2 * p, dtype=np.float64)             # each reference block's energy
        self._head = 0
        self._wb = np.zeros((p, k), dtype=np.complex128)         # background (adapts)
        self._wf = np.zeros((p, k), dtype=np.complex128)         # foreground (makes the output)
        self._frame = np.zeros(2 * n, dtype=np.float64)
        self._err_frame = np.zeros(2 * n, dtype=np.float64)
        self._prod = np.zeros((p, k), dtype=np.complex128)
        self._norm = np.zeros(k, dtype=np.float64)
        # Buffering: the block being filled, and the last processed block (output one block late).
        self._mic_in = np.zeros(n, dtype=np.float32)
        self._ref_in = np.zeros(n, dtype=np.float32)
        self._out = np.zeros(n, dtype=np.float32)
        self._fill = 0
        # Energies and the guard's state.
        floor = n * 10 ** (ACTIVE_DB / 10)
        self._active = floor
        self._delta = 2 * n * p * 10 ** (ACTIVE_DB / 10)          # the normaliser's floor
        self._ef = 0.0        # smoothed error energies, foreground and background
        self._eb = 0.0
        self._d_quiet = 0.0   # smoothed microphone and residual energies without double talk
        self._ef_quiet = 0.0
        self._noise = floor   # the residual's floor (minimum statistics)
        self.converged = False
        self._hold = 0        # blocks of hangover left
        self._talk = 0        # blocks of continuous double talk
        self._talk_limit = max(1, int(DOUBLE_TALK_LIMIT * rate / n))
        self._dm = 0.0        # the microphone's energy and both residuals', over about a second
        self._ef_slow = 0.0
        self._eb_slow = 0.0
        self.blocks = 0
        self.copies = 0
        self.resets = 0       # times both filters were found worse than nothing and started over

    # -- the stream ----------------------------------------------------------------------------

    def process(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """The microphone with the echo of *reference* taken out, one block (``block`` samples) late."""
        mic = np.asarray(mic, dtype=np.float32).reshape(-1)
        reference = np.asarray(reference, dtype=np.float32).reshape(-1)
        if len(mic) != len(reference):
            raise ValueError(f"mic and reference differ in length ({len(mic)} and {len(reference)})")
        n = self.block
        out = np.empty(len(mic), dtype=np.float32)
        i = 0
        while i < len(mic):
            fill = self._fill
            take = min(n - fill, len(mic) - i)
            out[i:i + take] = self._out[fill:fill + take]
            self._mic_in[fill:fill + take] = mic[i:i + take]
            self._ref_in[fill:fill + take] = reference[i:i + take]
            self._fill = fill + take
            i += take
            if self._fill == n:
                self._block(self._mic_in, self._ref_in)
                self._fill = 0
        return out

    @property
    def delay(self) -> int:
        """Samples the output is late: one block."""
        return self.block

    @property
    def history_needed(self) -> int:
        """Samples of reference :meth:`realign` wants: the filter's blocks, the one before, the part filled."""
        return (self.partitions + 1) * self.block + self._fill

    def realign(self, shift: int, history: np.ndarray) -> None:
        """The reference moved: from now on it is *shift* samples earlier against the echo than it was.

        The whole filter moves *shift* taps later (taps pushed past its end
        are dropped; the room it learnt stays learnt), and the reference it
        remembers is replaced by *history*: the last :attr:`history_needed`
        samples of reference as they are lined up now. Nothing else changes.
        """
        n, p = self.block, self.partitions
        history = np.asarray(history, dtype=np.float64).reshape(-1)
        if len(history) != self.history_needed:
            raise ValueError(f"history must be {self.history_needed} samples, not {len(history)}")
        shift = int(shift)
        for w in (self._wf, self._wb):
            taps = np.fft.irfft(w, 2 * n, axis=1)[:, :n].reshape(-1)
            moved = np.zeros_like(taps)
            if 0 <= shift < len(taps):
                moved[shift:] = taps[: len(taps) - shift]
            elif -len(taps) < shift < 0:
                moved[:shift] = taps[-shift:]
            frames = np.zeros((p, 2 * n))
            frames[:, :n] = moved.reshape(p, n)
            w[:] = np.fft.rfft(frames, axis=1)
        fill = self._fill
        full = history[: len(history) - fill]          # (p + 1) blocks, oldest first
        blocks = full.reshape(p + 1, n)
        frames = np.concatenate([blocks[:-1], blocks[1:]], axis=1)[::-1]   # newest first
        spectra = np.fft.rfft(frames, axis=1)
        energies = np.einsum("ij,ij->i", blocks[1:], blocks[1:])[::-1]
        head = self._head
        index = (head + np.arange(p)) % p
        for offset in (0, p):
            self._x[index + offset] = spectra
            self._x2[index + offset] = spectra.real ** 2 + spectra.imag ** 2
            self._xe[index + offset] = energies
        self._frame[:] = full[-2 * n:]
        self._ref_in[:fill] = history[len(history) - fill:]

    # -- one block -----------------------------------------------------------------------------

    def _block(self, mic: np.ndarray, ref: np.ndarray) -> None:
        n, p = self.block, self.partitions
        self.blocks += 1
        frame = self._frame
        frame[:n] = frame[n:]
        frame[n:] = ref
        energy = float(np.dot(frame[n:], frame[n:]))
        head = (self._head - 1) % p
        self._head = head
        self._xe[head] = self._xe[head + p] = energy
        span = float(self._xe[head:head + p].sum())
        if span <= self._active:
            # Nothing played for a filter's length: no echo to take out, nothing to learn.
            self._x[head] = self._x[head + p] = 0.0
            self._x2[head] = self._x2[head + p] = 0.0
            self._out[:] = mic
            return
        spectrum = np.fft.rfft(frame)
        power = spectrum.real ** 2 + spectrum.imag ** 2
        self._x[head] = self._x[head + p] = spectrum
        self._x2[head] = self._x2[head + p] = power
        x = self._x[head:head + p]
        d = mic.astype(np.float64)
        yf = self._estimate(self._wf, x)
        yb = self._estimate(self._wb, x)
        ef = d - yf
        eb = d - yb
        s_d = float(np.dot(d, d))
        s_ef = float(np.dot(ef, ef))
        s_eb = float(np.dot(eb, eb))
        s_yf = float(np.dot(yf, yf))
        # Never much louder than what was heard: a block the filter makes 3 dB worse goes out as the microphone had it.
        self._out[:] = ef if s_ef <= 2.0 * s_d else d
        c = 0.02  # about a second
        self._dm += c * (s_d - self._dm)
        self._ef_slow += c * (s_ef - self._ef_slow)
        self._eb_slow += c * (s_eb - self._eb_slow)
        # The residual's floor: follows it down at once, up slowly (about 3 dB a second).
        self._noise = max(min(self._noise * 1.012, s_ef), 1e-12)
        a = 0.25
        self._ef += a * (s_ef - self._ef)
        self._eb += a * (s_eb - self._eb)
        # Double talk: the residual is much louder than what is left of the echo, as far as the
        # foreground has been taking it out (its ERLE, over blocks without double talk).
        expected = s_yf * self._ef_quiet / max(self._d_quiet, 1e-20)
        talking = self.converged and s_ef > DOUBLE_TALK_RATIO * expected + 4 * self._noise
        if talking:
            self._talk += 1
            self._hold = HANGOVER
        else:
            self._talk = 0
            self._hold = max(0, self._hold - 1)
        if not self._hold or self._talk >= self._talk_limit:
            b = 0.05
            self._d_quiet += b * (s_d - self._d_quiet)
            self._ef_quiet += b * (s_ef - self._ef_quiet)
            if not self.converged and self._ef_quiet * 4 < self._d_quiet:
                self.converged = True  # the foreground takes out 6 dB: its estimate means something now
        scale = 1.0
        if self._hold:
            scale = 0.25 if self._talk >= self._talk_limit else 0.0
        if energy > self._active / 4 and scale > 0:
            self._adapt(x, eb, scale)
        # Two paths: the foreground follows a better background; a background gone wrong starts over.
        if self._eb < COPY_RATIO * self._ef and not self._hold:
            self._wf[:] = self._wb
            self._ef = self._eb
            self.copies += 1
        elif self._eb > RESET_RATIO * self._ef:
            self._wb[:] = self._wf
            self._eb = self._ef
        # Both gone wrong (a narrow-band reference -- the breathing pacer -- leaves bins the filter knows
        # nothing of; their weights wander, and the next broad sound comes out 20 dB louder than it went
        # in): the residual has been louder than the microphone for a while, so start learning again.
        if min(self._ef_slow, self._eb_slow) > DIVERGED_RATIO * self._dm:
            self._wf[:] = 0.0
            self._wb[:] = 0.0
            self._ef = self._eb = s_d
            self._ef_slow = self._eb_slow = self._dm
            self._d_quiet = self._ef_quiet = 0.0
            self.converged = False
            self.resets += 1

    def _estimate(self, w: np.ndarray, x: np.ndarray) -> np.ndarray:
        np.multiply(w, x, out=self._prod)
        return np.fft.irfft(self._prod.sum(axis=0), 2 * self.block)[self.block:]

    def _adapt(self, x: np.ndarray, error: np.ndarray, scale: float) -> None:
        n, p = self.block, self.partitions
        ef = self._err_frame
        ef[n:] = error
        err = np.fft.rfft(ef)
        norm = self._norm
        self._x2[self._head:self._head + p].sum(axis=0, out=norm)
        norm += self._delta
        err *= (self.step * scale) / norm
        np.conjugate(x, out=self._prod)
        self._prod *= err
        gradient = np.fft.irfft(self._prod, 2 * n, axis=1)
        gradient[:, n:] = 0.0                      # the constraint: a partition is block taps long
        self._wb += np.fft.rfft(gradient, axis=1)


def erle_db(mic: np.ndarray, out: np.ndarray) -> float:
    """Echo return loss enhancement: how much quieter *out* is than *mic* (dB, energies over the whole)."""
    a = float(np.dot(np.asarray(mic, np.float64), np.asarray(mic, np.float64)))
    b = float(np.dot(np.asarray(out, np.float64), np.asarray(out, np.float64)))
    return 10 * math.log10((a + 1e-20) / (b + 1e-20))
