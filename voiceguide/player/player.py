"""The player: pull a session through the mixer into an output, with controls from any thread.

This is the API for running a session (``voiceguide play`` uses it through
:mod:`voiceguide.player.foreground`; the station runs it in a thread)::

    from voiceguide.player.player import Player
    from voiceguide.player.session import Options, Session
    from voiceguide.sinks.live import LiveOutput

    with Session(script, Options(length=600.0)) as session:
        session.prefetch(background=True)            # synthesis starts now
        output = LiveOutput(session.options.sample_rate, device="USB", latency=0.3)
        player = Player(session, output, status=my_status)
        result = player.run()                        # blocks until the end or a stop

From any other thread, while :meth:`Player.run` runs: :meth:`~Player.toggle_pause`,
:meth:`~Player.pause`, :meth:`~Player.resume`, :meth:`~Player.next`,
:meth:`~Player.back`, :meth:`~Player.change_volume`, :meth:`~Player.quit`
(the listener's stop) and :meth:`~Player.stop` (a signal's or a
supervisor's); :attr:`~Player.paused`, :attr:`~Player.volume_db`,
:meth:`~Player.elapsed`, :attr:`~Player.total` (frames, once known) and
:attr:`~Player.heard` (the last step heard to begin) describe it. A
:class:`~voiceguide.player.status_line.Status` hears of every step as it
sounds. :meth:`Player.run` starts the output and closes it: the player owns
the output it is given.

Threads, each with one job:

* the **mixer thread** renders blocks, applies the fades
  (:mod:`voiceguide.player.fader`) and writes them to the output; it may
  wait for a clip that a speech worker is still making. It also carries out
  seeks and volume changes between blocks, so the mixer is only ever
  touched by one thread;
* the **calling thread** (:meth:`run`) only waits: it shows the status and,
  once a stop is asked for, gives the mixer thread :attr:`Player.stop_grace`
  seconds to fade out and finish (:data:`STALL` seconds if no block reaches
  the output meanwhile: then no sound flows). A mixer thread that is still
  blocked then -- on a hung speech worker, a hung sound server, a FIFO where a file
  should be -- is left behind (:mod:`voiceguide.player.leftovers`), the
  speech workers are ended and :meth:`run` returns: a stop always works,
  with a fade where sound still flows and without one where it does not.

Signals are not handled here (a player may run in any thread): see
:mod:`voiceguide.player.signals`.

If the output fails mid-session (a USB sink unplugged, a sound server
restarted), it is reopened and the session goes on from the same point, up
to :data:`REOPEN_TRIES` times.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any, Callable, Deque, Optional, Tuple

import numpy as np

from voiceguide import kinds
from voiceguide.errors import DeviceError, VoiceguideError
from voiceguide.player import leftovers
from voiceguide.player.fader import FADE_SECONDS, Fader
from voiceguide.player.playresult import PlayResult as PlayResult, process_start_time as process_start_time
from voiceguide.player.session import Session
from voiceguide.player.status_line import Status
from voiceguide.sinks.live import DeviceLost
from voiceguide.timeline import ClipPart, Event, LazyTimeline

REOPEN_TRIES = 3
REOPEN_WAIT = 1.0
VOLUME_STEP_DB = 2.0
VOLUME_RANGE_DB = (-30.0, 12.0)
#: "back" within this long of a step's start goes to the step before it.
BACK_GRACE = 2.0
#: How often, before the first sound, the speech's progress is looked at (cache headers).
PREPARING_EVERY = 0.25
#: How often the calling thread wakes to update the status.
TICK = 0.1
#: After a stop, if no block has reached the output for this long, no sound is
#: flowing (a clip never comes, the device never takes a block): nothing to fade.
STALL = 0.3


def volume_words(db: float) -> str:
    """``volume +4 dB``, and at either end of :data:`VOLUME_RANGE_DB` that it goes no further."""
    lo, hi = VOLUME_RANGE_DB
    limit = " (the loudest it goes)" if db >= hi else " (the quietest it goes)" if db <= lo else ""
    return f"volume {db:+.0f} dB{limit}"


class _Stopped(Exception):
    """Internal: a stop arrived while the output was lost; end the mixer thread quietly."""


class Player:
    """Plays one session into *output* (see :mod:`voiceguide.sinks.live` for the protocol).

    *start_at* is ``--from`` (a section or a step number); *blocksize*
    defaults to the output's.
    """

    def __init__(self, session: Session, output: Any, *, start_at: Optional[str] = None,
                 status: Optional[Status] = None, blocksize: Optional[int] = None):
        self.session = session
        self.output = output
        self.sample_rate = session.options.sample_rate
        self.blocksize = blocksize or output.blocksize
        self.status = status or Status()
        self.fader = Fader(self.sample_rate, self.blocksize)
        self._start_at = start_at
        self._error: Optional[BaseException] = None
        self._lazy: Optional[LazyTimeline] = None   # the lazily placed timeline, which records waits for speech
        self._signal: Optional[int] = None
        self._quit = False
        self._stop_at: Optional[float] = None
        self._writes = 0                 # blocks the output has taken (progress, for a stop)
        self._writes_at_stop = 0
        self._closing = False
        self._wake = threading.Event()
        self._requests: Deque[Tuple[str, float]] = collections.deque()
        self._due: Deque[Tuple[float, Event]] = collections.deque()
        self._notes: Deque[Tuple[str, bool]] = collections.deque()  # (text, transient)
        self._volume_db = 0.0
        self._seek_to: Optional[int] = None
        #: Where the last seek (or --from) landed: nothing before it has been heard since, even
        #: while the device buffer still holds the blocks written just before the seek.
        self._seek_floor = 0
        self._reopened = 0
        self._frames = 0
        self._preparing_shown = False    # the status was told "preparing speech (n of m)"
        self._preparing_next = 0.0       # when to look at the speech's progress again
        self.position = 0
        self.total: Optional[int] = None
        #: The last event the listener has heard begin (the step a stop happened in).
        self.heard: Optional[Event] = None
        #: Called (main thread) when a ``record`` step's tone is heard; see player/cue_capture.py.
        self.on_record: Optional[Callable[[Event], None]] = None
        #: Seconds a stop may take before a blocked mixer thread is left behind:
        #: the fade, the output's buffer twice (the fade in it, then the closing pad) and two blocks.
        self.stop_grace = FADE_SECONDS + 2 * float(output.latency) + 2 * self.blocksize / self.sample_rate + 0.1

    # -- controls: any thread -------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self.fader.paused

    @property
    def volume_db(self) -> float:
        return self._volume_db

    def pause(self) -> None:
        if not self.fader.paused and not self.fader.stopping:
            self.fader.pause()
            self._flash("paused; press space to go on")

    def start_paused(self) -> None:
        """Begin paused, in silence, until :meth:`resume` fades the session in from its start.

        Only before :meth:`run`, from the thread that will call it (the
        station: a pause asked for while the session was still starting).
        Later, use :meth:`pause`, which fades out what is playing.
        """
        self.fader.start_paused()

    def resume(self) -> None:
        if self.fader.paused:
            self.fader.resume()
            self._flash("resumed")

    def toggle_pause(self) -> None:
        if self.fader.paused:
            self.resume()
        else:
            self.pause()

    def next(self) -> None:
        self._requests.append(("next", 0.0))

    def back(self) -> None:
        self._requests.append(("back", 0.0))

    def change_volume(self, delta_db: float) -> None:
        """Louder or quieter by *delta_db*, within :data:`VOLUME_RANGE_DB`; at a limit, say so."""
        lo, hi = VOLUME_RANGE_DB
        wanted = self._volume_db + delta_db
        volume = min(hi, max(lo, wanted))
        if volume == self._volume_db:
            self._flash(volume_words(volume))  # already at the limit: nothing changes, and it says why
            return
        self._volume_db = volume
        self._requests.append(("volume", volume))

    def quit(self) -> None:
        """Fade out and end, as the listener asked (``PlayResult.quit``; exit 0)."""
        self._quit = True
        self._request_stop()

    def stop(self, signum: Optional[int] = None) -> None:
        """Fade out and end because of *signum* (``PlayResult.stopped_by``), or a supervisor."""
        if signum is not None and self._signal is None:
            self._signal = signum
        self._request_stop()

    def _request_stop(self) -> None:
        if self._stop_at is None:
            self._writes_at_stop = self._writes
            self._stop_at = time.monotonic()
        self.fader.stop()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop_at is not None

    def handle_key(self, key: str) -> None:
        actions = {
            "space": self.toggle_pause, "n": self.next, "right": self.next, "p": self.back,
            "left": self.back, "+": lambda: self.change_volume(VOLUME_STEP_DB),
            "=": lambda: self.change_volume(VOLUME_STEP_DB),
            "-": lambda: self.change_volume(-VOLUME_STEP_DB),
            "_": lambda: self.change_volume(-VOLUME_STEP_DB), "q": self.quit, "Q": self.quit,
        }
        action = actions.get(key)
        if action is not None:
            action()

    def _note(self, text: str) -> None:
        self._notes.append((text, False))  # shown by the calling thread

    note = _note  #: any thread: a line for the status display (shown by the thread that runs the player)

    def _flash(self, text: str) -> None:
        """Any thread: a short-lived word for the status line (paused, volume), not a line of its own."""
        self._notes.append((text, True))

    @property
    def frames_played(self) -> int:
        """Session frames written so far (after a seek, the ones written since)."""
        return self._frames

    def elapsed(self) -> float:
        """Seconds of the session heard so far (the output's buffer not yet)."""
        return max(0.0, self.position / self.sample_rate - float(self.output.latency))

    # -- the mixer thread ----------------------------------------------------------------

    def _timeline_to_play(self):
        """A lazily placed timeline when possible, so sound starts before synthesis ends."""
        session = self.session
        if self._start_at is None and session.options.length is None:
            self._lazy = session.lazy_timeline()
            return self._lazy
        timeline = session.timeline()
        if self._start_at:
            self.position = self._seek_floor = timeline.start_of(self._start_at)
        return timeline

    def _heard_sample(self) -> int:
        """The sample the listener hears now (the device buffer is still ahead of it)."""
        return self.position - int(self.output.latency * self.sample_rate)

    def _target(self, timeline, what: str) -> Optional[int]:
        """Where *what* (next, back) goes: from the seek still pending, if any, so each press counts."""
        heard = self._seek_to if self._seek_to is not None else max(self._heard_sample(), self._seek_floor)
        if what == "next":
            return timeline.next_step_start(heard)
        step = timeline.step_at(heard) or 1
        start = timeline.step_start(step) or 0
        if heard - start > BACK_GRACE * self.sample_rate or step <= 1:
            return start
        previous = timeline.step_at(start - 1)  # steps have gaps: a section places no event
        return timeline.step_start(previous) if previous is not None else 0

    def _handle_requests(self, mixer) -> None:
        while self._requests:
            what, value = self._requests.popleft()
            if what == "volume":
                mixer.set_volume_db(value)
                self._flash(volume_words(value))
                continue
            target = self._target(mixer.timeline, what)
            if target is None:
                self._flash("this is the last step")
                continue
            self._seek_to = target
            self.fader.fade_out()

    def _announce(self, timeline, start: int, n: int, announced: int) -> int:
        events = timeline.events_until(start + n)
        while announced < len(events) and events[announced].start < start + n:
            event = events[announced]
            if event.end > start:
                delay = max(0, event.start - start) / self.sample_rate + self.output.latency
                self._due.append((time.monotonic() + delay, event))
            announced += 1
        return announced

    def _measure_total(self) -> None:
        """The session's length for the status line, while playback has already begun.

        Places a second copy of the timeline (clip lengths come from the
        cache, or wait for the synthesizer, which is thread-safe).
        """
        try:
            length = self.session.timeline().length
        except Exception:
            return  # the mixer thread meets (and reports) the same problem
        if self.total is None:
            self.total = length

    def _produce(self) -> None:
        output, fader = self.output, self.fader
        try:
            mixer = self.session.mixer(self._timeline_to_play())
            self.total = mixer.length
            if self.total is None:
                threading.Thread(target=self._measure_total, name="voiceguide-total", daemon=True).start()
            block = np.zeros(self.blocksize, dtype=np.float32)
            silence = np.zeros(self.blocksize, dtype=np.float32)
            announced = 0
            if self._lazy is not None:
                # A session that begins with speech: its first clip is waited
                # for before the device starts (nothing to stall yet), not
                # with silence the device would be slow to play through.
                self._lazy.place_first()
            output.start()
            while not fader.finished:
                self._handle_requests(mixer)
                if self._seek_to is not None and fader.silent:
                    self.position, self._seek_to = self._seek_to, None
                    self._seek_floor = self.position
                    placed = mixer.timeline.events_until(self.position + 1)
                    announced = next((i for i, e in enumerate(placed) if e.end > self.position), len(placed))
                    self._due.clear()
                    if not fader.paused and not fader.stopping:
                        fader.fade_in()
                if fader.paused and fader.silent:
                    self._write(silence)  # the device stays awake while paused
                    continue
                n = mixer.frames_at(self.position, self.blocksize)
                if mixer.length is not None:
                    self.total = mixer.length
                if n == 0:
                    break
                view = block[:n]
                mixer.render(self.position, view)
                announced = self._announce(mixer.timeline, self.position, n, announced)
                fader.apply(view)
                self._write(view)
                self.position += n
                self._frames += n
        except _Stopped:
            pass
        except BaseException as exc:  # re-raised by run() in the calling thread
            self._error = exc
        finally:
            self._closing = True
            try:
                output.close()
            except Exception as exc:
                if self._error is None and not self.stopping:
                    self._error = exc

    def _write(self, block: np.ndarray) -> None:
        while True:
            try:
                self.output.write(block)
                self._writes += 1
                return
            except DeviceLost as exc:
                self._reopen(exc)

    def _reopen(self, exc: DeviceLost) -> None:
        """Reopen the output; the block that failed is written again, so nothing is skipped."""
        for attempt in range(1, REOPEN_TRIES + 1):
            self._note(f"{exc}; reopening the device ({attempt}/{REOPEN_TRIES})")
            if self._wake.wait(REOPEN_WAIT) or self.stopping:
                raise _Stopped()
            try:
                self.output.reopen()
                self._reopened += 1
                self._note("the device is back; going on from where we were")
                return
            except DeviceError:
                continue
        raise DeviceError(f"{exc}, and it could not be reopened after {REOPEN_TRIES} tries; "
                          f"check the device, then `voiceguide play ... --from` a section to go on")

    # -- the calling thread ------------------------------------------------------------------

    def _drain_due(self, everything: bool = False) -> None:
        while self._notes:
            text, transient = self._notes.popleft()
            if transient:  # a status without flash (duck-typed, e.g. the station's) gets a message
                getattr(self.status, "flash", self.status.message)(text)
            else:
                self.status.message(text)
        now = float("inf") if everything else time.monotonic()
        while self._due and self._due[0][0] <= now:
            _, event = self._due.popleft()
            if isinstance(event.data, ClipPart) and event.data.offset > 0:
                # the rest of a clip whose head was announced: the same step, not announced again; a
                # status that shows the words being spoken (the station's) takes the rest's words now
                continued = getattr(self.status, "continued", None)
                if continued is not None:
                    continued(event, event.start / self.sample_rate)
                continue
            self.heard = event
            self.status.event(event, event.start / self.sample_rate)
            if self.on_record is not None and not everything and kinds.get(event.kind).capture_seconds(event):
                self.on_record(event)  # heard now (not after the end, on an unpaced device)

    def run(self) -> PlayResult:
        """Play to the end, or until :meth:`quit` or :meth:`stop` (see :class:`PlayResult`).

        Any thread may call it (the station uses its own). Raises what the
        mixer thread met (a DeviceError, an EngineError...) unless a stop
        was asked for first.
        """
        producer = threading.Thread(target=self._produce, name="voiceguide-mixer", daemon=True)
        producer.start()
        try:
            while producer.is_alive():
                producer.join(TICK)
                self._drain_due()
                self._show_preparing()
                total = self.total / self.sample_rate if self.total else None
                self.status.tick(self.elapsed(), total, self.fader.paused, self._volume_db)
                if self._stop_at is not None and self._blocked_after_stop():
                    break
        finally:
            abandoned = producer.is_alive()
            if abandoned:
                self._leave_behind(producer)
            # An unpaced device (a file) finishes before the log catches up.
            self._drain_due(everything=not self.stopping)
            self.status.close()
        if self._error is not None and not self.stopping:
            raise self._error
        waits = tuple((step, n / self.sample_rate) for step, n in getattr(self._lazy, "waits", ()))
        return PlayResult(self._frames, self.output.underruns, float(self.output.latency),
                          getattr(self.output, "first_audible", None), self._signal, self._quit,
                          self._reopened, abandoned, waits)

    def _show_preparing(self) -> None:
        """Until the first sound, tell the status how far the speech is made ("preparing speech (3 of 40)").

        A cold start synthesises for some seconds before anything sounds;
        without a word the listener sees ``0:00 / ?`` and wonders. Looked at
        every :data:`PREPARING_EVERY` seconds (cache headers only); once sound
        flows, or a stop is asked for, the status is told it is over (None).
        """
        show = getattr(self.status, "preparing", None)  # duck-typed statuses may not have it
        if show is None:
            return
        if self._frames or self.stopping:
            if self._preparing_shown:
                self._preparing_shown = False
                show(None)
            return
        now = time.monotonic()
        if now < self._preparing_next:
            return
        self._preparing_next = now + PREPARING_EVERY
        try:
            progress = self.session.speech_progress()
        except Exception:  # the mixer thread meets (and reports) the same problem
            progress = None
        if progress is not None and progress[0] < progress[1]:
            self._preparing_shown = True
            show(progress)
        elif self._preparing_shown:
            self._preparing_shown = False
            show(None)

    def _blocked_after_stop(self) -> bool:
        """A stop was asked for and the mixer thread has had its time (see :attr:`stop_grace`).

        While blocks still reach the output, a fade is under way: it gets the
        whole grace. When none has for :data:`STALL` seconds, nothing is
        flowing and there is nothing to wait for.
        """
        if self._stop_at is None:
            return False
        waited = time.monotonic() - self._stop_at
        if waited > self.stop_grace:
            return True
        return waited > STALL and not self._closing and self._writes == self._writes_at_stop

    def _leave_behind(self, producer: threading.Thread) -> None:
        """The mixer thread is blocked below Python after a stop: end what it waits for, and go.

        Ending the speech workers (no grace) fails a clip it waits for; the
        output is told it will never be closed (a hung sound server).
        """
        leftovers.leave(producer, "the mixer thread was blocked when the session stopped")
        try:
            self.output.abandon()
        except AttributeError:
            pass  # an output that has no abandon(): it keeps nothing waiting at the process's exit
        try:
            self.session.close(grace=0.0)
        except (VoiceguideError, OSError):
            pass  # workers already gone or the cache folder unwritable: nothing left to end, the stop goes on
