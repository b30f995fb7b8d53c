"""A speech worker started before the voice is known, for ``play``'s cold first word (issue 24).

A cold first word waits for a worker: a fresh interpreter, numpy,
onnxruntime and piper (~0.15-0.25 s here, several times that on a Pi), the
voice's model, then the first clause. None of the first part depends on the
voice, so ``play`` calls :func:`begin` first thing, before the exercise is
even loaded: a worker starts with ``--deferred``, imports what any worker
imports (and onnxruntime and piper when they are installed and the machine
can afford Piper), and waits for one line saying which engine to load.

The synthesizer's first worker takes it (:func:`take`, from
:meth:`voiceguide.synth.dispatch.Dispatcher._worker`) instead of starting
a process, and sends the engine's arguments as that line
(:class:`~voiceguide.synth.workers.Worker` with ``deferred``). Only a
synthesizer using the default worker command takes it (tests with a worker
of their own never do).

Nobody takes it when every clip is cached: the player then calls
:func:`discard` (end of input: it exits), and the worker also gives up by
itself after :data:`DEFERRED_WAIT` seconds without its line, so it never
holds ~100 MB for a warm session. It dies with the player like any worker.

Traps: :func:`begin` is only for the process's main thread, like every
worker start (``PR_SET_PDEATHSIG`` fires when the starting *thread* ends;
see :mod:`.lifetime`); and it is skipped where the process has less than
two cores (a CPU quota, one core): there its imports would only slow the
player's own start, and a warm session (the usual case) gains nothing.
"""

from __future__ import annotations

import threading
from typing import List, Optional

from .workers import Spawned, WorkerFailed, default_worker_argv, end, spawn

__all__ = ["DEFERRED_FLAG", "DEFERRED_WAIT", "begin", "discard", "take"]

#: The worker's option for this mode (:func:`voiceguide.synth.worker.main`).
DEFERRED_FLAG = "--deferred"
#: Seconds a deferred worker waits for its engine before it exits.
DEFERRED_WAIT = 10.0

_lock = threading.Lock()
_waiting: Optional[Spawned] = None
_argv: List[str] = []


def begin() -> bool:
    """Start the deferred worker now, once per process; False where it is not worth it (see the notes)."""
    global _waiting, _argv
    from .budget import usable_cores

    if usable_cores() < 2:
        return False
    with _lock:
        if _waiting is not None:
            if _waiting.proc.poll() is None:
                return True
            end(_waiting)   # gave up waiting (an earlier session in this process): a fresh one
            _waiting = None
        argv = default_worker_argv()
        try:
            _waiting = spawn(argv + [DEFERRED_FLAG, "--wait", str(DEFERRED_WAIT)])
        except WorkerFailed:
            return False
        _argv = argv
        return True


def take(worker_argv: List[str]) -> Optional[Spawned]:
    """The waiting worker, if it runs the same worker command as *worker_argv* and is still there."""
    global _waiting
    with _lock:
        found = _waiting
        if found is None or list(worker_argv) != _argv:
            return None
        _waiting = None
    if found.proc.poll() is not None:   # gave up waiting: a worker is started as usual
        end(found)
        return None
    return found


def discard() -> None:
    """Let the waiting worker go (every clip was cached): it exits at the end of its input."""
    global _waiting
    with _lock:
        found, _waiting = _waiting, None
    if found is not None:
        threading.Thread(target=end, args=(found,), name="voiceguide-prestart-end", daemon=True).start()
