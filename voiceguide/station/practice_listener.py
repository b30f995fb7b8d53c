"""The station's sessions in the practice log: a listener on the controller.

Every session the station plays -- from the API, a button, a schedule --
gets one row, as a session of ``voiceguide play`` does, with ``origin``
``station:api``, ``station:button``, ``station:schedule``... A session that
could not even start (an invalid script) is an ``error`` row.

Listeners are called from the runner thread and must be quick: the row is
written by :class:`~voiceguide.practice.recorder.SessionRecord`'s own
thread, and the end of a session is handed to a short-lived thread, so a
busy or broken database never holds up the next session. A problem is one
warning in the station's log.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Dict, Optional

from voiceguide.practice.recorder import Ending, SessionRecord
from voiceguide.station.controller import SessionEnd, SessionStart, StationListener

log = logging.getLogger("voiceguide.station")


class PracticeListener(StationListener):
    """Writes one practice-log row per station session (see the module docs)."""

    def __init__(self, controller: Any = None, path: Optional[Path] = None):
        self._controller = controller
        self._path = path
        self._records: Dict[int, SessionRecord] = {}
        self._lock = threading.Lock()

    def _progress(self):
        state = self._controller.state()
        return float(state.get("elapsed") or 0.0), state.get("duration")

    def session_started(self, start: SessionStart) -> None:
        record = SessionRecord(start.exercise, start.title or start.exercise, voice=start.voice,
                               planned=start.planned, origin=f"station:{start.origin}", path=self._path,
                               progress=self._progress if self._controller is not None else None)
        with self._lock:
            self._records[id(start)] = record
        record.start(started_at=start.started_at.timestamp())

    def session_ended(self, end: SessionEnd) -> None:
        with self._lock:
            record = self._records.pop(id(end.start), None)
        if record is None:
            return
        planned = end.start.planned  # the real length if the speech was cached, the asked one, or None
        if self._controller is not None:
            try:
                state = self._controller.state()  # still this session's: called before the runner lets go
                if (state.get("exercise") == end.start.exercise and state.get("duration")
                        and not state.get("estimated")):  # an estimate is never logged as the planned length
                    planned = float(state["duration"])
            except Exception:  # a bug must not lose the practice row: logged, and the row is written
                log.exception("practice log: the station's state could not be read; the asked length is kept")
        ending = Ending(end.outcome, end.listened, planned,
                        end.step if end.outcome == "stopped" else None,
                        end.section if end.outcome == "stopped" else None, end.message)

        def finish() -> None:
            warning = record.finish(ending, wait=30.0)
            if warning:
                log.warning("%s", warning.replace("voiceguide: ", "", 1))

        threading.Thread(target=finish, name=FINISHING, daemon=True).start()


FINISHING = "voiceguide-practice-finish"


def wait_for_rows(timeout: float = 5.0) -> None:
    """At shutdown: wait (at most *timeout* each) for the rows of ended sessions to be written."""
    for thread in [t for t in threading.enumerate() if t.name == FINISHING]:
        thread.join(timeout)
