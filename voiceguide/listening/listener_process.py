"""The listener process: the microphone into the recogniser, one JSON line out per thing it has to say.

Started by :class:`voiceguide.listening.listener.Listener` as
``python -c BOOT '{"mic": ..., "reference": true}'`` (like the speech workers), so pocketsphinx
and the input stream live in a process of their own: the player's process
never imports pocketsphinx, and a recogniser that falls behind or crashes
never touches the session's sound.

With ``"reference": true`` stdin carries the player's own output, stamped
on the shared clock (:mod:`voiceguide.listening.reference`), and the
microphone goes through the echo canceller (:mod:`voiceguide.listening.echo`)
before the recogniser: the guide's own voice is taken out of what is
decoded. Where the reference stands against the microphone is found in
the sound (:mod:`voiceguide.listening.delay`, :class:`Echo`); one
microphone block (100 ms) is held back so that its reference has arrived
(the recogniser hears 0.1 s later; phrase times count it). The ``level``
lines stay the microphone's own.

Lines on stdout (JSON, one object each):

* ``{"ready": "<device name>"}`` once the microphone is open;
* ``{"level": dBFS, "floor": dBFS}`` twice a second (the microphone test);
  with a reference, ``"cancelled": dB`` too -- how much quieter the echo
  canceller made the microphone over those blocks where the player was heard
  (absent when it was silent);
* ``{"heard": {...candidate...}, "end_at": t}`` for each phrase decoded --
  every candidate, accepted or not: the rules are the parent's
  (:mod:`voiceguide.listening.commands`), which knows what it is playing.
  ``end_at`` is the ``time.monotonic()`` moment the phrase ended (the clock
  is the machine's, shared by both processes);
* ``{"error": "one line"}`` and the process ends: no microphone, or it went.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Dict, TextIO

NO_RECOGNISER = "pocketsphinx is not installed (pip install 'voiceguide[voice]')"
#: Seconds between two ``level`` lines.
LEVEL_EVERY = 0.5


def say(out: TextIO, **fields: Any) -> None:
    out.write(json.dumps(fields) + "\n")
    out.flush()


def main(argv: Any = None) -> int:
    from voiceguide.synth.lifetime import die_with_parent

    die_with_parent()
    args: Dict[str, Any] = json.loads((argv or sys.argv[1:] or ["{}"])[0])
    out = sys.stdout
    try:
        return listen(args.get("mic"), out, reference=bool(args.get("reference")))
    except KeyboardInterrupt:
        return 0


def listen(mic: Any, out: TextIO, reference: bool = False) -> int:
    from voiceguide.errors import DeviceError
    from voiceguide.listening.recognizer import Recognizer
    from voiceguide.sinks.microphone import Microphone, level_db

    try:
        try:
            recognizer = Recognizer()
        except ImportError:
            say(out, error=NO_RECOGNISER)
            return 1
        echo = Echo(sys.stdin.buffer) if reference else None
        with Microphone(mic) as microphone:
            say(out, ready=microphone.name)
            next_level = time.monotonic() + LEVEL_EVERY
            loudest = -120.0
            while True:
                block = microphone.read()
                now = time.monotonic()
                loudest = max(loudest, level_db(block))
                late = microphone.latency
                if echo is not None:
                    block = echo.cancel(block, now - microphone.latency)
                    late += echo.delay
                for candidate in recognizer.feed(block):
                    behind = recognizer.position - candidate.end  # seconds of stream since the phrase ended
                    say(out, heard=candidate.as_json(), end_at=now - late - behind)
                if now >= next_level:
                    fields = {"cancelled": echo.cancelled()} if echo is not None and echo.heard else {}
                    say(out, level=round(loudest, 1), floor=round(recognizer.noise_floor(), 1), **fields)
                    loudest, next_level = -120.0, now + LEVEL_EVERY
    except DeviceError as exc:
        say(out, error=str(exc))
        return 1
    except (BrokenPipeError, OSError) as exc:  # the parent has gone, or the pipe with it
        if isinstance(exc, BrokenPipeError):
            return 0
        say(out, error=f"the microphone failed ({exc})")
        return 1
    return 0


class Echo:
    """The player's output taken out of the microphone: the reference read from *stream*, lined up, the canceller.

    Where the reference for a microphone block is taken from
    (:class:`voiceguide.listening.delay.Aligner`): until the player is first
    heard, the stamps' guess -- the block's time on the shared clock
    (:class:`voiceguide.listening.reference.Anchor`) plus
    :data:`voiceguide.listening.reference.EARLY` s, so that the reference comes
    ahead of its echo; from then on, the microphone's own sample count (its
    stamps wander by a read fragment, ~0.1 s on PulseAudio: a reference
    following them would jump under the filter), moved by what the delay
    estimator (:class:`voiceguide.listening.delay.DelayEstimator`) finds in
    the sound itself: the reference :data:`voiceguide.listening.delay.LEAD` s
    ahead of the echo, the two streams' clock drift followed. A move
    realigns the canceller (its filter shifted, its reference history taken
    again), so nothing is learnt anew. Should the stamps and the count part
    by more than the estimator's search range for :data:`RESEED` s (the
    microphone lost samples), the stamps' guess is taken again.
    """

    #: Seconds the stamps and the count may disagree by more than the search range before a reseed.
    RESEED = 2.0

    def __init__(self, stream: Any):
        from voiceguide.listening.delay import Aligner, DelayEstimator
        from voiceguide.listening.echo import EchoCanceller
        from voiceguide.listening.reference import RATE, Anchor, ReferenceReceiver

        self.rate = RATE
        self.receiver = ReferenceReceiver(stream)
        self.canceller = EchoCanceller(RATE)
        self.estimator = DelayEstimator(RATE)
        self.aligner = Aligner(RATE)
        self.clock = Anchor(RATE)
        self.delay = self.canceller.delay / RATE
        self._count = 0            # microphone samples through the canceller
        self._read = 0             # microphone samples read (one block more: the one held)
        self._held: Any = None
        self._power = [0.0, 0.0]   # microphone, output: while the reference was heard, since cancelled()
        self._apart = 0            # samples the stamps have been out of the estimator's range
        self.heard = False
        self.ever_heard = False

    def cancel(self, block: Any, captured_by: float) -> Any:
        """The microphone block read before *block* (captured by *captured_by*), its echo taken out.

        One block is held back (:attr:`delay` counts it): the reference of a
        block's last samples leaves the player only about the output's real
        latency before it is heard -- tens of ms on PulseAudio, less than the
        lead and the sender's period -- and a reference that has not arrived
        is silence to the canceller.
        """
        import numpy as np

        self.clock.update(self._read, captured_by - len(block) / self.rate)
        self._read += len(block)
        held, self._held = self._held, np.asarray(block, dtype=np.float32)
        self.delay = (self.canceller.delay + len(self._held)) / self.rate
        if held is None:
            return np.zeros(len(block), dtype=np.float32)
        return self._cancel(held)

    def _cancel(self, block: Any) -> Any:
        from voiceguide.listening.reference import EARLY

        import numpy as np

        n = len(block)
        aligner = self.aligner
        offset = self.receiver.offset
        if offset is None:   # nothing has come from the player yet
            aligner.count += n
            self._count += n
            zeros = np.zeros(n, dtype=np.float32)
            self.estimator.feed(block, zeros)
            return self.canceller.process(block, zeros)
        guess = (self.clock.time(self._count) + EARLY) * self.rate - offset
        if aligner.pos is None or not self.ever_heard:
            aligner.seed(guess)
        elif abs(guess - aligner.pos) > self.estimator.most:
            self._apart += n
            if self._apart > self.RESEED * self.rate:
                aligner.seed(guess)
                self.estimator.reset()
                self._apart = 0
        else:
            self._apart = 0
        reference = self.receiver.take_resampled(aligner.take(n), n, 1.0 + aligner.drift)
        self._count += n
        out = self.canceller.process(block, reference)
        if reference.any():
            self.heard = self.ever_heard = True
            self._power[0] += float(np.dot(block.astype(np.float64), block))
            self._power[1] += float(np.dot(out.astype(np.float64), out))
        estimate = self.estimator.feed(block, reference)
        if estimate is not None:
            move = aligner.update(estimate)
            if move:
                self.estimator.reset()
                need = self.canceller.history_needed
                step = 1.0 + aligner.drift
                at = (aligner.pos or 0.0) - need * step
                self.canceller.realign(move, self.receiver.take_resampled(at, need, step))
        return out

    def cancelled(self) -> float:
        """dB the canceller took out since the last call (of the blocks where the player was heard)."""
        import math

        mic, out = self._power
        self._power = [0.0, 0.0]
        self.heard = False
        return round(10 * math.log10((mic + 1e-20) / (out + 1e-20)), 1)
