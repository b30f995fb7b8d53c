"""Spoken commands in a live session: what the listener heard, judged and acted on, with a soft tick.

:class:`VoiceControl` starts the listener process
(:class:`voiceguide.listening.listener.Listener`), judges each phrase it
decoded by :func:`voiceguide.listening.commands.decide` -- with the echo
gate: the player knows how loud its own output was while the phrase was
said (:meth:`voiceguide.player.live_session.Overlay.level_at`) and asks more of a
phrase said over the guide's voice -- and calls the action of the same name:
the player's own (``play``) or the station's (its pause, with the state and
the listeners told). Feedback is the walking tick, soft, mixed into the
output (never a word over the guide); two ticks for *stop*.

Safety, decided: a false *stop* is worse than a missed one. "guide, stop"
therefore pauses at once (a fade) and ends the session only after
:data:`STOP_GRACE` seconds; "guide, resume" (or any key or button that
resumes) in that time undoes it, and a second "guide, stop" ends it at once.
*stop* also has the strictest confidence floor.

The listener also hears the guide itself: when the output can hand on what
it plays (the live session's Overlay has a ``reference``), a
:class:`voiceguide.listening.reference.ReferenceSender` sends it to the
listener process, whose echo canceller takes it out of the microphone
before anything is decoded (:mod:`voiceguide.listening.echo`).

A microphone that is missing or goes: one line through *note*; the session
goes on without voice commands.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Optional

import numpy as np

from voiceguide.errors import VoiceguideError
from voiceguide.listening.commands import VOLUME_STEP_DB, Candidate, Debounce, Rules, decide

#: Seconds a spoken stop waits, paused, before it ends the session (see the module docs).
STOP_GRACE = 8.0
#: The tick's level (dB under the walking tick's own).
TICK_DB = -12.0


def tick_samples(sample_rate: int, times: int = 1) -> np.ndarray:
    from voiceguide.audio.dsp import db_to_gain
    from voiceguide.audio.generators import tick

    one = np.asarray(tick(sample_rate), dtype=np.float32) * np.float32(db_to_gain(TICK_DB))
    if times == 1:
        return one
    gap = np.zeros(int(0.15 * sample_rate), dtype=np.float32)
    return np.concatenate([part for _ in range(times) for part in (one, gap)][:-1])


def can_resample(rate: int) -> bool:
    """The player's output can be brought to the listener's 16 kHz (python-soxr, or it is 16 kHz already)."""
    if rate <= 0:
        return False
    if rate == 16000:
        return True
    import importlib.util

    return importlib.util.find_spec("soxr") is not None


def player_actions(player: Any) -> Dict[str, Callable[[], None]]:
    """``play``'s actions: the player's own methods, as its keys call them."""
    return {"pause": player.pause, "resume": player.resume, "stop": player.quit, "next": player.next,
            "back": player.back, "louder": lambda: player.change_volume(VOLUME_STEP_DB),
            "softer": lambda: player.change_volume(-VOLUME_STEP_DB)}


class VoiceControl:
    """Listens for spoken commands for one live session (see the module docs)."""

    def __init__(self, player: Any, output: Any, *, mic: Any = None,
                 actions: Optional[Dict[str, Callable[[], None]]] = None,
                 note: Optional[Callable[[str], None]] = None, rules: Optional[Rules] = None,
                 listener: Any = None):
        self.player = player
        self.output = output
        self.actions = actions or player_actions(player)
        self.note = note or (lambda line: None)
        self.rules = rules or Rules()
        self._debounce = Debounce()
        self._lock = threading.Lock()
        self._stop_timer: Optional[threading.Timer] = None
        self.acted: list = []   # (command, seconds from the phrase's end to the action)
        self.sender: Any = None
        if listener is None:
            from voiceguide.listening.listener import Listener

            feed = hasattr(output, "reference") and can_resample(int(getattr(output, "sample_rate", 0) or 0))
            listener = Listener(mic, on_heard=self.heard, on_gone=self.note, reference=feed)
            if feed and listener.reference_fd is not None:
                from voiceguide.listening.reference import ReferenceSender

                self.sender = ReferenceSender(listener.reference_fd, int(output.sample_rate))
                output.reference = self.sender
        self.listener = listener

    def heard(self, candidate: Candidate, end_at: float) -> None:
        """The listener decoded a phrase that ended at *end_at* (``time.monotonic()``): act on it, or not."""
        level = getattr(self.output, "level_at", None)
        echo = level(end_at - (candidate.end - candidate.start), end_at) if level is not None else None
        if not decide(candidate, self.rules, echo) or not self._debounce(candidate):
            return
        self.act(candidate.command)
        self.acted.append((candidate.command, time.monotonic() - end_at))

    def act(self, command: str) -> None:
        with self._lock:
            pending_stop = self._stop_timer
            if command == "stop":
                if pending_stop is not None:  # said twice: end now
                    pending_stop.cancel()
                    self._stop_timer = None
                    self._tick(2)
                    self._do("stop")
                    return
                self._tick(2)
                if not self._do("pause"):
                    return
                self.note(f"stopping in {STOP_GRACE:.0f} s; say \"guide, resume\" to go on")
                timer = threading.Timer(STOP_GRACE, self._stop_now)
                timer.daemon = True
                self._stop_timer = timer
                timer.start()
                return
            if pending_stop is not None:  # anything else said: the stop is called off
                pending_stop.cancel()
                self._stop_timer = None
        self._tick(1)
        self._do(command)

    def _do(self, command: str) -> bool:
        """Call *command*'s action; False when it was refused.

        The station's actions refuse (:class:`~voiceguide.station.shared.IdleError`)
        once the session is ending -- "guide, pause" said during the fade after a
        stop. That phrase is let go: raised here, it would end the listener's
        reader thread, and with it every later command of the session.
        """
        try:
            self.actions[command]()
        except VoiceguideError:
            return False
        return True

    def _stop_now(self) -> None:
        with self._lock:
            if self._stop_timer is None:
                return
            self._stop_timer = None
        if getattr(self.player, "paused", True):  # resumed by a key or a button meanwhile: no stop
            self._do("stop")

    def _tick(self, times: int) -> None:
        add = getattr(self.output, "add", None)
        if add is not None:
            add(tick_samples(int(self.player.sample_rate), times))

    def close(self) -> None:
        with self._lock:
            if self._stop_timer is not None:
                self._stop_timer.cancel()
                self._stop_timer = None
        if self.sender is not None:   # before the listener: its stdin is the sender's pipe
            self.output.reference = None
            self.sender.close()
        self.listener.close()
