"""The ``record`` step in ``play``: record the listener's spoken answer and keep it as today's cue.

The :class:`~voiceguide.player.player.Player` calls a :class:`CueCapture`
when a ``record`` event is heard (the soft tone starts); the capture waits
for the tone to end (``RECORD_LEAD_SECONDS`` after the event's start),
records the event's ``capture_seconds`` (its kind's answer) from the default input device in a thread
of its own (:func:`voiceguide.sinks.recording.record`), then saves a FLAC file
beside the practice log (``recordings/2024-05-14-073005.flac``, readable only
by the user) and logs it as that day's cue.

Nothing here may break a session: no input device, a failing device, an
unwritable folder -- each is one line through *note* (the status line or
the log) and the session goes on; the timeline is the same either way
(the step is a silence of its length). An answer that is silence (the
listener chose not to speak, which is always fine) is not kept.

With ``practice_log = false`` nothing is ever recorded.

With ``play --text`` on a terminal (*typed*), nothing is recorded either:
the session pauses, the listener may type a line (Enter alone skips), and
the line is kept as the cue; then the session goes on with the next step.
This runs in the player's own thread (``on_record`` is called from it), so
the status line waits while the line is typed; a stop (Ctrl-C, SIGTERM)
still ends the session at once.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable, List, Optional

import numpy as np

from voiceguide.script.model import RECORD_LEAD_SECONDS

#: An answer whose loudest 100 ms is quieter than this (dBFS RMS) counts as silence.
SPOKEN_DB = -45.0


def _said_something(samples: np.ndarray, sample_rate: int) -> bool:
    window = max(1, sample_rate // 10)
    usable = len(samples) // window * window
    if usable == 0:
        return False
    rms = np.sqrt(np.mean(samples[:usable].reshape(-1, window).astype(np.float64) ** 2, axis=1))
    return bool(rms.max() > 10 ** (SPOKEN_DB / 20))


class CueCapture:
    """Records the answers to a session's ``record`` steps (call it with each record event)."""

    def __init__(self, exercise: str, *, note: Callable[[str], None], sample_rate: int = 48000,
                 enabled: bool = True, log_path=None, typed: Optional[Callable[[], object]] = None,
                 player=None, say: Optional[Callable[[str], None]] = None):
        self.exercise = exercise
        self.note = note
        self.typed = typed      # -> the KeyReader while keys are read (play --text on a terminal)
        self.player = player
        self.say = say or note  # a line shown at once (the player's thread)
        self.sample_rate = sample_rate
        self.enabled = enabled
        self.log_path = log_path
        self.saved: List[str] = []            # lines for after the session
        self._stop = threading.Event()
        self._closing = threading.Event()     # the session is over: lines go to ``saved``, not the player
        self._threads: List[threading.Thread] = []
        self._ends_at = 0.0                   # when the last answer being recorded is due to end (monotonic)

    def __call__(self, event) -> None:
        """A record event is being heard now: record its answer (returns at once)."""
        if not self.enabled:
            self.note(f"the practice log is off; nothing is recorded ({_seconds(event):g} s of quiet)")
            return
        keys = self.typed() if self.typed is not None else None
        if keys is not None and self.player is not None:
            self._type_a_line(keys)
            return
        heard_at = time.monotonic()
        self._ends_at = max(self._ends_at, heard_at + RECORD_LEAD_SECONDS + _seconds(event))
        thread = threading.Thread(target=self._capture, args=(event, heard_at), name="voiceguide-record",
                                  daemon=True)
        self._threads.append(thread)
        thread.start()

    def _capture(self, event, heard_at: float) -> None:
        from voiceguide.errors import VoiceguideError
        from voiceguide.sinks.recording import NoInput, record

        begin = heard_at + RECORD_LEAD_SECONDS  # the tone has ended: the answer may come
        started = time.time() + max(0.0, begin - time.monotonic())
        try:
            samples = record(_seconds(event), self.sample_rate, self._stop, start_at=begin)
        except NoInput as exc:
            self._tell(f"{exc}; the next {_seconds(event):g} s pass in quiet, and nothing is recorded")
            return
        except VoiceguideError as exc:
            self._tell(f"the answer could not be recorded ({exc}); the session goes on")
            return
        except Exception as exc:  # never let recording take the session down
            self._tell(f"the answer could not be recorded ({type(exc).__name__}: {exc}); the session goes on")
            return
        if not _said_something(samples, self.sample_rate):
            self._tell("nothing was said, and that is fine; nothing is kept")
            return
        try:
            path = self._save(samples, started)
        except Exception as exc:
            self._tell(f"the answer could not be saved ({exc}); the session goes on")
            return
        self._tell(f"your answer is kept as today's cue: {path}")

    def _tell(self, line: str) -> None:
        """A line for the listener: through the player while it plays, after the session once it has ended
        (the player shows no more notes then: a line given to it would be lost)."""
        if self._closing.is_set():
            self.saved.append(line)
        else:
            self.note(line)

    def _type_a_line(self, keys) -> None:
        """Pause, read one typed line from the terminal, keep it as the cue, go on with the next step."""
        import select
        import sys

        player = self.player
        player.pause()
        line = ""
        with keys.line_mode():  # first: keys typed after the prompt must not reach the player
            self.say("Type it in a few words and press Enter, or press Enter alone to skip:")
            while not player.stopping:
                ready, _, _ = select.select([keys.fd], [], [], 0.1)
                if ready:
                    line = sys.stdin.readline().strip() if keys.fd == sys.stdin.fileno() else \
                        os.read(keys.fd, 4096).decode("utf-8", "replace").strip()
                    break
        if player.stopping:
            return
        if line:
            try:
                from voiceguide.practice.store import PracticeLog

                with PracticeLog(self.log_path) as log:
                    cue = log.add_cue(line, exercise=self.exercise)
                self.say(f"kept as today's cue: {cue.text}")
            except Exception as exc:
                self.say(f"the cue could not be kept ({exc}); the session goes on")
        else:
            self.say("nothing noted, and that is fine")
        player.resume()
        player.next()  # the rest of the listening time is not needed

    def _save(self, samples: np.ndarray, started: float):
        import soundfile

        from voiceguide.atomic import atomic_file
        from voiceguide.practice.store import PracticeLog, private_dir

        with PracticeLog(self.log_path) as log:
            folder = log.recordings
            private_dir(folder)
            stamp = time.strftime("%Y-%m-%d-%H%M%S", time.localtime(started))
            path = folder / f"{stamp}.flac"
            suffix = 1
            while path.exists():
                suffix += 1
                path = folder / f"{stamp}-{suffix}.flac"
            with atomic_file(path) as f:  # a private temporary file (mode 0600), renamed when whole
                soundfile.write(f, samples, self.sample_rate, format="FLAC", subtype="PCM_16")
            log.add_cue("", at=started, audio=path, seconds=len(samples) / self.sample_rate,
                        exercise=self.exercise)
        return path

    def close(self, wait: float = 5.0, finish: bool = False) -> List[str]:
        """After the session: stop a recording in progress (keeping what was said), wait for the saves.

        *finish* (the session came to its end, nobody stopped it): an answer
        still being recorded gets the rest of its time first, up to
        :data:`FINISH_SECONDS` -- the step after a record step can be shorter
        than the player's lateness in hearing it (the thread that announces
        steps runs a block or two behind), and cutting the answer there
        would keep 4.7 s of a 5 s answer. Returns the lines to show the listener.
        """
        self._closing.set()
        if finish:
            left = min(self._ends_at - time.monotonic(), FINISH_SECONDS)
            deadline = time.monotonic() + max(0.0, left) + 0.5
            for thread in self._threads:
                thread.join(max(0.0, deadline - time.monotonic()))
        self._stop.set()
        for thread in self._threads:
            thread.join(wait)
        return self.saved


#: At most this many seconds of an answer are waited for after the session's end (see CueCapture.close).
FINISH_SECONDS = 3.0


def _seconds(event) -> float:
    """How long *event* records the listener: its kind's answer (a record step's ``seconds``)."""
    from voiceguide import kinds

    return kinds.get(event.kind).capture_seconds(event) or 0.0
