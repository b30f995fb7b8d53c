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
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from voiceguide import kinds
from voiceguide.player.countdown import Countdown
from voiceguide.player.lengths import Length
from voiceguide.station.shared import SessionStart

log = logging.getLogger("voiceguide.station")


class SessionStatus:
    """The player's status sink for a station session: keeps what ``state`` shows, logs steps."""

    def __init__(self, notify: Callable[[], None], title: str):
        from voiceguide.player.status_line import LogStatus

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
        #: (clips made, clips in all) while nothing sounds yet; None once it sounds
        self.speech_made: Optional[Tuple[int, int]] = None
        #: the event being heard (not a pause) and the session time it began, for its live words
        self.live: Optional[Tuple[Any, float]] = None
        #: what the page animates while it sounds (its kind's ``page``: the breathing pacer), with its start
        self.page: Optional[Tuple[str, Dict[str, Any]]] = None
        #: a say event's caption cues, ``[(session seconds, text)]`` (the runner sets it: Session.cue_times);
        #: ``text`` is then the cue being spoken, as on the captions, not the whole sentence
        self.cue_times: Optional[Callable[[Any], List[Tuple[float, str]]]] = None
        self._cues: List[Tuple[float, str]] = []

    def start(self, title: str, total: Optional[float]) -> None:
        self._log.start(title, total)

    def event(self, event, elapsed: float) -> None:
        from voiceguide.player.status_line import describe

        self._log.event(event, elapsed)
        self.step = event.step
        if event.section:
            self.section = event.section
        kind = kinds.get(event.kind)
        if not kind.silent:
            self.text = describe(event)
            self.live = (event, elapsed)
            shown = kind.page(event)
            self.page = None if shown is None else (shown[0], {**shown[1], "start": round(elapsed, 2)})
            self._cues = self.cue_times(event) if self.cue_times is not None and event.text is not None else []
            if self._cues:
                self.text = self._cues[0][1]
        self._notify()

    def continued(self, event, elapsed: float) -> None:
        """The rest of a clip whose first clause was heard as its own event (``ClipPart``, Piper's first
        clause first): its words take over from the first clause's, placed where the rest sounds."""
        if self.cue_times is None or event.text is None:
            return
        import dataclasses

        offset = event.data.offset
        whole = dataclasses.replace(event, start=event.start - offset, length=event.length + offset, data=None)
        rest = [(at, text) for at, text in self.cue_times(whole) if at >= elapsed - 0.001]
        if rest:  # tick() shows each as it begins
            self._cues = [(at, text) for at, text in self._cues if at < elapsed - 0.001] + rest

    def tick(self, elapsed: float, total: Optional[float], paused: bool, volume_db: float) -> None:
        if not self._first_logged and self.output is not None and self.output.first_audible is not None:
            self._first_logged = True
            if self.requested is not None:
                log.info("first sound %.3f s after the request", self.output.first_audible - self.requested)
        self.elapsed = elapsed
        self.total = total
        if self.live is not None:  # words that change as it plays on, as the terminal shows them
            event, began = self.live
            self.text = kinds.get(event.kind).live(event, elapsed - began) or self.text
        changed = paused != self.paused or int(elapsed) != self._second
        if self._cues:  # the cue being spoken (the last one begun)
            text = next((t for at, t in reversed(self._cues) if at <= elapsed), self._cues[0][1])
            changed = changed or text != self.text
            self.text = text
        self.paused = paused
        self._second = int(elapsed)
        if changed:
            self._notify()

    def message(self, text: str) -> None:
        self._log.message(text)

    def flash(self, text: str) -> None:
        """A word about a control (paused, resumed, volume), logged in the station's own words.

        The player's words are a terminal's ("paused; press space to go on");
        a station has a button and a page, not a space bar.
        """
        self._log.message(station_words(text))

    def preparing(self, progress: Optional[Tuple[int, int]]) -> None:
        """Before the first sound: how much of the speech is made (``"preparing"`` in the state)."""
        self._log.preparing(progress)
        if progress != self.speech_made:
            self.speech_made = progress
            self._notify()

    def close(self) -> None:
        pass


def station_words(text: str) -> str:
    """The player's key feedback in the words of a station: its controls are a button, the page and ``ctl``."""
    if text.startswith("paused"):
        return "paused; press the button (or Resume on the page, or `voiceguide ctl resume`) to go on"
    return text


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
    planned: Optional[Length] = None  # the one length every surface shows, known at the request
    #: the start delay still running (``"starting"`` in the state), else None
    countdown: Optional[Countdown] = None
    #: the piece from the music folder for a music step (as ``play --music``), else None
    music: Optional[Path] = None

    def waiting(self) -> bool:
        """The session is in its start delay: not begun, nothing heard, not logged yet."""
        countdown = self.countdown
        return countdown is not None and (countdown.paused or countdown.left() > 0)


def state_object(run: Optional[Run], volume_db: float, error: Optional[str]) -> Dict[str, Any]:
    """The pinned state object, extended (never changed) with what the surfaces need to say the same thing.

    Added to the pinned fields: ``error`` (the last failure, until the next
    session), ``estimated`` (``duration`` is an estimate: show it with a
    ``~``), ``preparing`` (``{"done", "total"}`` clips of speech made while
    nothing sounds yet, else null), ``duration_text`` (``7:25``, ``~7:30``:
    the length as every surface writes it) and ``breathing`` (the breathing step
    being heard -- ``inhale``, ``hold``, ``exhale``, ``hold_out``,
    ``cycles`` and ``start``, the session time it began -- so the page can
    show in / hold / out in time without a message per phase; else null).

    During a start delay the state is ``"starting"`` (``"paused"`` while
    its count is paused) with ``starts_in``: whole seconds until the first
    sound (rounded up, so the count reads 30, 29, ... 1, and the event
    stream says so once a second, not at every tick). Otherwise
    ``starts_in`` is null.
    """
    playing = run is not None and not run.cancel.is_set()
    state: Dict[str, Any] = {
        "state": "idle",
        "exercise": run.exercise if run is not None and playing else None,
        "title": None,
        "elapsed": 0.0,
        "duration": None,
        "section": None,
        "text": None,
        "volume_db": round(volume_db, 1),
        "error": error,
        "estimated": False,
        "duration_text": None,
        "preparing": None,
        "breathing": None,
        "starts_in": None,
    }
    if run is None or not playing:
        return state
    player, status = run.player, run.status
    paused = player.paused if player is not None else run.paused
    state["state"] = "paused" if paused else "playing"
    if run.countdown is not None and run.waiting():  # never with a player: it is made after the count
        state["state"] = "paused" if run.countdown.paused else "starting"
        state["starts_in"] = math.ceil(run.countdown.left())
    if run.script is not None:
        state["title"] = run.script.title
    if run.planned is not None:
        state["duration"] = round(run.planned.seconds, 1)
        state["estimated"] = run.planned.estimated
    if status is not None:
        state["elapsed"] = round(status.elapsed, 1)
        if status.total:
            state["duration"] = round(status.total, 1)
            state["estimated"] = False
        state["section"] = status.section
        state["text"] = status.text
        if status.speech_made is not None:
            state["preparing"] = {"done": status.speech_made[0], "total": status.speech_made[1]}
        if status.page is not None:  # "breathing": the pattern and its start; the page paces itself by it
            state[status.page[0]] = status.page[1]
    if state["duration"]:
        state["duration_text"] = Length(float(state["duration"]), bool(state["estimated"])).text()
    return state
