"""One way to wire a live session: the output, the player, recording and spoken commands.

``voiceguide play`` (:mod:`voiceguide.player.foreground`) and the station
(:mod:`voiceguide.station.runner`) both build a live session here, so that
``record`` steps, music and spoken commands work the same in both::

    with Session(script, options) as session:
        session.prefetch(background=True)
        live = LiveSession(session, open_output(options, device, latency), status=status,
                           record=Recording(practice_log=True), voice=Listening(mic=None))
        result = live.player.run()
        for line in live.close():      # recordings kept, the listener ended
            ...

What differs between the two is passed in, not rebuilt: *actions* (a
spoken "guide, pause" is the station's pause, with its state and its
listeners, or the player's own), the status, how a line is said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

import numpy as np


@dataclass
class Recording:
    """Recording the answers to ``record`` steps (:class:`voiceguide.player.cue_capture.CueCapture`)."""

    practice_log: bool = True
    typed: Optional[Callable[[], object]] = None   # play --text on a terminal: the KeyReader while keys are read


@dataclass
class Listening:
    """Spoken commands: the microphone (an index, part of a name, None: the default input)."""

    mic: Any = None


def open_output(sample_rate: int, device: Any, latency: Optional[float]) -> "Overlay":
    """The live device, with room for the spoken commands' tick (see :class:`Overlay`)."""
    from voiceguide.sinks.live import LiveOutput

    return Overlay(LiveOutput(sample_rate, device=device, latency=latency))


class Overlay:
    """An output that adds short sounds (a tick) over the session's blocks, and knows its own level.

    The player writes blocks to it as to the device. A sound given to
    :meth:`add` is mixed into the next blocks after the player's fades, so a
    tick is heard while paused too. :meth:`level_at` is the level (dBFS) of
    what was heard at a moment, from the blocks written: the listener's
    echo gate (the player knows its own output, sample for sample). When
    :attr:`reference` is set (a :class:`voiceguide.listening.reference.ReferenceSender`),
    each block heard is also handed to it, for the listener's echo canceller.
    """

    #: Blocks of level remembered (at 4096 frames and 48 kHz, about 40 s).
    REMEMBER = 512

    def __init__(self, output: Any):
        self._output = output
        self._pending: List[np.ndarray] = []
        self._levels: List[tuple] = []   # (monotonic time heard, duration, dBFS)
        self.reference: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._output, name)

    def add(self, samples: np.ndarray) -> None:
        self._pending.append(np.asarray(samples, dtype=np.float32))

    def write(self, block: np.ndarray) -> None:
        import time

        pending = self._pending
        heard = block
        if pending:
            heard = np.array(block, dtype=np.float32, copy=True)  # the player's block may be reused
            sound = pending[0]
            n = min(len(sound), len(heard))
            heard[:n] += sound[:n]
            if n < len(sound):
                pending[0] = sound[n:]
            else:
                pending.pop(0)
        rate = float(self._output.sample_rate) if hasattr(self._output, "sample_rate") else 48000.0
        power = float(np.mean(np.square(block, dtype=np.float64))) if len(block) else 0.0
        level = 10 * float(np.log10(power + 1e-12))
        heard_at = time.monotonic() + float(self._output.latency)
        self._levels.append((heard_at, len(block) / rate, level))
        reference = self.reference
        if reference is not None:
            reference.push(heard, heard_at)
        if len(self._levels) > self.REMEMBER:
            del self._levels[: len(self._levels) - self.REMEMBER]
        self._output.write(heard)

    def level_at(self, start: float, end: float) -> Optional[float]:
        """The loudest block heard between two ``time.monotonic()`` moments (dBFS), None if none was."""
        levels = [lv for at, length, lv in list(self._levels) if at < end and at + length > start]
        return max(levels) if levels else None


class LiveSession:
    """A player on *output* for *session*, with recording and spoken commands wired (module docs)."""

    def __init__(self, session: Any, output: Any, *, script: Any = None, start_at: Optional[str] = None,
                 status: Any = None, record: Optional[Recording] = None, voice: Optional[Listening] = None,
                 actions: Optional[Dict[str, Callable[[], None]]] = None,
                 say: Optional[Callable[[str], None]] = None):
        from voiceguide.player.player import Player

        self.session = session
        self.output = output
        self.player = Player(session, output, start_at=start_at, status=status)
        self.say = say or self.player.note
        self.capture = None
        script = script if script is not None else session.script
        if record is not None and has_record_steps(script):
            from voiceguide.player.cue_capture import CueCapture

            self.capture = self.player.on_record = CueCapture(
                script.id, note=self.player.note, sample_rate=session.options.sample_rate,
                enabled=record.practice_log, typed=record.typed, player=self.player, say=self.say)
        self.voice = None
        if voice is not None:
            from voiceguide.player.voice import VoiceControl

            self.voice = VoiceControl(self.player, output, mic=voice.mic, actions=actions, note=self.player.note)

    def close(self, finished: bool = False) -> List[str]:
        """After the session: end the listener, keep what was recorded; the lines to show.

        *finished*: the session came to its end (nobody stopped it), so an answer still being recorded
        gets the rest of its time (:meth:`~voiceguide.player.cue_capture.CueCapture.close`).
        """
        if self.voice is not None:
            self.voice.close()
        return self.capture.close(finish=finished) if self.capture is not None else []


def has_record_steps(script: Any) -> bool:
    from voiceguide import kinds

    return bool(kinds.find(script.steps, "record"))
