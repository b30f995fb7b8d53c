"""The station's one controller: every way of controlling a session goes through it.

The HTTP API, the buttons and the encoder, the schedules and ``voiceguide
ctl`` all call the same methods (:meth:`Controller.play`, :meth:`pause`,
:meth:`stop`, ...), so they cannot disagree about what a press means.

One **runner thread** owns the sound device: it takes jobs off a queue --
a session, an acknowledging chime, a spoken notice -- and does them one
after the other, so nothing in the station ever opens the device twice.
While idle it sleeps on a condition variable: no device open, no polling,
no wake-ups.

A session runs the ordinary :class:`~voiceguide.player.Player` in the
runner thread (the player handles no signals; the main thread belongs to
the web server). Controls reach the player through
its thread-safe methods (``toggle_pause``, ``next``, ``quit``...).

A session that fails -- an invalid script, an engine that is missing, a
device lost for good -- is logged, announced through the speaker and
reported to the listeners (the LED blinks); the runner then goes back to
waiting. Nothing a session does can end the station.

Listeners (:class:`StationListener`) hear every state change and the start
and end of every session: the event stream of the API, the LED and the
practice log hang on them. A listener that raises is logged and ignored.

Traps:

* ``state()`` is called from the web server's threads while the runner
  changes things: it reads one snapshot under the lock.
* A play request while a session plays fades that session out first (the
  runner starts the new one when ``Player.run`` returns); several quick
  requests collapse into the last one.
* Volume is remembered between sessions (and restarts) but a session never
  starts louder than ``start_volume_limit``: a knob left at full at night
  must not blast the morning's check-in.
"""

from __future__ import annotations

import collections
import datetime as _dt
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, Optional

from voiceguide.errors import NotFoundError, UsageError, VoiceguideError

log = logging.getLogger("voiceguide.station")

#: Volume range and step, as the ``+``/``-`` keys of ``play``.
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


@dataclass(frozen=True)
class SessionStart:
    """What the practice log needs to know when a session begins."""

    exercise: str
    title: Optional[str]
    path: Optional[str]
    started_at: _dt.datetime          # local time, with its offset
    planned: Optional[float]          # seconds, estimated before synthesis
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


class _StationStatus:
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
class _Run:
    """One requested session, from the request to its end."""

    exercise: str
    origin: str
    length: Optional[float] = None
    script: Any = None
    path: Optional[Path] = None
    chime: bool = False               # a press started it: acknowledge with a chime first
    cancel: threading.Event = field(default_factory=threading.Event)
    player: Any = None
    status: Optional[_StationStatus] = None
    start: Optional[SessionStart] = None
    requested: float = field(default_factory=time.time)   # wall clock, for the first-sound figure


