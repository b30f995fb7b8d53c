"""``play``: pull the timeline through the mixer into the live output.

Two threads take part, each with one job:

* the **mixer thread** renders blocks and writes them to the device (it may
  wait for a clip that the synthesizer's worker process is still making --
  synthesis runs ahead of it, in order);
* the **main thread** waits, reacts to signals and reports progress.

SIGINT and SIGTERM fade out within about a second and end the session:
:class:`~voiceguide.errors.Interrupted` carries the exit code (130 for
Ctrl-C, 0 for SIGTERM, which is how a service manager asks politely).
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from voiceguide.errors import EXIT_INTERRUPTED, EXIT_OK, Interrupted
from voiceguide.session import Session
from voiceguide.stream import DEFAULT_BLOCKSIZE, Device, LiveOutput
from voiceguide.timeline import Event

_IMPORTED = __import__("time").time()


def process_start_time() -> float:
    """Wall-clock time this process started (Linux: from /proc), for start-up figures."""
    import os
    import time

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

    def raise_if_stopped(self) -> None:
        """Raise :class:`Interrupted` with the exit code for the signal, if any."""
        if self.stopped_by is not None:
            code = EXIT_INTERRUPTED if self.stopped_by == signal.SIGINT else EXIT_OK
            raise Interrupted("stopped; take your time", exit_code=code)


class Player:
    """Plays one session on a device. Call :meth:`run` from the main thread."""

    def __init__(self, session: Session, *, device: Device = None, latency: Optional[float] = None,
                 start_at: Optional[str] = None, blocksize: int = DEFAULT_BLOCKSIZE,
                 on_event: Optional[Callable[[Event], None]] = None):
        self.session = session
        self.blocksize = blocksize
        self.on_event = on_event
        self._start_at = start_at
        self.output = LiveOutput(session.options.sample_rate, device=device, latency=latency,
                                 blocksize=blocksize)
        self._error: Optional[BaseException] = None
        self._signal: Optional[int] = None
        self.position = 0

    def _source(self):
        """A lazily placed stream when possible, so sound starts before synthesis ends."""
        session = self.session
        if self._start_at is None and session.options.length is None:
            return session.stream()
        timeline = session.timeline()
        if self._start_at:
            self.position = timeline.start_of(self._start_at)
        return timeline

    def _produce(self) -> None:
        try:
            mixer = self.session.mixer(self._source())
            block = np.zeros(self.blocksize, dtype=np.float32)
            announced = 0
            output = self.output
            output.start()
            while True:
                if output.paused and output.silent and not output.stopping:
                    output.write_silence(self.blocksize)
                    continue
                mixer.ensure_placed(self.position + self.blocksize)
                length = mixer.length
                n = self.blocksize if length is None else min(self.blocksize, length - self.position)
                if n <= 0:
                    break
                view = block[:n]
                mixer.render(self.position, view)
                if self.on_event is not None:
                    events = mixer.events
                    while announced < len(events) and events[announced].start < self.position + n:
                        if events[announced].end > self.position:
                            self.on_event(events[announced])
                        announced += 1
                if not output.write(view):
                    break
                self.position += n
        except BaseException as exc:  # re-raised by run() in the main thread
            self._error = exc

    def _on_signal(self, signum, frame) -> None:
        self._signal = signum
        self.output.stop()

    def run(self) -> PlayResult:
        """Play to the end, or until SIGINT/SIGTERM (see ``PlayResult.stopped_by``)."""
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, self._on_signal)
        producer = threading.Thread(target=self._produce, name="voiceguide-mixer", daemon=True)
        try:
            producer.start()
            while producer.is_alive():
                producer.join(0.1)
        finally:
            self.output.stop()
            producer.join(timeout=2.0)
            self.output.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self._error is not None:
            raise self._error
        return PlayResult(self.output.frames_played, self.output.underruns,
                          self.output.latency, self.output.first_audible, self._signal)
