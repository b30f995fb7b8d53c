"""Threads left blocked below Python after a stop, and an exit that does not wait for them.

A mixer thread can block in C for good: in PortAudio's write on a hung
sound server, in ``open()`` of a FIFO. Python cannot interrupt it. After a
stop the player leaves it behind (:meth:`voiceguide.player.player.Player.run`
returns anyway); then the process must not wait for it at exit either --
interpreter shutdown and library exit handlers may block on the same
resource. :func:`exit_if_left` ends the process at once (after flushing our
own output) when such a thread is still alive; the command line calls it
on its way out.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import List, Tuple

_left: List[Tuple[threading.Thread, str]] = []


def leave(thread: threading.Thread, why: str) -> None:
    """Record *thread* as blocked for good (it must be a daemon thread)."""
    _left.append((thread, why))


def stuck() -> List[str]:
    """Why each recorded thread that is still alive was left."""
    return [why for thread, why in _left if thread.is_alive()]


def exit_if_left(code: int) -> None:
    """``os._exit(code)`` after flushing stdout and stderr, if a left thread is still alive."""
    if not stuck():
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stream (EPIPE, a closed file): what it held is lost with the process anyway
    os._exit(code)