class Controller:
    """Owns at most one session; see the module docs. Call :meth:`close` to end it."""

    def __init__(self, playback: Optional[Playback] = None, *, default_exercise: str = "daily-check-in",
                 start_volume_limit: float = 0.0, device_wait: float = 60.0,
                 state_file: Optional[Path] = None, feedback: Any = None,
                 catalog: Optional[Callable[[], Dict[str, Path]]] = None):
        self.playback = playback or Playback()
        self.default_exercise = default_exercise
        self.start_volume_limit = start_volume_limit
        self.device_wait = device_wait
        self._state_file = state_file
        self._feedback = feedback
        self._catalog = catalog or _catalog
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._jobs: Deque[tuple] = collections.deque()
        self._run: Optional[_Run] = None
        self._listeners: List[StationListener] = []
        self._closing = False
        self._error: Optional[str] = None
        self._volume_db = self._load_volume()
        self._last_state: Optional[Dict[str, Any]] = None
        self._runner = threading.Thread(target=self._loop, name="voiceguide-station-runner", daemon=True)
        self._runner.start()

    # -- listeners ---------------------------------------------------------------

    def add_listener(self, listener: StationListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: StationListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _tell(self, method: str, *args) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                getattr(listener, method)(*args)
            except Exception:  # a listener must never break a session
                log.exception("station listener %r failed in %s", listener, method)

    def _changed(self) -> None:
        state = self.state()
        with self._lock:
            if state == self._last_state:
                return
            self._last_state = state
        self._tell("state_changed", state)

    # -- what is going on ------------------------------------------------------------

    def state(self) -> Dict[str, Any]:
        """The pinned state object (plus ``error``: the last failure, until the next session)."""
        with self._lock:
            run = self._queued() or self._run
            status = run.status if run else None
            player = run.player if run else None
            playing = run is not None and not run.cancel.is_set()
            state = {
                "state": "idle",
                "exercise": run.exercise if playing else None,
                "title": None,
                "elapsed": 0.0,
                "duration": None,
                "section": None,
                "text": None,
                "volume_db": round(self._volume_db, 1),
                "error": self._error,
            }
            if not playing:
                return state
            state["state"] = "paused" if player is not None and player.paused else "playing"
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

    def exercises(self) -> List[Dict[str, Any]]:
        """``[{"id", "title", "summary", "duration"}]``, as ``voiceguide list`` (invalid ones left out)."""
        from voiceguide.errors import ScriptError
        from voiceguide.script.loader import load
        from voiceguide.timeline import estimate

        result = []
        for ident, path in sorted(self._catalog().items()):
            try:
                script = load(path)
                duration = estimate(script).duration
            except ScriptError:
                continue
            result.append({"id": ident, "title": script.title, "summary": script.summary,
                           "duration": round(duration, 1)})
        return result

    @property
    def volume_db(self) -> float:
        return self._volume_db

    @property
    def busy(self) -> bool:
        """A session is playing or paused (or about to: waiting for the device)."""
        with self._lock:
            return self._busy()

    # -- controls (any thread) -----------------------------------------------------------

    def play(self, exercise: str, length: Optional[str] = None, *, origin: str = "api",
             chime: bool = False) -> Dict[str, Any]:
        """Start *exercise* (an id from the catalog); a playing session fades out first.

        Raises :class:`NotFoundError` for an unknown id, :class:`UsageError`
        for a bad length, :class:`~voiceguide.errors.ScriptError` for an
        invalid script (also announced through the speaker).
        """
        seconds = _parse_length(length)
        path = self._catalog().get(exercise) if isinstance(exercise, str) else None
        if path is None:
            from voiceguide.errors import did_you_mean

            ids = list(self._catalog())
            raise NotFoundError(f'no exercise "{exercise}"{did_you_mean(str(exercise), ids)}; '
                                f"GET /api/exercises lists them")
        run = _Run(exercise=exercise, origin=origin, length=seconds, path=path, chime=chime)
        try:
            from voiceguide.script.loader import load

            run.script = load(path)
        except VoiceguideError as exc:
            self._fail_before_start(run, exc)
            raise
        from voiceguide.player.music import check_request

        check_request(run.script, None, required=True)  # a music step needs a file the station has not got
        with self._lock:
            if self._closing:
                raise VoiceguideError("the station is stopping")
            self._drop_queued_sessions()
            self._jobs.append(("session", run))
            self._quit_current()
            self._wake.notify()
        return self.state()

    def press(self) -> None:
        """The button: idle starts the default exercise (with a chime); otherwise pause/resume."""
        with self._lock:
            busy = self._busy()
        if busy:
            self.toggle()
            return
        try:
            self.play(self.default_exercise, origin="button", chime=True)
        except VoiceguideError as exc:
            log.error("the button's exercise could not start: %s", exc)

    def pause(self) -> Dict[str, Any]:
        player = self._player_or_raise()
        if player is not None and not player.paused:
            player.toggle_pause()
        self._changed()
        return self.state()

    def resume(self) -> Dict[str, Any]:
        player = self._player_or_raise()
        if player is not None and player.paused:
            player.toggle_pause()
        self._changed()
        return self.state()

    def toggle(self) -> Dict[str, Any]:
        player = self._player_or_raise()
        if player is not None:
            player.toggle_pause()
        self._changed()
        return self.state()

    def next(self) -> Dict[str, Any]:
        player = self._player_or_raise()
        if player is not None:
            player.next()
        return self.state()

    def back(self) -> Dict[str, Any]:
        player = self._player_or_raise()
        if player is not None:
            player.back()
        return self.state()

    def stop(self, *, chime: bool = False) -> Dict[str, Any]:
        """Fade out and end the session (nothing to do when idle)."""
        with self._lock:
            self._drop_queued_sessions()
            stopped = self._quit_current()
            if stopped and chime:
                self._jobs.append(("chime", None))
                self._wake.notify()
        self._changed()
        return self.state()

    def change_volume(self, delta_db: float) -> Dict[str, Any]:
        """Relative change, as the ``+``/``-`` keys; remembered for the next session."""
        lo, hi = VOLUME_RANGE_DB
        with self._lock:
            self._volume_db = min(hi, max(lo, self._volume_db + float(delta_db)))
            player = self._run.player if self._run else None
        if player is not None:
            player.change_volume(delta_db)
        else:
            self._save_volume()
        self._changed()
        return self.state()

    def prepare(self, exercises: List[str]) -> threading.Thread:
        """Synthesise *exercises* ahead, in the background, so a press sounds at once."""
        thread = threading.Thread(target=self._prepare, args=(list(exercises),),
                                  name="voiceguide-station-prepare", daemon=True)
        thread.start()
        return thread

    def close(self, timeout: float = 5.0) -> None:
        """Fade out whatever plays and stop the runner (SIGTERM, SIGINT)."""
        with self._lock:
            self._closing = True
            self._jobs.clear()
            self._quit_current()
            self._wake.notify()
        self._runner.join(timeout)
        self._save_volume()

    # -- helpers under the lock ----------------------------------------------------------

    def _busy(self) -> bool:
        return self._queued() is not None or (self._run is not None and not self._run.cancel.is_set())

    def _queued(self) -> Optional[_Run]:
        """The session that will start next (it is what the state shows: it was asked for last)."""
        for kind, item in reversed(self._jobs):
            if kind == "session":
                return item
        return None

    def _drop_queued_sessions(self) -> None:
        self._jobs = collections.deque(j for j in self._jobs if j[0] != "session")

    def _quit_current(self) -> bool:
        run = self._run
        if run is None or run.cancel.is_set():
            return False
        run.cancel.set()
        if run.player is not None:
            run.player.quit()
        return True

    def _player_or_raise(self):
        with self._lock:
            if not self._busy():
                raise _Idle("nothing is playing; start an exercise first (POST /api/play)")
            if self._queued() is not None:
                return None  # about to start
            return self._run.player  # None while the device or the first words are awaited

    # -- the runner thread --------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._jobs and not self._closing:
                    self._wake.wait()
                if self._closing:
                    return
                kind, item = self._jobs.popleft()
                if kind == "session":
                    self._run = item
            try:
                if kind == "session":
                    self._session(item)
                elif kind == "chime":
                    self._chime()
                elif kind == "notice":
                    self._notice(item)
            except Exception:  # never let the runner die
                log.exception("station: unexpected error in the runner")
            finally:
                if kind == "session":
                    with self._lock:
                        self._run = None
                    self._save_volume()
                    self._changed()
                    _give_back_memory()

    def _options(self, run: _Run):
        from voiceguide.script.model import Voice
        from voiceguide.player.session import Options

        p = self.playback
        return Options(length=run.length, voice=Voice(rate=p.rate, volume=p.volume, name=p.voice),
                       ambient_db=float(p.ambient_db or 0.0))

    def _begin(self, run: _Run) -> SessionStart:
        planned = run.length
        if planned is None and run.script is not None:
            from voiceguide.timeline import estimate

            try:
                planned = estimate(run.script).duration
            except VoiceguideError:
                planned = None
        start = SessionStart(exercise=run.exercise, title=run.script.title if run.script else None,
                             path=str(run.path) if run.path else None,
                             started_at=_dt.datetime.now().astimezone(), planned=planned,
                             length=run.length, origin=run.origin, voice=self.playback.voice)
        run.start = start
        self._tell("session_started", start)
        return start

    def _session(self, run: _Run) -> None:
        from voiceguide.player.session import Session

        start = self._begin(run)
        with self._lock:
            self._error = None
        if run.chime and not run.cancel.is_set():
            heard = self._chime()
            if heard is not None:
                log.info("chime %.3f s after the press", heard - run.requested)
        run.status = _StationStatus(self._changed, run.script.title)
        self._changed()
        outcome, message = "completed", None
        heard = False
        try:
            with Session(run.script, self._options(run)) as session:
                session.prefetch(background=True)  # synthesis starts while the device opens
                player = self._open_player(session, run)
                if player is None:
                    outcome = "stopped"
                else:
                    with self._lock:
                        self._volume_db = min(self._volume_db, self.start_volume_limit)
                        if abs(self._volume_db) > 1e-9:
                            player.change_volume(self._volume_db)
                    run.status.output, run.status.requested = player.output, run.requested
                    run.status.start(run.script.title, start.planned)
                    try:
                        result = player.run()
                    finally:
                        heard = player.frames_played > 0
                    if result.quit or run.cancel.is_set():
                        outcome = "stopped"
        except VoiceguideError as exc:
            outcome, message = "error", " ".join(exc.lines())
        except Exception as exc:  # a bug, but the station goes on
            log.exception("station: the session failed unexpectedly")
            outcome, message = "error", f"internal error ({type(exc).__name__}: {exc})"
        status = run.status
        listened = status.elapsed if status else 0.0
        if outcome == "error":
            log.error("session %s failed: %s", run.exercise, message)
            with self._lock:
                self._error = message
        else:
            log.info("session %s %s after %.0f s", run.exercise, outcome, listened)
        end = SessionEnd(start=start, outcome=outcome, listened=listened,
                         step=status.step if status else None, section=status.section if status else None,
                         message=message)
        self._tell("session_ended", end)
        if outcome == "error":
            with self._lock:
                superseded = self._closing or any(j[0] == "session" for j in self._jobs)
            if not superseded:
                self._notice(FAILED_DURING if heard else FAILED_TO_START)

    def _open_player(self, session, run: _Run):
        """A player on the device, waiting (with backoff, logging once) for a device that is not there yet.

        At boot a USB sound card or a HAT may appear after the station
        started. PortAudio lists devices once, at initialisation, so it is
        re-initialised before each new try (safe: nothing else in the
        station has a stream open -- the runner is the only user).
        """
        from voiceguide.errors import DeviceError
        from voiceguide.player.player import Player
        from voiceguide.sinks.live import LiveOutput, rescan_devices

        deadline = time.monotonic() + self.device_wait
        delay = 0.5
        waited = False
        while True:
            try:
                output = LiveOutput(session.options.sample_rate, device=self.playback.device,
                                    latency=self.playback.latency)
                player = Player(session, output, status=run.status)
            except DeviceError as exc:
                if time.monotonic() + delay > deadline:
                    raise
                if not waited:
                    log.warning("waiting up to %.0f s for the sound device (%s)", self.device_wait, exc)
                    waited = True
                if run.cancel.wait(delay):
                    return None
                delay = min(delay * 2, 8.0)
                rescan_devices()
                continue
            if waited:
                log.warning("the sound device is there; starting")
            with self._lock:
                if run.cancel.is_set():
                    player.output.close()
                    return None
                run.player = player
            return player

    def _fail_before_start(self, run: _Run, exc: VoiceguideError) -> None:
        """An exercise that cannot even be loaded: log it, tell the listeners, say so aloud."""
        message = " ".join(exc.lines())
        log.error("exercise %s could not be started: %s", run.exercise, message)
        start = self._begin(run)
        with self._lock:
            self._error = message
        self._tell("session_ended", SessionEnd(start=start, outcome="error", listened=0.0, message=message))
        with self._lock:
            self._jobs.append(("notice", FAILED_TO_START))
            self._wake.notify()
        self._changed()

    def _chime(self) -> Optional[float]:
        """Play the acknowledging chime; the wall-clock time it was first heard, if known."""
        if self._feedback is None:
            return None
        try:
            return self._feedback.chime(self.playback.device, self.playback.latency)
        except VoiceguideError as exc:
            log.warning("the acknowledging chime could not play: %s", exc)
            return None

    def _notice(self, text: str) -> None:
        """Say *text* through the speaker, so a person with no screen is not left wondering."""
        if self._feedback is None:
            return
        try:
            self._feedback.notice(text, self.playback)
        except VoiceguideError as exc:
            log.warning("the spoken notice could not play either: %s", exc)

    def _prepare(self, exercises: List[str]) -> None:
        from voiceguide.script.loader import load
        from voiceguide.player.session import Session

        catalog = self._catalog()
        for ident in exercises:
            if self._closing or ident not in catalog:
                continue
            try:
                script = load(catalog[ident])
                with Session(script, self._options(_Run(ident, "prepare"))) as session:
                    session.mixer(session.timeline())  # every clip synthesised, every loop cached
                log.info("prepared %s", ident)
            except VoiceguideError as exc:
                log.warning("could not prepare %s: %s", ident, exc)
            except Exception:
                log.exception("could not prepare %s", ident)
        try:  # the audio stack, so the first press does not wait for imports
            import voiceguide.audio.mixer  # noqa: F401
            import voiceguide.player.player  # noqa: F401
        except Exception:
            pass
        _give_back_memory()  # building ambient loops borrows tens of MB for a moment

    # -- remembered volume --------------------------------------------------------------

    def _load_volume(self) -> float:
        if self._state_file is None:
            return 0.0
        try:
            value = float(json.loads(self._state_file.read_text())["volume_db"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0.0
        lo, hi = VOLUME_RANGE_DB
        return min(hi, max(lo, value))

    def _save_volume(self) -> None:
        if self._state_file is None:
            return
        try:
            from voiceguide.atomic import atomic_file

            self._state_file.parent.mkdir(parents=True, exist_ok=True)
            with atomic_file(self._state_file, "w") as f:
                json.dump({"volume_db": round(self._volume_db, 2)}, f)
        except OSError as exc:
            log.warning("could not remember the volume in %s: %s", self._state_file, exc.strerror)


class _Idle(UsageError):
    """A control that needs a session, while none plays (the API answers 409)."""


IdleError = _Idle


def _parse_length(length: Optional[str]) -> Optional[float]:
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


def _catalog() -> Dict[str, Path]:
    """Exercise ids -> files, from the catalog only: an id is never taken as a path."""
    from voiceguide.script.catalog import entries

    return {entry.id: entry.path for entry in entries()}


def _give_back_memory() -> None:
    """After a session: collect its cycles and hand freed heap back to the system.

    A station idles for hours between sessions; glibc keeps freed memory
    for reuse unless asked (``malloc_trim``), which would leave the idle
    station as large as it was mid-session.
    """
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
