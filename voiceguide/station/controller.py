"""The station's one controller: every way of controlling a session goes through it.

The HTTP API, the buttons and the encoder, the schedules and ``voiceguide
ctl`` all call the same methods (:meth:`Controller.play`, :meth:`pause`,
:meth:`stop`, ...), so they cannot disagree about what a press means. This
module is that mapping from a command to what happens; the parts live
beside it, one job each:

* :mod:`.runner` -- the runner thread that owns the sound device and does
  sessions, chimes and spoken notices one after another;
* :mod:`.session_state` -- one session as the outside sees it, and the pinned
  state object;
* :mod:`.shared` -- the names everybody shares (:class:`Playback`,
  :class:`SessionStart`, :class:`SessionEnd`, :class:`StationListener`,
  :class:`IdleError`);
* :mod:`.volume` -- the remembered volume and its start ceiling;
* :mod:`.prepare` -- synthesising exercises ahead.

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

import logging
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from voiceguide.errors import NotFoundError, VoiceguideError
from voiceguide.player.countdown import Countdown
from voiceguide.station.shared import (FAILED_DURING, FAILED_TO_START, VOLUME_RANGE_DB, IdleError, Listeners,
                                      Playback, SessionEnd, SessionStart, StationListener, parse_length)
from voiceguide.station.shared import catalog as _catalog
from voiceguide.station.runner import Runner
from voiceguide.station.session_state import Run, state_object
from voiceguide.station.volume import Volume

log = logging.getLogger("voiceguide.station")

__all__ = ["Controller", "Playback", "SessionStart", "SessionEnd", "StationListener", "IdleError",
           "FAILED_TO_START", "FAILED_DURING", "VOLUME_RANGE_DB"]


class Controller:
    """Owns at most one session; see the module docs. Call :meth:`close` to end it."""

    def __init__(self, playback: Optional[Playback] = None, *, default_exercise: str = "daily-check-in",
                 start_volume_limit: float = 0.0, device_wait: float = 60.0,
                 state_file: Optional[Path] = None, feedback: Any = None,
                 catalog: Optional[Callable[[], Dict[str, Path]]] = None, start_delay: float = 0.0,
                 music_folder: Optional[Path] = None):
        self.playback = playback or Playback()
        #: the pieces a music step may play (``music_folder`` under ``[station]``; see :mod:`.music`)
        self.music_folder = Path(music_folder) if music_folder is not None else None
        self.default_exercise = default_exercise
        #: seconds a press of the button waits before its session (``start_delay`` under ``[station]``)
        self.start_delay = start_delay
        self._catalog = catalog or _catalog
        self._listeners = Listeners()
        self._volume = Volume(state_file)
        self._last_state: Optional[Dict[str, Any]] = None
        self._runner = Runner(self.playback, feedback=feedback, device_wait=device_wait,
                              start_volume_limit=start_volume_limit, volume=self._volume,
                              listeners=self._listeners, changed=self._changed)
        self._lock = self._runner.lock
        #: What a spoken command does here: the same as the API call of its name (state, listeners told).
        self._runner.voice_actions = {
            "pause": self.pause, "resume": self.resume, "stop": self.stop, "next": self.next, "back": self.back,
            "louder": lambda: self.change_volume(2.0), "softer": lambda: self.change_volume(-2.0)}  # +/-2 dB

    @property
    def start_volume_limit(self) -> float:
        return self._runner.start_volume_limit

    @property
    def device_wait(self) -> float:
        return self._runner.device_wait

    # -- listeners ---------------------------------------------------------------

    def add_listener(self, listener: StationListener) -> None:
        self._listeners.add(listener)

    def remove_listener(self, listener: StationListener) -> None:
        self._listeners.remove(listener)

    def _changed(self) -> None:
        state = self.state()
        with self._lock:
            if state == self._last_state:
                return
            self._last_state = state
        self._listeners.tell("state_changed", state)

    # -- what is going on ------------------------------------------------------------

    def state(self) -> Dict[str, Any]:
        """The pinned state object (plus ``error``: the last failure, until the next session)."""
        with self._lock:
            runner = self._runner
            return state_object(runner.queued() or runner.current, self._volume.db, runner.error)

    def exercises(self) -> List[Dict[str, Any]]:
        """``[{"id", "title", "summary", "duration", "estimated", "needs_music"}]``, as ``voiceguide list``.

        Invalid ones are left out. ``needs_music``: it has a ``music`` step, so
        it starts only with a piece from the music folder (:meth:`music`).

        ``duration`` is the one length every surface shows
        (:func:`voiceguide.player.lengths.exercise_length`, with this
        station's voice and rate): real when the speech is cached, else an
        estimate, and then ``estimated`` is true (shown with a ``~``).
        """
        from voiceguide.errors import ScriptError
        from voiceguide.player.lengths import exercise_length
        from voiceguide.player.music_request import music_steps
        from voiceguide.script.loader import load
        from voiceguide.synth.lookup import CacheLookup

        options = self.playback.session_options()
        lookup = CacheLookup(options.sample_rate)
        result = []
        for ident, path in sorted(self._catalog().items()):
            try:
                script = load(path)
                if script.part:  # written to be included, not played: list leaves it out too
                    continue
                length = exercise_length(script, options, lookup)
            except ScriptError:
                continue
            result.append({"id": ident, "title": script.title, "summary": script.summary, **length.as_json(),
                           "needs_music": bool(music_steps(script))})
        return result

    def music(self) -> List[Dict[str, Any]]:
        """``[{"name", "seconds"?}]``: the pieces of the music folder (``[]`` without one)."""
        from voiceguide.station.music import pieces

        return pieces(self.music_folder)

    @property
    def volume_db(self) -> float:
        return self._volume.db

    @property
    def busy(self) -> bool:
        """A session is playing or paused (or about to: waiting for the device)."""
        with self._lock:
            return self._runner.busy()

    # -- controls (any thread) -----------------------------------------------------------

    def play(self, exercise: str, length: Optional[str] = None, *, origin: str = "api",
             chime: bool = False, delay: Optional[float] = None, music: Optional[str] = None) -> Dict[str, Any]:
        """Start *exercise* (an id from the catalog); a playing session fades out first.

        *music* is the NAME of a piece in the music folder, for an exercise
        with a ``music`` step (which is refused without one); never a path
        (:func:`voiceguide.station.music.choose`).

        With *delay* (seconds, see :func:`~voiceguide.player.countdown.parse_delay`)
        the session waits that long first (the state says ``starting``),
        then a chime, then the session; pause, next (start now) and stop act
        on the wait.

        Raises :class:`NotFoundError` for an unknown id, :class:`UsageError`
        for a bad length, :class:`~voiceguide.errors.ScriptError` for an
        invalid script (also announced through the speaker).
        """
        seconds = parse_length(length)
        if music is not None:
            from voiceguide.station.music import check_name

            check_name(music)
        path = self._catalog().get(exercise) if isinstance(exercise, str) else None
        if path is None:
            from voiceguide.errors import did_you_mean

            ids = list(self._catalog())
            raise NotFoundError(f'no exercise "{exercise}"{did_you_mean(str(exercise), ids)}; '
                                f"GET /api/exercises lists them")
        run = Run(exercise=exercise, origin=origin, length=seconds, path=path, chime=chime,
                  countdown=Countdown(delay) if delay else None)
        try:
            from voiceguide.script.loader import load

            run.script = load(path)
        except VoiceguideError as exc:
            self._runner.fail_before_start(run, exc)
            raise
        run.music = self._piece(run.script, music)
        from voiceguide.player.lengths import length_or_none

        # The total is shown from the first answer on (real when the speech is cached, else marked an
        # estimate), not "?" until the player has placed every clip.
        run.planned = length_or_none(run.script, self.playback.session_options(seconds))
        with self._lock:
            if self._runner.closing:
                raise VoiceguideError("the station is stopping")
            self._runner.replace_session(run)
        return self.state()

    def _piece(self, script: Any, music: Optional[str]) -> Optional[Path]:
        """The path of the piece *music* for *script*, checked; refused in one line before anything starts."""
        from voiceguide.errors import UsageError
        from voiceguide.player.music_request import check_request, music_steps
        from voiceguide.station.music import NO_FOLDER, choose

        if not music_steps(script):
            if music is not None:
                raise UsageError(f'music {music!r}: "{script.title}" has no music step; music is for exercises '
                                 f"that play a piece you choose, such as music-listening")
            return None
        if music is None:
            if self.music_folder is None:
                raise UsageError(f'"{script.title}" plays a piece of music you choose: {NO_FOLDER}')
            raise UsageError(f'"{script.title}" plays a piece of music you choose: choose a piece from the '
                             f'station\'s music folder ({{"id": "{script.id}", "music": NAME}}; GET /api/music '
                             f"lists them, voiceguide ctl play {script.id} --music NAME)")
        path = choose(self.music_folder, music)
        check_request(script, path, required=True)   # a readable sound file, from its header
        return path

    def press(self) -> None:
        """The button: idle starts the default exercise (with a chime); otherwise pause/resume."""
        if self.busy:
            self.toggle()
            return
        try:
            self.play(self.default_exercise, origin="button", chime=True, delay=self.start_delay)
        except VoiceguideError as exc:
            log.error("the button's exercise could not start: %s", exc)

    def pause(self) -> Dict[str, Any]:
        return self._set_paused(lambda paused: True)

    def resume(self) -> Dict[str, Any]:
        return self._set_paused(lambda paused: False)

    def toggle(self) -> Dict[str, Any]:
        return self._set_paused(lambda paused: not paused)

    def _set_paused(self, wanted: Callable[[bool], bool]) -> Dict[str, Any]:
        """Pause or resume the session; one still starting keeps the wish and starts that way.

        A session is "starting" from the request until its player exists:
        queued behind one that fades out, during the acknowledging chime,
        while the device wakes. The runner reads :attr:`Run.paused` under
        the same lock as it hands over the player, so no pause falls between.
        """
        with self._lock:
            run = self._active_or_raise()
            player = run.player
            if run.countdown is not None and run.waiting():  # the start delay: its count stops and goes on
                countdown = run.countdown
                countdown.pause() if wanted(countdown.paused) else countdown.resume()
            elif player is None:
                run.paused = wanted(run.paused)
        if player is not None:
            if wanted(player.paused):
                player.pause()
            else:
                player.resume()
        self._changed()
        return self.state()

    def next(self) -> Dict[str, Any]:
        """The next step; during a start delay, start now (as space does on a terminal)."""
        with self._lock:
            run = self._active_or_raise()
            if run.countdown is not None and run.waiting():
                run.countdown.skip()
                return self.state()
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
            self._runner.drop_queued_sessions()
            if self._runner.quit_current() and chime:
                self._runner.add("chime")
        self._changed()
        return self.state()

    def change_volume(self, delta_db: float) -> Dict[str, Any]:
        """Relative change, as the ``+``/``-`` keys; remembered for the next session."""
        with self._lock:
            self._volume.change(delta_db)
            current = self._runner.current
            player = current.player if current else None
        if player is not None:
            player.change_volume(delta_db)
        else:
            self._volume.save()
        self._changed()
        return self.state()

    def prepare(self, exercises: List[str]) -> threading.Thread:
        """Synthesise *exercises* ahead, in the background, so a press sounds at once."""
        from voiceguide.station.prepare import prepare

        def run() -> None:
            try:
                catalog = self._catalog()
            except VoiceguideError as exc:  # the scripts folder cannot be read: said once, nothing prepared
                log.warning("nothing prepared: %s", exc)
                return
            prepare(list(exercises), catalog, self.playback, stopping=lambda: self._runner.closing)

        thread = threading.Thread(target=run, name="voiceguide-station-prepare", daemon=True)
        thread.start()
        return thread

    def close(self, timeout: float = 5.0) -> None:
        """Fade out whatever plays and stop the runner (SIGTERM, SIGINT)."""
        self._runner.close(timeout)
        self._volume.save()

    def _active_or_raise(self) -> Run:
        """The session a control is for: the queued one, else the one playing. Call with the lock held."""
        run = self._runner.queued() or self._runner.current
        if run is None or run.cancel.is_set():
            raise IdleError("nothing is playing; start an exercise first (POST /api/play)")
        return run

    def _player_or_raise(self):
        with self._lock:
            return self._active_or_raise().player  # None while it starts (queued, chime, device)
