"""How speech worker processes end: never after their parent.

A worker reads requests from its stdin and ends at end of input, but a
worker busy in a hung engine reads nothing. So on Linux it also asks the
kernel to kill it when its parent dies (``prctl(PR_SET_PDEATHSIG,
SIGKILL)``), and exits at once if the parent is already gone (the parent
pid is passed in, so the race between the parent's death and the ``prctl``
call is closed). Elsewhere a small thread watches the parent pid instead.

Trap: ``PR_SET_PDEATHSIG`` fires when the *thread* that started the process
ends, not only the process.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Optional

#: prctl option number (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: Optional[int] = None) -> None:
    """End this process when its parent ends; at once if *parent* is already gone."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            _watch(parent)
    else:
        _watch(parent)
    if parent is not None and os.getppid() != parent:
        os._exit(0)


def _watch(parent: Optional[int]) -> None:
    """Where prctl is missing: a thread that ends the process once it is orphaned."""
    if parent is None:
        parent = os.getppid()
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="voiceguide-parent-watch", daemon=True).start()
