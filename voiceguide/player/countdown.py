"""A start delay: a moment to settle before a session begins (``play --delay``, the station's ``delay``).

"I press start, put the phone down, walk to the cushion and get
comfortable": the session waits *seconds* in silence, then a soft chime
marks its beginning. The same object serves the terminal player (its keys:
space starts at once, p pauses the count, q quits) and the station (the
API's pause, resume, toggle and stop act on a session that is still
``starting``), so both count the same way.

A :class:`Countdown` is only a clock that other threads can pause, skip and
cancel; it plays nothing and imports nothing of the audio stack. Whoever
waits on it (:meth:`Countdown.wait`) is told each tick how long is left, to
show it ("starting in 1:40").

Traps:

* Pausing freezes what is left; resuming counts on from there (a pause is
  not a restart).
* :meth:`wait` returns ``False`` when the countdown was cancelled: the
  session must not start then. It never raises for a cancel.
* The practice log counts a session from its first sound, so a delay is
  never logged as listening.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional

__all__ = ["Countdown", "MAX_DELAY_SECONDS", "parse_delay"]

#: The longest start delay: an hour (a longer wait is a schedule's job: ``voiceguide schedule add``).
MAX_DELAY_SECONDS = 3600.0

#: How often :meth:`Countdown.wait` calls its tick (seconds): often enough for a smooth count.
TICK_SECONDS = 0.25


def parse_delay(value: object, what: str = "delay") -> float:
    """A start delay in seconds from ``"30s"``, ``"2m"``, ``"1m30s"`` or a number of seconds (0 = none).

    The one rule for ``play --delay``, ``ctl play --delay``, ``POST
    /api/play``'s ``delay`` and ``start_delay`` under ``[station]``. Raises
    :class:`~voiceguide.errors.UsageError` with a line a person can act on.
    """
    from voiceguide.errors import UsageError
    from voiceguide.script.units import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None
    if seconds > MAX_DELAY_SECONDS:
        raise UsageError(f"{what}: at most {MAX_DELAY_SECONDS / 60:.0f}m; for a later start, "
                         f"`voiceguide schedule add` plays it at a set time")
    return seconds


class Countdown:
    """Seconds of waiting before a session, which any thread may pause, resume, skip or cancel."""

    def __init__(self, seconds: float, *, paused: bool = False, clock: Callable[[], float] = time.monotonic):
        if not seconds >= 0:
            raise ValueError(f"a start delay cannot be {seconds!r} seconds")
        self._clock = clock
        self._cond = threading.Condition()
        self._left = float(seconds)           # while paused: what is left; else: from _since
        self._since: Optional[float] = None if paused else clock()
        self._skipped = False
        self._cancelled = False

    # -- what is going on (any thread) ---------------------------------------------------

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._since is None and not self._finished()

    @property
    def cancelled(self) -> bool:
        with self._cond:
            return self._cancelled

    def left(self) -> float:
        """Seconds until the session starts (0 once skipped or over; frozen while paused)."""
        with self._cond:
            return self._left_now()

    def _left_now(self) -> float:
        if self._skipped or self._cancelled:
            return 0.0
        if self._since is None:
            return max(0.0, self._left)
        return max(0.0, self._left - (self._clock() - self._since))

    def _finished(self) -> bool:
        return self._skipped or self._cancelled or (self._since is not None and self._left_now() <= 0.0)

    # -- controls (any thread) -------------------------------------------------------------

    def pause(self) -> None:
        with self._cond:
            if self._since is not None:
                self._left = self._left_now()
                self._since = None
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            if self._since is None:
                self._since = self._clock()
            self._cond.notify_all()

    def toggle(self) -> None:
        """Pause a running count, resume a paused one."""
        with self._cond:
            paused = self._since is None
        if paused:
            self.resume()
        else:
            self.pause()

    def skip(self) -> None:
        """Start now (space on the terminal): :meth:`wait` returns ``True`` at once."""
        with self._cond:
            self._skipped = True
            self._cond.notify_all()

    def cancel(self) -> None:
        """Do not start at all (q, stop): :meth:`wait` returns ``False`` at once."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    # -- the waiting thread -------------------------------------------------------------------

    def wait(self, tick: Optional[Callable[[float, bool], None]] = None, interval: float = TICK_SECONDS) -> bool:
        """Block until the count is over (``True``: start the session) or cancelled (``False``).

        *tick* is called about every *interval* seconds, outside the lock,
        with the seconds left and whether the count is paused.
        """
        while True:
            with self._cond:
                if self._cancelled:
                    return False
                if self._finished():
                    return True
                left, paused = self._left_now(), self._since is None
            if tick is not None:
                tick(left, paused)
            with self._cond:
                if self._cancelled or self._finished():
                    continue
                timeout = interval if paused else min(interval, self._left_now())
                self._cond.wait(max(timeout, 0.001))
