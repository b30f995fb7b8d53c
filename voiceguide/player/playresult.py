"""What a played session reports (:class:`PlayResult`), and when this process started.

Why a module of its own: the result is read by everyone around a player
(``play``'s exit code and ``-v`` figures, the practice log, the station's
runner) and holds no part of playing; :func:`process_start_time` is the zero
of ``play -v``'s start-up figures (the first audible sample, measured from
the process's own start).
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from typing import Optional, Tuple

from voiceguide.errors import EXIT_INTERRUPTED, EXIT_OK, Interrupted

__all__ = ["PlayResult", "process_start_time"]

_IMPORTED = time.time()


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
    frames: int                        # session frames written (after seeks, the ones heard)
    underruns: int
    latency: float
    first_audible: Optional[float]
    stopped_by: Optional[int] = None   # the signal that ended the session early
    quit: bool = False                 # the listener pressed q (or the station stopped it)
    reopened: int = 0                  # times the device was reopened
    abandoned: bool = False            # the mixer thread was blocked and left behind after a stop
    waits: Tuple[Tuple[int, float], ...] = ()  # (step, seconds) spent waiting for synthesis

    def raise_if_stopped(self) -> None:
        """Raise :class:`Interrupted` with the exit code for the signal, if any."""
        if self.stopped_by is not None:
            code = EXIT_INTERRUPTED if self.stopped_by == signal.SIGINT else EXIT_OK
            raise Interrupted("stopped; take your time", exit_code=code)
