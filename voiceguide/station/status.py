"""One station session as the outside sees it: the request, what the player reports, the state object.

* :class:`Run` -- one requested session, from the request to its end: what
  was asked, its player once the device is open, its :class:`SessionStatus`.
* :class:`SessionStatus` -- the player's status sink for a station session:
  it keeps the section, the words and the time that ``GET /api/state``
  shows, logs each step, and asks for a state notification when something
  a person would see has changed (at most once a second while playing).
* :func:`state_object` -- the pinned state object for a run (or none).

Traps:

* :class:`SessionStatus` is called from the thread that runs the player
  (the controller's runner); ``state_object`` is called from the web
  server's threads. Call ``state_object`` with the controller's lock held,
  so it reads one snapshot.
* A run that is queued (asked for, not yet begun) already counts as
  playing: the last request is what the state shows. It may also be
  paused before it has a player (:attr:`Run.paused`): a pause pressed while
  the chime plays or the device wakes is kept, and the session starts
  paused.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from voiceguide.station.model import SessionStart

log = logging.getLogger("voiceguide.station")


class SessionStatus:
    """The player's status sink for a station session: keeps what ``state`` shows, logs steps."""

    def __init__(self, notify: Callable[[], None], title: str):
        from voiceguide.player.status import LogStatus

        self._log = LogStatus()
        self._notify = notify
        self.title = title
        self.section: Optional[str] = None
        self.text: Optional[str] = None
        self.step: Optional[int] = None
        self.elapsed = 0.0
        self.total: Optional[float] = None
        self.paused = False
        self._second = -1
        self.output = None                  # the player's LiveOutput, once open
        self.requested: Optional[float] = None
        self._first_logged = False

    def start(self, title: str, total: Optional[float]) -> None:
        self._log.start(title, total)

    def event(self, event, elapsed: float) -> None:
        from voiceguide.player.status import describe

        self._log.event(event, elapsed)
        self.step = event.step
        if event.section:
            self.section = event.section
        if event.kind != "pause":
            self.text = describe(event)
        self._notify()

    def tick(self, elapsed: float, total: Optional[float], paused: bool, volume_db: float) -> None:
        if not self._first_logged and self.output is not None and self.output.first_audible is not None:
            self._first_logged = True
            if self.requested is not None:
                log.info("first sound %.3f s after the request", self.output.first_audible - self.requested)
        self.elapsed = elapsed
        self.total = total
        changed = paused != self.paused or int(elapsed) != self._second
        self.paused = paused
        self._second = int(elapsed)
        if changed:
            self._notify()

    def message(self, text: str) -> None:
        self._log.message(text)

    def close(self) -> None:
        pass


@dataclass
class Run:
    """One requested session, from the request to its end."""

    exercise: str
    origin: str
    length: Optional[float] = None
    script: Any = None
    path: Optional[Path] = None
    chime: bool = False               # a press started it: acknowledge with a chime first
    paused: bool = False              # paused before its player existed: it starts paused
    cancel: threading.Event = field(default_factory=threading.Event)
    player: Any = None
    status: Optional[SessionStatus] = None
    start: Optional[SessionStart] = None
    requested: float = field(default_factory=time.time)   # wall clock, for the first-sound figure


def state_object(run: Optional[Run], volume_db: float, error: Optional[str]) -> Dict[str, Any]:
    """The pinned state object (plus ``error``: the last failure, until the next session)."""
    playing = run is not None and not run.cancel.is_set()
    state = {
        "state": "idle",
        "exercise": run.exercise if playing else None,
        "title": None,
        "elapsed": 0.0,
        "duration": None,
        "section": None,
        "text": None,
        "volume_db": round(volume_db, 1),
        "error": error,
    }
    if not playing:
        return state
    player, status = run.player, run.status
    paused = player.paused if player is not None else run.paused
    state["state"] = "paused" if paused else "playing"
    if run.script is not None:
        state["title"] = run.script.title
    if run.start is not None and run.start.planned:
        state["duration"] = round(run.start.planned, 1)
    if status is not None:
        state["elapsed"] = round(status.elapsed, 1)
        if status.total:
            state["duration"] = round(status.total, 1)
        state["section"] = status.section
        state["text"] = status.text
    return state
