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

**The voice is guessed, too.** Each Piper pool remembers its first
worker's arguments in the models folder (:func:`remember`,
:data:`GUESS_FILE`); the next early worker gets them as ``--guess`` and
loads that model while the player is still loading the exercise. It keeps
it only if the player then asks for exactly those arguments; a wrong guess
(another voice, settings changed) costs one load and is dropped. The
file is ours, read and written through :mod:`voiceguide.ownfiles`; a
damaged one is no guess.

Traps: :func:`begin` is only for the process's main thread, like every
worker start (``PR_SET_PDEATHSIG`` fires when the starting *thread* ends;
see :mod:`.lifetime`); and it is skipped where the process has less than
two cores (a CPU quota, one core): there its imports would only slow the
player's own start, and a warm session (the usual case) gains nothing.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import List, Optional

from .workers import Spawned, WorkerFailed, default_worker_argv, end, spawn

__all__ = ["DEFERRED_FLAG", "DEFERRED_WAIT", "GUESS_FILE", "OFF_ENV", "begin", "discard", "remember", "take"]

#: The worker's option for this mode (:func:`voiceguide.synth.worker.main`).
DEFERRED_FLAG = "--deferred"
#: Set (to anything but 0) to start no early worker: for comparing (benchmarks/first_word.py).
OFF_ENV = "VOICEGUIDE_NO_EARLY_WORKER"
#: Seconds a deferred worker waits for its engine before it exits.
DEFERRED_WAIT = 10.0
#: In the speech cache's models folder: the last Piper pool's first worker's arguments.
GUESS_FILE = "next-worker.json"
#: The largest guess file read (a real one is a few hundred bytes).
GUESS_LIMIT = 8192

_lock = threading.Lock()
_waiting: Optional[Spawned] = None


def begin() -> bool:
    """Start the deferred worker now, once per process; False where it is not worth it (see the notes)."""
    global _waiting
    from .budget import usable_cores

    if usable_cores() < 2 or os.environ.get(OFF_ENV, "").strip() not in ("", "0"):
        return False
    with _lock:
        if _waiting is not None:
            if _waiting.proc.poll() is None:
                return True
            end(_waiting)   # gave up waiting (an earlier session in this process): a fresh one
            _waiting = None
        argv = default_worker_argv()
        guess = _guess()
        try:
            _waiting = spawn(argv + [DEFERRED_FLAG, "--wait", str(DEFERRED_WAIT)]
                             + (["--guess", json.dumps(guess)] if guess else []))
        except WorkerFailed:
            return False
        return True


def take(worker_argv: List[str]) -> Optional[Spawned]:
    """The waiting worker, if it runs the same worker command as *worker_argv* and is still there."""
    global _waiting
    with _lock:
        found = _waiting
        if found is None or list(worker_argv) != default_worker_argv():
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


def remember(cache_dir: Path, engine_args: List[str]) -> None:
    """Keep *engine_args* (a Piper pool's first worker's) as the next early worker's guess; never raises."""
    from voiceguide.atomic import atomic_file
    from voiceguide.ownfiles import own_folder

    folder = Path(cache_dir) / "models"
    data = json.dumps({"start": list(engine_args)})
    try:
        if _read_guess(folder / GUESS_FILE) == list(engine_args):
            return
    except (OSError, ValueError):
        pass   # damaged, or a link in its place: replaced (a rename replaces a link, never follows it)
    try:
        own_folder(folder, mode=0o700)
        with atomic_file(folder / GUESS_FILE, "w", encoding="utf-8") as f:
            f.write(data)
    except OSError:
        pass   # no guess next time: the worker loads after the player asks, as it always could


def _guess() -> Optional[List[str]]:
    from .cachefolder import default_cache_dir

    try:
        return _read_guess(default_cache_dir() / "models" / GUESS_FILE)
    except (OSError, ValueError):
        return None


def _read_guess(path: Path) -> Optional[List[str]]:
    """The arguments in a guess file; None if there is none. Raises OSError (a link...) or ValueError."""
    from voiceguide.ownfiles import read_own

    try:
        found = json.loads(read_own(path, GUESS_LIMIT, what="worker guess").decode("utf-8"))["start"]
    except FileNotFoundError:
        return None
    except (KeyError, TypeError, UnicodeDecodeError) as e:
        raise ValueError(str(e)) from None
    if not isinstance(found, list) or not all(isinstance(a, str) for a in found):
        raise ValueError("not a list of arguments")
    return found
