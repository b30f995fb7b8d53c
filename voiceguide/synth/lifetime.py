"""How a speech worker starts and ends: only our own code, and never after its player.

**Only the installed package is imported.** ``python -m`` puts the current
folder first on ``sys.path``: run from a folder holding a ``voiceguide/``
package (an unpacked archive, another checkout), *that* package's worker
would run. So a worker starts as ``python -c BOOT``, where :func:`boot_code`
first replaces the current-folder entry of ``sys.path`` with the folder this
very package was imported from, and only then imports the worker. The
environment (``PYTHONPATH``, a virtualenv, a user install) keeps working, which
``python -I`` would not allow.

**A worker never outlives its player.** It reads requests from its stdin
and ends at end of input, but a worker busy in a hung engine reads nothing.
So on Linux it also asks the kernel to kill it when its parent dies
(``prctl(PR_SET_PDEATHSIG, SIGKILL)``), exits at once if the parent is
already gone (the parent pid is passed in, so the race between the player's
death and the ``prctl`` call is closed), and a small thread watches the
parent pid as well (everywhere: the only way where ``prctl`` is missing).

Trap: ``PR_SET_PDEATHSIG`` fires when the *thread* that started the process
ends, not only the process. The synthesizer starts workers from its
dispatcher threads, which live as long as their pool; a worker started from
a short-lived thread would be killed when that thread returns.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Optional

#: prctl option number (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


def package_root() -> str:
    """The folder the running ``voiceguide`` package was imported from."""
    return str(Path(__file__).resolve().parents[2])


def boot_code(module: str = "voiceguide.synth.worker", function: str = "main") -> str:
    """Python source that imports *module* from :func:`package_root` only and exits with its *function*()."""
    return (
        "import sys; "
        f"sys.path[:] = [{package_root()!r}] + [p for p in sys.path if p not in ('', '.')]; "
        f"from {module} import {function}; sys.exit({function}())"
    )


def die_with_parent(parent: Optional[int] = None, watch: bool = False) -> None:
    """End this process when its parent ends; at once if *parent* is already gone.

    On Linux the kernel sends SIGKILL when the parent goes (it reaches a
    stopped or wedged process too). With *watch*, or where ``prctl`` is
    missing, a thread also polls the parent pid. A process that will
    ``fork()`` may still watch: the thread only sleeps and never exists in
    the child.
    """
    armed = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if parent is not None and os.getppid() != parent:
        os._exit(0)  # gone already, before the kernel was asked
    if watch or not armed:
        _watch(parent)


def _watch(parent: Optional[int]) -> None:
    """A thread that ends the process once it is orphaned (its parent pid changes)."""
    if parent is None:
        parent = os.getppid()
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
