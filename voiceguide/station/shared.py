"""What the station's parts say to each other: settings for sessions, session records, listeners.

The controller, its runner thread and everything that hangs on them (the
event stream, the LED, the practice log) share these names, and nothing
here starts a thread or touches a device:

* :class:`Playback` -- how sessions sound on this station;
* :class:`SessionStart`, :class:`SessionEnd` -- what a listener hears when a
  session begins and ends;
* :class:`StationListener` and :class:`Listeners` -- the hooks, and the
  fan-out that keeps a failing listener from breaking a session;
* :class:`IdleError` -- a control that needs a session while none plays;
* :func:`parse_length` and :func:`catalog` -- what a request may name.

Trap: listeners are called from the runner thread (and from the threads
of whoever calls a control); they must be quick and must not call back
into the controller while holding their own locks.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from voiceguide.errors import UsageError

log = logging.getLogger("voiceguide.station")

#: Volume range, as the ``+``/``-`` keys of ``play``.
VOLUME_RANGE_DB = (-30.0, 12.0)

FAILED_TO_START = "That exercise could not be started; the log says why."
FAILED_DURING = "The session had to stop; the log says why. You may rest here."


@dataclass
class Playback:
    """How sessions sound on this station (from config.toml and the command line)."""

    device: Any = None                 # index, name part or None (the default device)
    latency: Optional[float] = None
    rate: Optional[int] = None
    volume: Optional[float] = None     # the voice's, 0..1
    voice: Optional[str] = None
    ambient_db: float = 0.0
    voice_commands: bool = False       # "guide, pause" through a microphone (voiceguide.player.voice)
    mic: Any = None                    # the microphone: index, name part or None (the default input)

    def session_options(self, length: Optional[float] = None):
        """The player's :class:`~voiceguide.player.session.Options` for a session of *length* seconds."""
        from voiceguide.player.session import Options
        from voiceguide.script.model import Voice

        return Options(length=length, voice=Voice(rate=self.rate, volume=self.volume, name=self.voice),
                       ambient_db=float(self.ambient_db or 0.0))


@dataclass(frozen=True)
class SessionStart:
    """What the practice log needs to know when a session begins."""

    exercise: str
    title: Optional[str]
    path: Optional[str]
    started_at: _dt.datetime          # local time, with its offset
    planned: Optional[float]          # seconds: the real length (speech cached) or the --length; None if unknown
    length: Optional[float]           # the --length asked for, if any
    origin: str                       # "api", "button", "schedule", ...
    voice: Optional[str] = None


@dataclass(frozen=True)
class SessionEnd:
    start: SessionStart
    outcome: str                      # "completed", "stopped" or "error"
    listened: float                   # seconds of the session heard (pauses excluded)
    step: Optional[int] = None        # the step it stopped at (preview's numbering)
    section: Optional[str] = None
    message: Optional[str] = None     # for "error": the one-line reason


class StationListener:
    """Override what you need. Called from the runner or a caller's thread: be quick."""

    def state_changed(self, state: Dict[str, Any]) -> None:
        pass

    def session_started(self, start: SessionStart) -> None:
        pass

    def session_ended(self, end: SessionEnd) -> None:
        pass


class Listeners:
    """The controller's listeners; :meth:`tell` calls each, logging (and ignoring) one that raises."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: List[StationListener] = []

    def add(self, listener: StationListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove(self, listener: StationListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def tell(self, method: str, *args) -> None:
        with self._lock:
            listeners = list(self._listeners)  # called without the lock: a listener may add or remove
        for listener in listeners:
            try:
                getattr(listener, method)(*args)
            except Exception:  # a listener must never break a session
                log.exception("station listener %r failed in %s", listener, method)


class IdleError(UsageError):
    """A control that needs a session, while none plays (the API answers 409)."""


def parse_length(length: Optional[str]) -> Optional[float]:
    """A request's ``length`` ("15m") in seconds; None when not given. :class:`UsageError` if bad."""
    if length in (None, ""):
        return None
    from voiceguide.script.units import parse_duration

    try:
        seconds = parse_duration(length)
    except ValueError as exc:
        raise UsageError(f"length: {exc}") from None
    if seconds <= 0:
        raise UsageError("length: give a length longer than zero, such as 15m")
    return seconds


def catalog() -> Dict[str, Path]:
    """Exercise ids -> files, from the catalog only: an id is never taken as a path."""
    from voiceguide.script.catalog import entries

    return {entry.id: entry.path for entry in entries()}
