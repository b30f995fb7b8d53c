"""``play``: pull the timeline through the mixer into the live output.

Threads, each with one job:

* the **mixer thread** renders blocks and writes them to the device (it may
  wait for a clip that the synthesizer's worker process is still making --
  synthesis runs ahead of it, in order); it also carries out seeks, pauses
  and volume changes, between blocks, so the mixer is only ever touched by
  one thread;
* the **main thread** waits, reacts to signals and keeps the status line;
* an optional **key thread** (:mod:`voiceguide.player.keys`) turns key presses
  into calls to :meth:`Player.handle_key`.

SIGINT and SIGTERM fade out within about a second and end the session;
``PlayResult.stopped_by`` tells which (the command line exits 130 for
Ctrl-C and 0 for SIGTERM, which is how a service manager asks politely).
SIGHUP is ignored when headless, so a closed SSH session does not stop a
session started with nohup.

If the device fails mid-session (a USB sink unplugged, a sound server
restarted), the output is reopened and the session goes on from the same
point, up to :data:`REOPEN_TRIES` times.
"""

from __future__ import annotations

import collections
import signal
import threading
import time
from dataclasses import dataclass
from typing import Deque, Optional, Tuple

import numpy as np

from voiceguide.errors import EXIT_INTERRUPTED, EXIT_OK, DeviceError, Interrupted
from voiceguide.player.session import Session
from voiceguide.player.status import Status
from voiceguide.sinks.live import DEFAULT_BLOCKSIZE, Device, DeviceLost, LiveOutput
from voiceguide.timeline import Event

_IMPORTED = time.time()

REOPEN_TRIES = 3
REOPEN_WAIT = 1.0
VOLUME_STEP_DB = 2.0
VOLUME_RANGE_DB = (-30.0, 12.0)
#: "back" within this long of a step's start goes to the step before it.
BACK_GRACE = 2.0


