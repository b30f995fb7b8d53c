"""Click-free fades for pause, resume, seek and stop, applied to mixed blocks before any output.

The player asks (any thread): :meth:`Fader.pause`, :meth:`~Fader.resume`,
:meth:`~Fader.fade_out` (before a seek), :meth:`~Fader.fade_in`,
:meth:`~Fader.stop`. The mixer thread calls :meth:`Fader.apply` on each
block just before it goes to the output, so a request takes effect within
one block plus the output's latency, whatever the output is (a sound
device, or the recording fake the tests use).

The ramp is a precomputed raised cosine (:func:`voiceguide.audio.dsp.rise`)
of :data:`FADE_SECONDS`; the fader walks along it one sample per sample, so
a fade that is reversed half-way (a quick double press of space) turns
around where it is instead of jumping.

Trap: at full level :meth:`apply` leaves the block untouched (not multiplied
by 1.0): ``play`` on an unpaced device must stay sample-equal to ``render``.
"""

from __future__ import annotations

import numpy as np

from voiceguide.audio.dsp import rise

FADE_SECONDS = 0.3


class Fader:
    """The output level: a position on a raised-cosine ramp and where it is heading."""

    def __init__(self, sample_rate: int, blocksize: int, seconds: float = FADE_SECONDS):
        fade = max(2, int(seconds * sample_rate))
        self._ramp = rise(fade, to_one=True).astype(np.float32)
        self._gain = np.ones(blocksize, dtype=np.float32)
        self._level = fade - 1        # index into the ramp: fade-1 = full, 0 = silent
        self._target = fade - 1
        self._paused = False
        self._stopping = False

    # -- requests (any thread) ---------------------------------------------------

    def fade_out(self) -> None:
        self._target = 0

    def fade_in(self) -> None:
        self._target = len(self._ramp) - 1

    def pause(self) -> None:
        """Fade out and hold silence."""
        self._paused = True
        self.fade_out()

    def start_paused(self) -> None:
        """Paused and already silent, with no fade: only before the first block (nothing was heard)."""
        self._paused = True
        self._level = self._target = 0

    def resume(self) -> None:
        self._paused = False
        if not self._stopping:
            self.fade_in()

    def stop(self) -> None:
        """Fade out for good; :attr:`finished` once silent."""
        self._stopping = True
        self._paused = False
        self._target = 0

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def silent(self) -> bool:
        """True once a pause, seek or stop has faded all the way out."""
        return self._level == 0

    @property
    def finished(self) -> bool:
        """A stop has faded out: nothing more should be written."""
        return self._stopping and self._level == 0

    # -- the mixer thread -----------------------------------------------------------

    def apply(self, block: np.ndarray) -> None:
        """Scale *block* in place by the level, moving it one ramp step per sample."""
        n = len(block)
        level, target = self._level, self._target
        if level == target:
            if level == 0:
                block[:] = 0.0
            return
        gain = self._gain[:n]
        step = 1 if target > level else -1
        take = min(n, abs(target - level))
        if step > 0:
            gain[:take] = self._ramp[level + 1:level + 1 + take]
        else:
            gain[:take] = self._ramp[level - take:level][::-1]
        gain[take:] = self._ramp[level + step * take]
        self._level = level + step * take
        block *= gain
