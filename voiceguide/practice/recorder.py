"""The log's side of one session: a row opened when it starts and closed when it ends.

:class:`SessionRecord` is what ``play`` (and the station) hold while a
session runs. Its promises:

* **It never breaks or delays a session.** All database work happens in one
  background thread, which also imports ``sqlite3``. That thread waits
  until *ready()* says the session is sounding (at most :data:`OPEN_WAIT`
  seconds): importing a C extension and opening a database hold the GIL
  for several milliseconds, which the main thread would otherwise lose
  while it is getting the first sound out (measured: +12 ms on a start-up
  workload when the thread ran at once). Nothing it does raises: a problem
  becomes at most one warning line, given by :meth:`finish` after the
  session.
* **A killed session leaves an honest row.** The row is written as
  ``interrupted`` at the start and rewritten when the session ends; while it
  runs, how far it has got is saved every :data:`PROGRESS_EVERY` seconds,
  so after a SIGKILL or a power cut the row says roughly how long it played.
* **Nothing is lost to a busy database.** If the row could not be opened at
  the start (the file was locked by another writer, say), the whole row is
  written at the end instead.

Trap: the thread owns its connection from start to end; SQLite connections
must not be shared between threads while in use.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable, Optional, Tuple

#: Seconds between progress saves while a session runs.
PROGRESS_EVERY = 30.0
#: Seconds :meth:`SessionRecord.finish` waits for the last write before giving up on it.
FINISH_WAIT = 3.0
#: Longest wait for *ready* before the row is opened anyway.
OPEN_WAIT = 3.0
#: How often *ready* is asked.
READY_POLL = 0.05

Progress = Callable[[], Tuple[float, Optional[float]]]


class Ending:
    """How a session ended, as :meth:`SessionRecord.finish` is told.

    A plain class, not a dataclass: ``play`` imports this module before its
    first sound, and generating a dataclass costs about a millisecond.
    """

    __slots__ = ("ended", "listened", "planned", "step", "section", "message")

    def __init__(self, ended: str, listened: float, planned: Optional[float] = None,
                 step: Optional[int] = None, section: Optional[str] = None, message: Optional[str] = None):
        self.ended = ended              # completed | stopped | error
        self.listened = listened
        self.planned = planned
        self.step = step
        self.section = section
        self.message = message


class SessionRecord:
    """One session's row in the practice log. Call :meth:`start`, then :meth:`finish` once."""

    def __init__(self, exercise: str, title: str, *, voice: Optional[str] = None,
                 planned: Optional[float] = None, origin: str = "play", path: Optional[Path] = None,
                 progress: Optional[Progress] = None, every: float = PROGRESS_EVERY,
                 ready: Optional[Callable[[], bool]] = None):
        self.exercise = exercise
        self.title = title
        self.voice = voice
        self.planned = planned
        self.origin = origin
        self.path = path
        self.progress = progress
        self.every = every
        self.ready = ready
        self.started_at: Optional[float] = None
        self.session_id: Optional[int] = None
        self._ending: Optional[Ending] = None
        self._done = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._problem: Optional[str] = None   # the last thing that went wrong
        self._recorded = False                # the final write succeeded

    def start(self, started_at: Optional[float] = None) -> "SessionRecord":
        """Note the start time (Unix seconds; default now) and open the row in the background; returns at once."""
        self.started_at = time.time() if started_at is None else started_at
        self._thread = threading.Thread(target=self._run, name="voiceguide-practice-log", daemon=True)
        self._thread.start()
        return self

    def finish(self, ending: Ending, wait: float = FINISH_WAIT) -> Optional[str]:
        """Close the row with *ending*; returns a one-line warning if it could not be written.

        Waits at most *wait* seconds (the session is over; this is only the
        time before the prompt comes back).
        """
        if self._thread is None or self._ending is not None:
            return None
        self._ending = ending
        self._done.set()
        self._thread.join(wait)
        if self._thread.is_alive():
            return (f"voiceguide: the practice log is busy ({self._where()}); this session may be "
                    f"missing from `voiceguide log` (the session itself was not affected)")
        if self._recorded:
            return None
        return (f"voiceguide: this session was not written to the practice log ({self._problem}); "
                f"the session itself was not affected")

    # -- the background thread --------------------------------------------------------------

    def _where(self) -> str:
        if self.path is not None:
            return str(self.path)
        from voiceguide.practice.store import default_path

        return str(default_path())

    def _run(self) -> None:
        log = None
        try:
            self._wait_until_ready()
            log = self._open_row()
            while not self._done.wait(self.every):
                self._save_progress(log)
            self._close_row(log)
        except Exception as exc:  # never let the log take the session down
            self._problem = f"{type(exc).__name__}: {exc}"
        finally:
            if log is not None:
                log.close()

    def _wait_until_ready(self) -> None:
        if self.ready is None:
            return
        deadline = time.monotonic() + OPEN_WAIT
        while time.monotonic() < deadline and not self._done.is_set():
            try:
                if self.ready():
                    return
            except Exception:
                return
            self._done.wait(READY_POLL)

    def _open_row(self):
        from voiceguide.practice.store import PracticeLog, PracticeLogError

        try:
            log = PracticeLog(self.path)
        except PracticeLogError as exc:
            self._problem = str(exc)
            return None
        assert self.started_at is not None   # start() sets it before this thread begins
        try:
            self.session_id = log.open_session(
                exercise=self.exercise, title=self.title, started_at=self.started_at,
                planned=self.planned, voice=self.voice, origin=self.origin, pid=os.getpid())
        except PracticeLogError as exc:
            self._problem = str(exc)
        return log

    def _save_progress(self, log) -> None:
        if log is None or self.session_id is None or self.progress is None:
            return
        from voiceguide.practice.store import PracticeLogError

        try:
            listened, planned = self.progress()
            log.update_progress(self.session_id, listened, planned)
        except PracticeLogError as exc:
            self._problem = str(exc)

    def _close_row(self, log) -> None:
        from voiceguide.practice.store import PracticeLog, PracticeLogError

        ending = self._ending
        assert ending is not None   # finish() sets it before it wakes this thread
        try:
            if log is None:
                log = PracticeLog(self.path)  # the start failed: maybe the file is free now
            planned = ending.planned if ending.planned is not None else self.planned
            if self.session_id is None:
                log.add_session(exercise=self.exercise, title=self.title, started_at=self.started_at,
                                ended=ending.ended, listened=ending.listened, planned=planned,
                                step=ending.step, section=ending.section, message=ending.message,
                                voice=self.voice, origin=self.origin)
            else:
                log.close_session(self.session_id, ended=ending.ended, listened=ending.listened,
                                  planned=planned, step=ending.step, section=ending.section,
                                  message=ending.message)
            self._recorded = True
        except PracticeLogError as exc:
            self._problem = str(exc)
        finally:
            if log is not None:
                log.close()
