"""Speech worker processes as the synthesizer sees them: start, ask, time out, kill.

A :class:`Worker` is one ``voiceguide.synth.worker`` process (one engine, for
Piper one model) spoken to over a pipe of JSON lines; a :class:`Pool` is a
voice's set of worker slots with its priority queue; a :class:`Job` is one
clip asked for. :func:`list_voices` asks a short-lived worker for espeak-ng's
voices, so the caller's process never initialises espeak.

Traps: a worker that does not answer within its timeout is killed, never
waited for (pyttsx3 hangs on some platforms); a worker's stderr is read in a
thread so a chatty engine can never fill the pipe and block it.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Callable, List, NamedTuple, Optional, Sequence, Tuple, cast

from ..errors import EngineError

__all__ = ["NoEngine", "Job", "ModelBroken", "Pool", "Spawned", "Worker", "WorkerFailed", "default_worker_argv",
           "list_voices", "missing_engine_error", "end", "piper_workers", "spawn"]

log = logging.getLogger("voiceguide.synth")

def default_worker_argv() -> List[str]:
    """``python -c`` importing only this package (see :mod:`voiceguide.synth.lifetime`)."""
    from .lifetime import boot_code

    return [sys.executable, "-c", boot_code()]


def missing_engine_error(detail: str, engine: str = "espeak") -> EngineError:
    from .engines import module

    if engine == "piper":
        return EngineError(f"the Piper voice engine cannot load ({detail}); {module(engine).MISSING_HINT}")
    return EngineError(f"no speech engine (espeak-ng via pyttsx3: {detail}); {module(engine).MISSING_HINT}")


def piper_workers(limit: Optional[int] = None) -> int:
    """How many Piper workers this machine allows (at least 1): see :func:`voiceguide.synth.budget.piper_plan`.

    0 there (too little memory) is the voice's choice to make (:mod:`.voices`
    falls back to espeak-ng); a pool asked for anyway gets one worker.
    """
    from .budget import piper_plan

    return max(1, piper_plan(limit))


class WorkerFailed(Exception):
    """The worker hung, died or spoke nonsense: kill it, maybe retry."""


class Spawned(NamedTuple):
    """A worker process just started, and the file its stderr goes to."""

    proc: "subprocess.Popen[bytes]"
    stderr: IO[bytes]


def spawn(argv: Sequence[str]) -> Spawned:
    """Start a worker process (:class:`Worker` speaks to it); raises :class:`WorkerFailed`."""
    stderr = tempfile.TemporaryFile()
    env = os.environ.copy()
    # The worker must import this very package, even from a source tree
    # (the default command also puts it first itself, see lifetime.py).
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["VOICEGUIDE_WORKER_PARENT"] = str(os.getpid())  # worker.die_with_parent
    # One thread is all a worker needs; idle BLAS threads would only cost
    # memory (and the espeak worker forks per utterance).
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                env=env, close_fds=True)
    except OSError as e:
        stderr.close()
        raise WorkerFailed(f"cannot start the speech worker {argv[0]!r}: {e}") from e
    return Spawned(proc, stderr)


def _close_pipes(proc: "subprocess.Popen[bytes]") -> None:
    for f in (proc.stdin, proc.stdout):
        try:
            if f is not None:
                f.close()
        except (OSError, ValueError):
            pass


def end(spawned: Spawned, kill: bool = False) -> None:
    """End a worker no :class:`Worker` speaks to: end of input (it exits), or killed; reaped, files closed."""
    proc = spawned.proc
    if kill:
        _kill(proc)
    _close_pipes(proc)
    try:
        proc.wait(timeout=2.0)
    except subprocess.TimeoutExpired:
        _kill(proc)
    _reap(proc, spawned.stderr)


def _kill(proc: "subprocess.Popen[bytes]") -> None:
    try:
        proc.kill()
    except OSError:
        pass


def _reap(proc: "subprocess.Popen[bytes]", stderr: IO[bytes]) -> None:
    """Wait for *proc* (a few seconds at most) and close its pipes and its stderr file."""
    try:
        proc.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        pass
    _close_pipes(proc)
    try:
        stderr.close()
    except (OSError, ValueError):
        pass


class Worker:
    """One worker process, its pipes and a reader thread.

    The reader thread turns stdout lines into a queue so that every wait has
    a timeout (a pipe read has none). stderr goes to an anonymous temporary
    file, quoted when the worker fails: it never reaches the user's terminal
    and can never fill a pipe and block the worker.
    """

    def __init__(self, argv: Sequence[str], startup_timeout: float, starting: Optional[set] = None,
                 deferred: Optional[Tuple[Spawned, Sequence[str]]] = None):
        """*starting*, if given, holds the process while it starts (the pool's close kills those too).

        *deferred*: a worker started before its engine was known
        (:mod:`.prestart`) and the engine's arguments, sent as its first
        line instead of starting a process with *argv*.
        """
        if deferred is None:
            self.proc, self._stderr = spawn(argv)
        else:
            (self.proc, self._stderr), engine_args = deferred
            try:
                stdin = cast(IO[bytes], self.proc.stdin)  # stdin=PIPE
                stdin.write((json.dumps({"start": list(engine_args)}) + "\n").encode("utf-8"))
                stdin.flush()
            except (OSError, ValueError) as e:
                end(deferred[0], kill=True)
                raise WorkerFailed(f"the speech worker started early is gone: {e}") from e
        self.pid = self.proc.pid
        self._lines: "queue.Queue[Optional[bytes]]" = queue.Queue()
        self._reader = threading.Thread(
            target=self._read, name=f"voiceguide-synth-reader-{self.pid}", daemon=True
        )
        self._reader.start()
        self._ids = itertools.count(1)
        if starting is not None:
            starting.add(self.proc)
        try:
            hello = self._next_message(startup_timeout, "start")
        except WorkerFailed:
            self.kill()
            raise
        finally:
            if starting is not None:
                starting.discard(self.proc)
        if hello.get("ready") is True:
            return
        self.kill()
        if hello.get("kind") == "missing":
            raise NoEngine(str(hello.get("error", "")))
        if hello.get("kind") == "model":
            raise ModelBroken(str(hello.get("error", "")))
        raise WorkerFailed(f"the speech worker did not start: {hello!r}")

    def _read(self) -> None:
        out = cast(IO[bytes], self.proc.stdout)  # stdout=PIPE
        try:
            for line in out:
                self._lines.put(line)
        except (OSError, ValueError):
            pass
        self._lines.put(None)

    def stderr_tail(self, limit: int = 400) -> str:
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""
        return text[-limit:]

    def _next_message(self, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerFailed(f"the speech worker did not answer within {timeout:g} s ({what})")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                try:
                    code = self.proc.wait(timeout=1.0)
                except subprocess.TimeoutExpired:
                    code = None
                tail = self.stderr_tail()
                raise WorkerFailed(
                    f"the speech worker exited (code {code}) during {what}" + (f": {tail}" if tail else "")
                )
            try:
                msg = json.loads(line)
            except ValueError:
                continue  # not ours; the protocol lines are JSON objects
            if isinstance(msg, dict):
                return msg

    def request(self, message: dict, timeout: float, on_head: Optional[Callable[[dict], None]] = None) -> dict:
        """Send *message*; its answer. A head line before it (see :mod:`.worker`) goes to *on_head*."""
        rid = next(self._ids)
        line = (json.dumps(dict(message, id=rid)) + "\n").encode("ascii")
        stdin = cast(IO[bytes], self.proc.stdin)  # stdin=PIPE
        try:
            stdin.write(line)
            stdin.flush()
        except (OSError, ValueError) as e:
            raise WorkerFailed(f"the speech worker is gone: {e}") from e
        deadline = time.monotonic() + timeout
        while True:
            reply = self._next_message(max(0.0, deadline - time.monotonic()), "synthesis")
            if reply.get("id") != rid:
                continue
            if reply.get("head") is True:
                if on_head is not None:
                    on_head(reply)
                else:
                    cache_temp = reply.get("temp")
                    if isinstance(cache_temp, str):
                        _remove_quietly(Path(cache_temp))
                continue
            return reply

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """Kill the process and reap it (a hung pyttsx3 ignores politeness)."""
        _kill(self.proc)
        self._reap()

    def close(self, grace: float = 1.0) -> None:
        """Ask the worker to exit (end of input), kill it if it does not."""
        try:
            cast(IO[bytes], self.proc.stdin).close()  # stdin=PIPE
        except (OSError, ValueError):
            pass
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()
        self._reap()

    def _reap(self) -> None:
        _reap(self.proc, self._stderr)


def _remove_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class NoEngine(Exception):
    """The worker started but its engine cannot load (not installed): say which package to install."""


class ModelBroken(Exception):
    pass


class Pool:
    """The workers of one engine (and model): their queue, slots and threads.

    Holds no reference to the :class:`Synthesizer`, so that its finalizer
    can end the workers when the synthesizer is garbage-collected.
    """

    def __init__(self, engine: str, argv: List[str], size: int, first_argv: Optional[List[str]] = None):
        self.engine = engine
        self.argv = argv
        #: The pool's first worker's command: Piper's may use more threads (see Dispatcher._pool).
        self.first_argv = argv if first_argv is None else first_argv
        self.size = size
        self.queue: "queue.PriorityQueue" = queue.PriorityQueue()
        self.slots: List[Optional[Worker]] = [None] * size
        #: Worker processes still starting (not in a slot yet): close kills them too.
        self.starting: set = set()
        self.threads: List[threading.Thread] = []
        self.fatal: Optional[EngineError] = None
        #: One worker starts at a time (issue 24): the first clip's worker
        #: gets the CPU to itself while it loads, instead of sharing it with
        #: a second worker loading its own model (on a Pi, or in a CPU quota,
        #: that halves the first word's speed).
        self.start_lock = threading.Lock()
        #: Workers this pool has started (see :attr:`spoke`).
        self.started = 0
        #: Set once a worker of this pool has answered a request (a head, a clip or an error), and on
        #: close. A second worker starts only after it: on a small machine the first clause would
        #: otherwise share the CPU with a second model loading (~0.3 s of CPU) while the listener
        #: waits for the first word (issue 24).
        self.spoke = threading.Event()


class Job:
    __slots__ = ("key", "request", "priority", "state", "done", "length", "error", "pool")

    def __init__(self, key: str, request: dict, priority: int, pool: Pool):
        self.key = key
        self.request = request
        self.priority = priority
        self.pool = pool
        self.state = "pending"          # pending -> running -> done
        self.done = threading.Event()
        self.length: Optional[int] = None
        self.error: Optional[BaseException] = None


def list_voices(timeout: float = 15.0, worker_argv: Optional[Sequence[str]] = None) -> List[dict]:
    """espeak-ng's voices: ``[{"id", "name", "languages", "default"}]``.

    Asked of a short-lived worker process, so the caller's process never
    initialises espeak (which it could never re-initialise or unload).
    Raises :class:`EngineError` when there is no engine. Piper voices are
    files: :func:`voiceguide.synth.voices.piper_voices` lists them.
    """
    argv = (list(worker_argv) if worker_argv else default_worker_argv()) + ["--engine", "espeak"]
    try:
        w = Worker(argv, max(timeout, 5.0))
    except NoEngine as e:
        raise missing_engine_error(str(e)) from None
    except WorkerFailed as e:
        raise EngineError(f"cannot list voices: {e}") from None
    try:
        reply = w.request({"op": "voices"}, timeout)
    except WorkerFailed as e:
        w.kill()
        raise EngineError(f"cannot list voices: {e}") from None
    w.close(grace=1.0)
    if not reply.get("ok"):
        raise EngineError(f"cannot list voices: {reply.get('error')}")
    return [
        {"id": v["id"], "name": v["name"], "languages": list(v["languages"]), "default": bool(v["default"])}
        for v in reply["voices"]
    ]