def process_start_time() -> float:
    """Wall-clock time this process started (Linux: from /proc), for start-up figures."""
    import os

    try:
        with open(f"/proc/{os.getpid()}/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return _IMPORTED


@dataclass
class PlayResult:
    frames: int
    underruns: int
    latency: float
    first_audible: Optional[float]
    stopped_by: Optional[int] = None   # the signal that ended the session early
    quit: bool = False                 # the listener pressed q
    reopened: int = 0                  # times the device was reopened

    def raise_if_stopped(self) -> None:
        """Raise :class:`Interrupted` with the exit code for the signal, if any."""
        if self.stopped_by is not None:
            code = EXIT_INTERRUPTED if self.stopped_by == signal.SIGINT else EXIT_OK
            raise Interrupted("stopped; take your time", exit_code=code)


class Player:
    """Plays one session on a device. Call :meth:`run` from the main thread."""

    def __init__(self, session: Session, *, device: Device = None, latency: Optional[float] = None,
                 start_at: Optional[str] = None, blocksize: int = DEFAULT_BLOCKSIZE,
                 status: Optional[Status] = None, headless: bool = False):
        self.session = session
        self.sample_rate = session.options.sample_rate
        self.blocksize = blocksize
        self.status = status or Status()
        self.headless = headless
        self._start_at = start_at
        self.output = LiveOutput(self.sample_rate, device=device, latency=latency, blocksize=blocksize)
        self._error: Optional[BaseException] = None
        self._signal: Optional[int] = None
        self._quit = False
        self._requests: Deque[Tuple[str, float]] = collections.deque()
        self._due: Deque[Tuple[float, Event]] = collections.deque()
        self._notes: Deque[str] = collections.deque()
        self._volume_db = 0.0
        self._seek_to: Optional[int] = None
        self._reopened = 0
        self.position = 0
        self.total: Optional[int] = None
        #: The last event the listener has heard begin (the step a stop happened in).
        self.heard: Optional[Event] = None

    # -- controls: any thread -------------------------------------------------------

    def toggle_pause(self) -> None:
        if self.output.paused:
            self.output.resume()
            self._note("resumed")
        else:
            self.output.pause()
            self._note("paused; press space to go on")

    def next(self) -> None:
        self._requests.append(("next", 0.0))

    def back(self) -> None:
        self._requests.append(("back", 0.0))

    def change_volume(self, delta_db: float) -> None:
        lo, hi = VOLUME_RANGE_DB
        self._volume_db = min(hi, max(lo, self._volume_db + delta_db))
        self._requests.append(("volume", self._volume_db))

    def quit(self) -> None:
        """Fade out and end, as the listener asked (exit 0)."""
        self._quit = True
        if self.output.paused:
            self.output.resume()
        self.output.stop()

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
        self._notes.append(text)  # shown by the main thread

    # -- the mixer thread ----------------------------------------------------------------

    def _timeline_to_play(self):
        """A lazily placed timeline when possible, so sound starts before synthesis ends."""
        session = self.session
        if self._start_at is None and session.options.length is None:
            return session.lazy_timeline()
        timeline = session.timeline()
        if self._start_at:
            self.position = timeline.start_of(self._start_at)
        return timeline

    def _heard_sample(self) -> int:
        """The sample the listener hears now (the device buffer is still ahead of it)."""
        return self.position - int(self.output.latency * self.sample_rate)

    def _target(self, timeline, what: str) -> Optional[int]:
        heard = self._heard_sample()
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
                self._note(f"volume {value:+.0f} dB")
                continue
            target = self._target(mixer.timeline, what)
            if target is None:
                self._note("this is the last step")
                continue
            self._seek_to = target
            self.output.fade_out()

    def _announce(self, timeline, start: int, n: int, announced: int) -> int:
        events = timeline.events_until(start + n)
        while announced < len(events) and events[announced].start < start + n:
            event = events[announced]
            if event.end > start:
                delay = max(0, event.start - start) / self.sample_rate + self.output.latency
                self._due.append((time.monotonic() + delay, event))
            announced += 1
        return announced

    def _produce(self) -> None:
        try:
            mixer = self.session.mixer(self._timeline_to_play())
            self.total = mixer.length
            if self.total is None:
                threading.Thread(target=self._measure_total, name="voiceguide-total", daemon=True).start()
            block = np.zeros(self.blocksize, dtype=np.float32)
            announced = 0
            output = self.output
            output.start()
            while True:
                self._handle_requests(mixer)
                if self._seek_to is not None and output.silent:
                    self.position, self._seek_to = self._seek_to, None
                    placed = mixer.timeline.events_until(self.position + 1)
                    announced = next((i for i, e in enumerate(placed) if e.end > self.position), len(placed))
                    self._due.clear()
                    if not output.paused:
                        output.fade_in()
                if output.paused and output.silent and not output.stopping:
                    self._write_silence()
                    continue
                n = mixer.frames_at(self.position, self.blocksize)
                if mixer.length is not None:
                    self.total = mixer.length
                if n == 0:
                    break
                view = block[:n]
                mixer.render(self.position, view)
                announced = self._announce(mixer.timeline, self.position, n, announced)
                if not self._write(view):
                    break
                self.position += n
        except BaseException as exc:  # re-raised by run() in the main thread
            self._error = exc

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

    def _write(self, view: np.ndarray) -> bool:
        while True:
            try:
                return self.output.write(view)
            except DeviceLost as exc:
                self._reopen(exc)

    def _write_silence(self) -> None:
        try:
            self.output.write_silence(self.blocksize)
        except DeviceLost as exc:
            self._reopen(exc)

    def _reopen(self, exc: DeviceLost) -> None:
        """Reopen the device; the block that failed is written again, so nothing is skipped."""
        for attempt in range(1, REOPEN_TRIES + 1):
            self._note(f"{exc}; reopening the device ({attempt}/{REOPEN_TRIES})")
            time.sleep(REOPEN_WAIT)
            if self.output.stopping:
                return
            try:
                self.output.reopen()
                self._reopened += 1
                self._note("the device is back; going on from where we were")
                return
            except DeviceError:
                continue
        raise DeviceError(f"{exc}, and it could not be reopened after {REOPEN_TRIES} tries; "
                          f"check the device, then `voiceguide play ... --from` a section to go on")

    # -- the main thread -------------------------------------------------------------------

    def _on_signal(self, signum, frame) -> None:
        self._signal = signum
        if self.output.paused:
            self.output.resume()
        self.output.stop()

    def _drain_due(self, everything: bool = False) -> None:
        while self._notes:
            self.status.message(self._notes.popleft())
        now = float("inf") if everything else time.monotonic()
        while self._due and self._due[0][0] <= now:
            _, event = self._due.popleft()
            self.heard = event
            self.status.event(event, event.start / self.sample_rate)

    def elapsed(self) -> float:
        return max(0.0, self.position / self.sample_rate - self.output.latency)

    def run(self) -> PlayResult:
        """Play to the end, or until q, SIGINT or SIGTERM (see :class:`PlayResult`)."""
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, self._on_signal)
            previous[signal.SIGHUP] = signal.signal(
                signal.SIGHUP, signal.SIG_IGN if self.headless else self._on_signal)
        producer = threading.Thread(target=self._produce, name="voiceguide-mixer", daemon=True)
        try:
            producer.start()
            while producer.is_alive():
                producer.join(0.1)
                self._drain_due()
                total = self.total / self.sample_rate if self.total else None
                self.status.tick(self.elapsed(), total, self.output.paused, self._volume_db)
        finally:
            self.output.stop()
            producer.join(timeout=2.0)
            self.output.close()
            # An unpaced device (a file) finishes before the log catches up.
            self._drain_due(everything=self._signal is None and not self._quit)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.status.close()
        if self._error is not None:
            raise self._error
        return PlayResult(self.output.frames_played, self.output.underruns, self.output.latency,
                          self.output.first_audible, self._signal, self._quit, self._reopened)
