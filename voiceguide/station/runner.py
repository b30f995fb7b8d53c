"""The station's runner thread: the one user of the sound device.

It takes jobs off a queue -- a session, an acknowledging chime, a spoken
notice -- and does them one after the other, so nothing in the station
ever opens the device twice. While idle it sleeps on a condition variable:
no device open, PortAudio stopped, no polling, no wake-ups.

A session runs the ordinary :class:`~voiceguide.player.player.Player` in
this thread (the player handles no signals; the main thread belongs to
the web server). The controller reaches the player through its
thread-safe methods (``toggle_pause``, ``next``, ``quit``...).

A session's life here: :meth:`Runner._begin` tells the listeners it
started, a chime acknowledges a press, :meth:`Runner._open_player` waits
for a sound device that is not there yet (a USB card at boot),
:meth:`Runner._play` runs the player, and :meth:`Runner._end` tells the
listeners how it ended. A session that fails -- an invalid script, an
engine that is missing, a device lost for good -- is logged, announced
through the speaker and reported to the listeners (the LED blinks); the
runner then goes back to waiting. Nothing a session does can end the
station.

Traps:

* :attr:`Runner.lock` is the controller's lock too: the queue, the current
  run and :attr:`Runner.error` are read and changed under it, from any
  thread. The ``queue`` helpers below expect it held.
* A session asked for while another plays: the controller puts it in the
  queue and quits the current one, which fades out; the runner starts the
  new one when ``Player.run`` returns. Several quick requests collapse into
  the last one (:meth:`Runner.replace_session`).
"""

from __future__ import annotations

import collections
import datetime as _dt
import logging
import threading
import time
from typing import Any, Callable, Deque, Dict, Optional, Tuple

from voiceguide.errors import VoiceguideError
from voiceguide.station.memory import give_back, start_audio, stop_audio
from voiceguide.station.shared import (FAILED_DURING, FAILED_TO_START, Listeners, Playback, SessionEnd,
                                      SessionStart)
from voiceguide.station.session_state import Run, SessionStatus
from voiceguide.station.volume import Volume

log = logging.getLogger("voiceguide.station")

#: Seconds the runner waits, going idle, for a mixer thread a stop left behind to end.
LEFT_BEHIND_WAIT = 10.0


class Runner:
    """Does sessions, chimes and notices one after another in its own thread (see the module docs)."""

    def __init__(self, playback: Playback, *, feedback: Any, device_wait: float, start_volume_limit: float,
                 volume: Volume, listeners: Listeners, changed: Callable[[], None]):
        self.playback = playback
        self.device_wait = device_wait
        self.start_volume_limit = start_volume_limit
        self._feedback = feedback
        self._volume = volume
        self._listeners = listeners
        self._changed = changed
        self.lock = threading.RLock()
        self._wake = threading.Condition(self.lock)
        self._jobs: Deque[tuple] = collections.deque()
        #: The session the runner is doing (its ``cancel`` set once it was asked to end).
        self.current: Optional[Run] = None
        #: Why the last session failed, until the next one begins.
        self.error: Optional[str] = None
        self.closing = False
        #: Spoken commands' actions (the controller's); see :class:`voiceguide.player.live_session.LiveSession`.
        self.voice_actions: Optional[Dict[str, Callable[[], Any]]] = None
        self._thread = threading.Thread(target=self._loop, name="voiceguide-station-runner", daemon=True)
        self._thread.start()

    # -- the queue (any thread, with self.lock held) ---------------------------------

    def queued(self) -> Optional[Run]:
        """The session that will start next (it is what the state shows: it was asked for last)."""
        for kind, item in reversed(self._jobs):
            if kind == "session":
                return item
        return None

    def busy(self) -> bool:
        """A session is queued, or playing and not asked to end."""
        return self.queued() is not None or (self.current is not None and not self.current.cancel.is_set())

    def replace_session(self, run: Run) -> None:
        """Queue *run* in place of any queued session, and fade out the one playing."""
        self.drop_queued_sessions()
        self._jobs.append(("session", run))
        self.quit_current()
        self._wake.notify()

    def add(self, kind: str, item: Any = None) -> None:
        """Queue a ``"chime"`` or a ``"notice"`` (*item*: its words)."""
        self._jobs.append((kind, item))
        self._wake.notify()

    def drop_queued_sessions(self) -> None:
        self._jobs = collections.deque(j for j in self._jobs if j[0] != "session")

    def quit_current(self) -> bool:
        """Ask the current session to fade out and end; False when there was none to end."""
        run = self.current
        if run is None or run.cancel.is_set():
            return False
        run.cancel.set()
        if run.countdown is not None:
            run.countdown.cancel()
        if run.player is not None:
            run.player.quit()
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Drop every job, fade out what plays, and end the thread (waiting up to *timeout*)."""
        with self.lock:
            self.closing = True
            self._jobs.clear()
            self.quit_current()
            self._wake.notify()
        self._thread.join(timeout)

    # -- failures before the runner (the caller's thread) ----------------------------------

    def fail_before_start(self, run: Run, exc: VoiceguideError) -> None:
        """An exercise that cannot even be loaded: log it, tell the listeners, say so aloud."""
        message = " ".join(exc.lines())
        log.error("exercise %s could not be started: %s", run.exercise, message)
        start = self._begin(run)
        with self.lock:
            self.error = message
        self._listeners.tell("session_ended", SessionEnd(start=start, outcome="error", listened=0.0,
                                                         message=message))
        with self.lock:
            self.add("notice", FAILED_TO_START)
        self._changed()

    # -- the runner thread ---------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self.lock:
                while not self._jobs and not self.closing:
                    self._wake.wait()
                if self.closing:
                    return
                kind, item = self._jobs.popleft()
                if kind == "session":
                    self.current = item
            try:
                start_audio()
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
                    self._after_session()
                self._idle_when_done()

    def _after_session(self) -> None:
        with self.lock:
            self.current = None
        self._volume.save()
        self._changed()

    def _idle_when_done(self) -> None:
        """Nothing more to do: stop PortAudio and hand freed memory back (see :mod:`.memory`).

        A stop may have left a mixer thread behind (judged blocked when no
        block reached the device for a moment: a loaded machine, a slow sound
        server); PortAudio cannot stop under it. Wait a little for it to end,
        as long as no new job comes.
        """
        from voiceguide.player import leftovers

        deadline = time.monotonic() + LEFT_BEHIND_WAIT
        with self.lock:
            while not self._jobs and not self.closing and leftovers.stuck() and time.monotonic() < deadline:
                self._wake.wait(0.1)
            if self._jobs or self.closing:
                return
        stop_audio()
        give_back()

    def _begin(self, run: Run) -> SessionStart:
        # The practice log's planned length is a real one or none: an estimate is not recorded as
        # planned (the measured length replaces it at the end, as for `voiceguide play`).
        planned = run.length
        if run.planned is not None and not run.planned.estimated:
            planned = run.planned.seconds
        start = SessionStart(exercise=run.exercise, title=run.script.title if run.script else None,
                             path=str(run.path) if run.path else None,
                             started_at=_dt.datetime.now().astimezone(), planned=planned,
                             length=run.length, origin=run.origin, voice=self.playback.voice)
        run.start = start
        self._listeners.tell("session_started", start)
        return start

    def _session(self, run: Run) -> None:
        if run.chime and run.countdown is not None and not run.cancel.is_set():
            self._chime()  # the press is acknowledged at once; the session's own chime ends the delay
        if not self._count_down(run):
            return
        start = self._begin(run)
        with self.lock:
            self.error = None
        if run.chime and not run.cancel.is_set():
            heard = self._chime()
            if heard is not None and run.countdown is None:
                log.info("chime %.3f s after the press", heard - run.requested)
        run.status = SessionStatus(self._changed, run.script.title)
        self._changed()
        outcome, message, heard = self._play(run, start)
        self._end(run, start, outcome, message, heard)

    def _count_down(self, run: Run) -> bool:
        """The start delay, if any: the state says ``starting`` until it ends. False: stopped during it.

        Nothing has begun yet -- no session in the practice log, no device
        open -- so a stop here leaves no trace but one log line.
        """
        countdown = run.countdown
        if countdown is None:
            return True
        log.info("session %s starts in %.0f s", run.exercise, countdown.left())
        started = countdown.wait(lambda left, paused: self._changed())
        if not started or run.cancel.is_set():
            log.info("session %s stopped before it began", run.exercise)
            return False
        run.chime = True  # a gentle chime, then the session
        return True

    def _play(self, run: Run, start: SessionStart) -> Tuple[str, Optional[str], bool]:
        """Play *run* to its end: (outcome, the error's one line or None, whether any sound was heard)."""
        from voiceguide.player.session import Session

        heard = False
        try:
            options = self.playback.session_options(run.length)
            options.music = run.music   # the piece chosen from the music folder, as `play --music` sets it
            with Session(run.script, options) as session:
                session.prefetch(background=True)  # synthesis starts while the device opens
                live = self._open_player(session, run)
                if live is None:
                    return "stopped", None, heard
                player: Any = live.player
                result: Any = None
                try:  # whatever fails from here, the listener of spoken commands ends with this session
                    self._start_volume(player)
                    status: Any = run.status  # set by _session before it plays
                    status.output, status.requested = player.output, run.requested
                    if status is not None:  # the page's "now speaking": the cue, not the whole sentence
                        status.cue_times = session.cue_times
                    status.start(run.script.title, start.planned)  # None: not known yet
                    result = player.run()
                finally:
                    heard = player.frames_played > 0
                    finished = result is not None and not result.quit and not run.cancel.is_set()
                    for line in live.close(finished=finished):
                        log.info("%s", line)
                stopped = result.quit or run.cancel.is_set()
                if stopped:  # what the workers still synthesise is not wanted: no grace (issue 24)
                    session.close(grace=0.0)
                return ("stopped" if stopped else "completed"), None, heard
        except VoiceguideError as exc:
            return "error", " ".join(exc.lines()), heard
        except Exception as exc:  # a bug, but the station goes on
            log.exception("station: the session failed unexpectedly")
            return "error", f"internal error ({type(exc).__name__}: {exc})", heard

    def _start_volume(self, player) -> None:
        """The remembered volume, but no louder than the start ceiling."""
        with self.lock:
            db = self._volume.limit(self.start_volume_limit)
            if abs(db) > 1e-9:
                player.change_volume(db)

    def _end(self, run: Run, start: SessionStart, outcome: str, message: Optional[str], heard: bool) -> None:
        """Log how the session ended, tell the listeners, and announce a failure aloud."""
        status = run.status
        # what was heard, as the terminal logs it: the frames played, not the position (five quick
        # "next"s move the position a minute ahead in seconds, and none of that was listened to)
        player = run.player
        listened = player.frames_played / player.sample_rate if player is not None else 0.0
        if outcome == "error":
            log.error("session %s failed: %s", run.exercise, message)
            with self.lock:
                self.error = message
        else:
            log.info("session %s %s after %.0f s", run.exercise, outcome, listened)
        end = SessionEnd(start=start, outcome=outcome, listened=listened,
                         step=status.step if status else None, section=status.section if status else None,
                         message=message)
        self._listeners.tell("session_ended", end)
        if outcome == "error":
            with self.lock:
                superseded = self.closing or self.queued() is not None
                if self.current is run:  # idle, with the error, while the notice says so: no phantom session
                    self.current = None
            self._changed()
            if not superseded:
                self._notice(FAILED_DURING if heard else FAILED_TO_START)

    def _open_player(self, session, run: Run):
        """A live session on the device (:class:`voiceguide.player.live_session.LiveSession`: the player, record
        steps, spoken commands), waiting (with backoff, logging once) for a device that is not there yet.

        At boot a USB sound card or a HAT may appear after the station
        started. PortAudio lists devices once, at initialisation, so it is
        re-initialised before each new try (safe: nothing else in the
        station has a stream open -- the runner is the only user).
        """
        from voiceguide.errors import DeviceError
        from voiceguide.player.live_session import Listening, LiveSession, Recording, open_output
        from voiceguide.sinks.live import rescan_devices

        deadline = time.monotonic() + self.device_wait
        delay = 0.5
        waited = False
        while True:
            try:
                output = open_output(session.options.sample_rate, self.playback.device, self.playback.latency)
                live = LiveSession(session, output, script=run.script, status=run.status, record=Recording(),
                                   voice=Listening(self.playback.mic) if self.playback.voice_commands else None,
                                   actions=self.voice_actions, say=lambda line: log.info("%s", line))
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
            with self.lock:
                if run.cancel.is_set():
                    live.close()
                    live.player.output.close()
                    return None
                run.player = live.player
                if run.paused:  # asked for while it was starting
                    live.player.start_paused()
            return live

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
