"""The player's side of speech synthesis: voice choice, cache look-ups and worker processes.

:class:`Synthesizer` answers ``clip(text, voice)`` from the on-disk cache when
it can, and otherwise sends the text to a worker process
(:mod:`voiceguide.synth.worker`) that runs the voice's engine and writes the
cache entry. The voice is resolved here first
(:func:`voiceguide.synth.voices.choose`): engine, model and every synthesis
parameter go into the cache key and into the request, so they cannot drift.

Each engine (for Piper: each model) has its own pool of workers: espeak-ng
and Piper never share a process, and a Piper worker loads its model once and
keeps it. A pool has at most ``workers`` processes (Piper: at most one per
core, and no more than the free memory holds); a worker idle for
``idle_timeout`` seconds exits and frees its memory (a station keeps one
player running for days), and the next request starts a fresh one.

Threads: a few dispatcher threads (one per worker slot) take requests off
their pool's priority queue and block on the worker's pipe; the caller's thread blocks
only in :meth:`Synthesizer.clip` / :meth:`Synthesizer.length`, waiting for its
own item. Never call those from an audio callback: :meth:`prefetch` the
session's clips up front and fetch each one in the mixer thread ahead of its
onset.

Processes start lazily, on the first cache miss: a warm cache costs no
process start at all. A request that times out or whose worker dies has its
worker killed and replaced and is retried once; a second failure raises
:class:`~voiceguide.errors.EngineError`. A machine without a speech engine
is reported by the first worker at start-up, once, with the package to
install; every later request fails at once with the same error.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import EngineError
from . import cache
from .spec import VoiceSpec, cache_key, normalise_text

if TYPE_CHECKING:  # pragma: no cover
    from .voices import Choice

__all__ = ["Synthesizer", "list_voices"]

#: A worker with nothing to do for this long exits (its engine's memory with it).
IDLE_TIMEOUT_S = 60.0
#: Resident memory one Piper worker needs (measured: ~250 MB for a medium voice).
PIPER_WORKER_BYTES = 300 * 1024 * 1024

#: Clips kept in memory after loading, by total size (a session repeats clips).
MEMORY_CACHE_BYTES = 8 * 1024 * 1024

_PRIORITY_NOW = 0      # clip()/length() is waiting for it
_PRIORITY_LATER = 1    # prefetch()


def default_cache_dir() -> Path:
    from voiceguide.paths import speech_cache_dir

    return speech_cache_dir()


def default_worker_argv() -> List[str]:
    return [sys.executable, "-m", "voiceguide.synth.worker"]


def _missing_engine_error(detail: str, engine: str = "espeak") -> EngineError:
    from .engines import module

    if engine == "piper":
        return EngineError(f"the Piper voice engine cannot load ({detail}); {module(engine).MISSING_HINT}")
    return EngineError(f"no speech engine (espeak-ng via pyttsx3: {detail}); {module(engine).MISSING_HINT}")


def _available_memory() -> Optional[int]:
    """MemAvailable in bytes (Linux), else None."""
    try:
        with open("/proc/meminfo", "r") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def piper_workers(limit: Optional[int] = None) -> int:
    """How many Piper workers this machine allows: one per core, as memory permits."""
    n = os.cpu_count() or 1
    if limit is not None:
        n = min(n, int(limit))
    free = _available_memory()
    if free is not None:
        n = min(n, max(1, free // PIPER_WORKER_BYTES))
    return max(1, n)


class _WorkerFailed(Exception):
    """The worker hung, died or spoke nonsense: kill it, maybe retry."""


class _Worker:
    """One worker process, its pipes and a reader thread.

    The reader thread turns stdout lines into a queue so that every wait has
    a timeout (a pipe read has none). stderr goes to an anonymous temporary
    file, quoted when the worker fails: it never reaches the user's terminal
    and can never fill a pipe and block the worker.
    """

    def __init__(self, argv: Sequence[str], startup_timeout: float):
        self._stderr = tempfile.TemporaryFile()
        env = os.environ.copy()
        # The worker must import this very package, even from a source tree.
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        try:
            self.proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=env,
                close_fds=True,
            )
        except OSError as e:
            self._stderr.close()
            raise _WorkerFailed(f"cannot start the speech worker {argv[0]!r}: {e}") from e
        self.pid = self.proc.pid
        self._lines: "queue.Queue[Optional[bytes]]" = queue.Queue()
        self._reader = threading.Thread(
            target=self._read, name=f"voiceguide-synth-reader-{self.pid}", daemon=True
        )
        self._reader.start()
        self._ids = itertools.count(1)
        try:
            hello = self._next_message(startup_timeout, "start")
        except _WorkerFailed:
            self.kill()
            raise
        if hello.get("ready") is True:
            return
        self.kill()
        if hello.get("kind") == "missing":
            raise _EngineMissingError(str(hello.get("error", "")))
        if hello.get("kind") == "model":
            raise _ModelBrokenError(str(hello.get("error", "")))
        raise _WorkerFailed(f"the speech worker did not start: {hello!r}")

    def _read(self) -> None:
        out = self.proc.stdout
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
                raise _WorkerFailed(f"the speech worker did not answer within {timeout:g} s ({what})")
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
                raise _WorkerFailed(
                    f"the speech worker exited (code {code}) during {what}" + (f": {tail}" if tail else "")
                )
            try:
                msg = json.loads(line)
            except ValueError:
                continue  # not ours; the protocol lines are JSON objects
            if isinstance(msg, dict):
                return msg

    def request(self, message: dict, timeout: float) -> dict:
        rid = next(self._ids)
        line = (json.dumps(dict(message, id=rid)) + "\n").encode("ascii")
        try:
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
        except (OSError, ValueError) as e:
            raise _WorkerFailed(f"the speech worker is gone: {e}") from e
        deadline = time.monotonic() + timeout
        while True:
            reply = self._next_message(max(0.0, deadline - time.monotonic()), "synthesis")
            if reply.get("id") == rid:
                return reply

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """Kill the process and reap it (a hung pyttsx3 ignores politeness)."""
        try:
            self.proc.kill()
        except OSError:
            pass
        self._reap()

    def close(self, grace: float = 1.0) -> None:
        """Ask the worker to exit (end of input), kill it if it does not."""
        try:
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()
        self._reap()

    def _reap(self) -> None:
        try:
            self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                if f is not None:
                    f.close()
            except (OSError, ValueError):
                pass
        try:
            self._stderr.close()
        except (OSError, ValueError):
            pass


class _EngineMissingError(Exception):
    pass


class _ModelBrokenError(Exception):
    pass


class _Pool:
    """The workers of one engine (and model): their queue, slots and threads.

    Holds no reference to the :class:`Synthesizer`, so that its finalizer
    can end the workers when the synthesizer is garbage-collected.
    """

    def __init__(self, engine: str, argv: List[str], size: int):
        self.engine = engine
        self.argv = argv
        self.size = size
        self.queue: "queue.PriorityQueue" = queue.PriorityQueue()
        self.slots: List[Optional[_Worker]] = [None] * size
        self.threads: List[threading.Thread] = []
        self.fatal: Optional[EngineError] = None


class _Job:
    __slots__ = ("key", "request", "priority", "state", "done", "length", "error", "pool")

    def __init__(self, key: str, request: dict, priority: int, pool: _Pool):
        self.key = key
        self.request = request
        self.priority = priority
        self.pool = pool
        self.state = "pending"          # pending -> running -> done
        self.done = threading.Event()
        self.length: Optional[int] = None
        self.error: Optional[BaseException] = None


def _shutdown(pools: Dict[str, _Pool]) -> None:
    for pool in list(pools.values()):
        for _ in pool.threads:
            pool.queue.put((-1, -1, None))
        for w in list(pool.slots):
            if w is not None:
                w.close(grace=0.5)


class Synthesizer:
    """Speech clips for a session, from the cache or from worker processes.

    ``clip(text, voice)`` returns float32 mono samples at ``sample_rate``,
    already trimmed of the engine's silence, faded at both ends (10 ms),
    normalised to a -3 dBFS peak and scaled by ``voice.volume``.

    ``worker_argv`` replaces the worker command (``python -m
    voiceguide.synth.worker``; the engine's ``--engine``/``--model``
    arguments are appended); it is for a different interpreter or for
    tests. ``timeout`` bounds one synthesis request (and a worker's start;
    a Piper worker gets at least 30 s to load its model). ``workers`` bounds
    each engine's pool; ``idle_timeout`` ends a worker that had nothing to
    do for that long.

    ``stats`` counts ``cache_hits`` (memory or disk), ``synthesised``,
    ``restarts`` (workers killed after a hang, death or engine error),
    ``workers_started`` and ``idle_exits``.

    Thread-safe. Use as a context manager, or call :meth:`close`, to end the
    worker processes (they also end by themselves when this process exits:
    their input reaches end of file).
    """

    def __init__(
        self,
        sample_rate: int = 48000,
        cache_dir: Optional[os.PathLike] = None,
        workers: Optional[int] = None,
        timeout: float = 15.0,
        worker_argv: Optional[Sequence[str]] = None,
        idle_timeout: float = IDLE_TIMEOUT_S,
    ):
        if int(sample_rate) != sample_rate or sample_rate < 8000:
            raise ValueError(f"sample_rate must be an integer of at least 8000, got {sample_rate!r}")
        self.sample_rate = int(sample_rate)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._workers_given = workers
        self.workers = max(1, int(workers if workers is not None else min(2, os.cpu_count() or 1)))
        self.timeout = float(timeout)
        self.startup_timeout = max(self.timeout, 5.0)
        self.idle_timeout = float(idle_timeout)
        self.worker_argv = list(worker_argv) if worker_argv else default_worker_argv()
        self.stats: Dict[str, int] = {"cache_hits": 0, "synthesised": 0, "restarts": 0,
                                      "workers_started": 0, "idle_exits": 0}

        self._lock = threading.Lock()
        self._jobs: Dict[str, _Job] = {}
        self._seq = itertools.count()
        self._pools: Dict[str, _Pool] = {}
        self._choices: Dict[Tuple[Optional[str], str], "Choice"] = {}
        self._lengths: Dict[str, int] = {}
        self._memory: "collections.OrderedDict[str, np.ndarray]" = collections.OrderedDict()
        self._memory_bytes = 0
        self._closed = False
        self._finalizer = weakref.finalize(self, _shutdown, self._pools)

    # -- public API ---------------------------------------------------------

    def clip(self, text: str, voice: VoiceSpec = VoiceSpec()) -> np.ndarray:
        """The clip's samples: float32 mono at ``sample_rate``, read-only.

        Blocks until the clip is ready (cache, or a worker). Raises
        :class:`EngineError` when the engine is missing, fails or hangs.
        """
        key = self._key(text, voice)
        with self._lock:
            data = self._memory.get(key)
            if data is not None:
                self._memory.move_to_end(key)
                self.stats["cache_hits"] += 1
                return data
        path = cache.entry_path(self.cache_dir, key)
        data = cache.load_entry(path)
        if data is not None:
            self._count("cache_hits")
        else:
            self._wait(self._submit(key, text, voice, _PRIORITY_NOW))
            data = cache.load_entry(path)
            if data is None:
                raise EngineError(f"the speech worker wrote an unreadable cache entry: {path}")
        self._remember(key, data)
        return data

    def length(self, text: str, voice: VoiceSpec = VoiceSpec()) -> int:
        """The clip's length in samples at ``sample_rate`` (blocks until known).

        A cached clip's length is read from the entry's header alone.
        """
        key = self._key(text, voice)
        with self._lock:
            n = self._lengths.get(key)
        if n is not None:
            return n
        path = cache.entry_path(self.cache_dir, key)
        n = cache.entry_length(path)
        if n is None:
            job = self._submit(key, text, voice, _PRIORITY_NOW)
            self._wait(job)
            n = job.length
        with self._lock:
            self._lengths[key] = int(n)
        return int(n)

    def prefetch(self, items: Iterable[Tuple[str, VoiceSpec]]) -> None:
        """Queue synthesis of every uncached item, in order; returns at once.

        A later :meth:`clip` or :meth:`length` for one of them waits only for
        that item (it jumps the queue if it has not started yet). Failures
        surface there, not here; only an engine already known to be missing,
        or a closed synthesizer, raises :class:`EngineError` at once.
        """
        for text, voice in items:
            key = self._key(text, voice)
            with self._lock:
                if key in self._memory or key in self._jobs:
                    continue
            if cache.entry_length(cache.entry_path(self.cache_dir, key)) is None:
                self._submit(key, text, voice, _PRIORITY_LATER, wait=False)

    def cached(self, text: str, voice: VoiceSpec = VoiceSpec()) -> bool:
        """True when the clip is in the cache (valid entry), so costs no synthesis."""
        key = self._key(text, voice)
        with self._lock:
            if key in self._memory:
                return True
        return cache.entry_length(cache.entry_path(self.cache_dir, key)) is not None

    def entry_path(self, text: str, voice: VoiceSpec = VoiceSpec()) -> Path:
        """Where the clip's cache entry lives (whether or not it exists yet)."""
        return cache.entry_path(self.cache_dir, self._key(text, voice))

    def choice(self, voice: VoiceSpec = VoiceSpec()) -> "Choice":
        """The resolved voice (engine, model, id) that speaks *voice*; EngineError if none."""
        if not isinstance(voice, VoiceSpec):
            raise TypeError(f"voice must be a VoiceSpec, got {type(voice).__name__}")
        key = (voice.name, voice.language)
        with self._lock:
            found = self._choices.get(key)
        if found is None:
            from .voices import choose

            found = choose(voice.name, voice.language, memo_dir=self.cache_dir)
            with self._lock:
                self._choices[key] = found
        return found

    def voice_id(self, voice: VoiceSpec = VoiceSpec()) -> str:
        """The engine-qualified id that speaks *voice* (``piper:en_US-joe-medium``)."""
        return self.choice(voice).qualified

    def voices(self) -> List[dict]:
        """espeak-ng's voices, from a worker (see :func:`list_voices`)."""
        return list_voices(timeout=self.timeout, worker_argv=self.worker_argv)

    def close(self, grace: float = 1.0) -> None:
        """End the worker processes; pending requests fail with EngineError.

        A worker still busy after *grace* seconds is killed (``grace=0``: at
        once, as a player does after a stop).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending = [j for j in self._jobs.values() if j.state == "pending"]
            pools = list(self._pools.values())
        for job in pending:
            self._finish(job, error=EngineError("the synthesizer was closed"))
        for pool in pools:
            for _ in pool.threads:
                pool.queue.put((-1, next(self._seq), None))
        # Idle workers exit at end of input; a busy one is killed after the
        # grace period, which fails its request at once (no retry: closed).
        for pool in pools:
            for w in list(pool.slots):
                if w is not None:
                    w.close(grace=grace)
        for pool in pools:
            for t in pool.threads:
                t.join(timeout=grace + 1.0)
        self._finalizer.detach()

    def __enter__(self) -> "Synthesizer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ----------------------------------------------------------

    def _key(self, text: str, voice: VoiceSpec) -> str:
        if not isinstance(voice, VoiceSpec):
            raise TypeError(f"voice must be a VoiceSpec, got {type(voice).__name__}")
        if not normalise_text(text):
            raise ValueError("nothing to say: the text is empty")
        return cache_key(text, voice, self.sample_rate, self.choice(voice))

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.stats[name] += n

    def _remember(self, key: str, data: np.ndarray) -> None:
        with self._lock:
            self._lengths[key] = int(data.size)
            if key in self._memory or data.nbytes > MEMORY_CACHE_BYTES // 4:
                return
            self._memory[key] = data
            self._memory_bytes += data.nbytes
            while self._memory_bytes > MEMORY_CACHE_BYTES:
                _, old = self._memory.popitem(last=False)
                self._memory_bytes -= old.nbytes

    def _submit(self, key: str, text: str, voice: VoiceSpec, priority: int, wait: bool = True) -> _Job:
        choice = self.choice(voice)
        with self._lock:
            if self._closed:
                raise EngineError("the synthesizer was closed")
            pool = self._pool(choice)
            if pool.fatal is not None:
                raise EngineError(str(pool.fatal))
            job = self._jobs.get(key)
            if job is not None:
                if job.state == "pending" and priority < job.priority:
                    job.priority = priority       # jump the queue: queue it again, sooner
                    job.pool.queue.put((priority, next(self._seq), job))
                return job
            job = _Job(
                key,
                {
                    "op": "synth",
                    "text": normalise_text(text),
                    "voice": choice.voice,
                    "rate": int(voice.rate),
                    "params": choice.params(int(voice.rate)),
                    "volume": float(voice.volume),
                    "language": voice.language,
                    "sample_rate": self.sample_rate,
                    "path": str(cache.entry_path(self.cache_dir, key)),
                },
                priority,
                pool,
            )
            self._jobs[key] = job
            pool.queue.put((priority, next(self._seq), job))
            return job

    def _wait(self, job: _Job) -> None:
        job.done.wait()
        if job.error is not None:
            # A fresh exception per waiter: several threads may share the job.
            raise EngineError(str(job.error)) from None

    def _finish(self, job: _Job, length: Optional[int] = None, error: Optional[BaseException] = None) -> None:
        with self._lock:
            if job.state == "done":
                return
            job.state = "done"
            job.length, job.error = length, error
            if self._jobs.get(job.key) is job:
                del self._jobs[job.key]
            if length is not None:
                self._lengths[job.key] = length
        job.done.set()

    def _pool(self, choice: "Choice") -> _Pool:
        """The pool for the choice's engine and model; started on first use (lock held)."""
        name = choice.engine if choice.model is None else f"{choice.engine}:{choice.model}"
        pool = self._pools.get(name)
        if pool is not None:
            return pool
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise EngineError(f"cannot create the speech cache {self.cache_dir}: {e}") from e
        argv = self.worker_argv + ["--engine", choice.engine]
        size = self.workers
        if choice.engine == "piper":
            size = piper_workers(self._workers_given)
            threads = max(1, (os.cpu_count() or 1) // size)
            argv += ["--model", str(choice.model), "--threads", str(threads)]
        pool = _Pool(choice.engine, argv, size)
        self._pools[name] = pool
        for i in range(size):
            t = threading.Thread(target=self._dispatch, args=(pool, i),
                                 name=f"voiceguide-synth-{choice.engine}-{i}", daemon=True)
            pool.threads.append(t)
            t.start()
        return pool

    def _dispatch(self, pool: _Pool, slot: int) -> None:
        while True:
            try:
                _, _, job = pool.queue.get(timeout=self.idle_timeout)
            except queue.Empty:
                # Nothing to do for a while: let the worker go (and its memory).
                if pool.slots[slot] is not None:
                    w, pool.slots[slot] = pool.slots[slot], None
                    w.close(grace=1.0)
                    self._count("idle_exits")
                continue
            if job is None:
                return
            with self._lock:
                if job.state != "pending":
                    continue              # done already, or a queue-jump duplicate
                job.state = "running"
                fatal = pool.fatal
                if self._closed:
                    fatal = EngineError("the synthesizer was closed")
            if fatal is not None:
                self._finish(job, error=fatal)
                continue
            try:
                length = self._run(pool, slot, job)
            except EngineError as e:
                self._finish(job, error=e)
            except Exception as e:  # a bug here must not leave a caller waiting forever
                self._finish(job, error=EngineError(f"speech synthesis failed: {type(e).__name__}: {e}"))
            else:
                self._count("synthesised")
                self._finish(job, length=length)

    def _worker(self, pool: _Pool, slot: int) -> _Worker:
        w = pool.slots[slot]
        if w is not None and w.alive():
            return w
        if w is not None:
            self._discard_worker(pool, slot)
        startup = self.startup_timeout if pool.engine != "piper" else max(self.startup_timeout, 30.0)
        w = _Worker(pool.argv, startup)
        with self._lock:
            pool.slots[slot] = w
            self.stats["workers_started"] += 1
            closed = self._closed
        if closed:
            self._discard_worker(pool, slot)
            raise EngineError("the synthesizer was closed")
        return w

    def _discard_worker(self, pool: _Pool, slot: int) -> None:
        w = pool.slots[slot]
        pool.slots[slot] = None
        if w is not None:
            w.kill()
            cache.remove_temp_files(self.cache_dir, w.pid)

    def _fail_pool(self, pool: _Pool, err: EngineError) -> None:
        """The engine cannot run at all: fail this pool's every waiting request at once."""
        with self._lock:
            pool.fatal = err
            doomed = [j for j in self._jobs.values() if j.state == "pending" and j.pool is pool]
        for other in doomed:
            self._finish(other, error=err)

    def _run(self, pool: _Pool, slot: int, job: _Job) -> int:
        """Synthesise one job: retry once on a hang, death or engine error."""
        failure = ""
        for attempt in (1, 2):
            try:
                worker = self._worker(pool, slot)
                reply = worker.request(job.request, self.timeout)
            except _EngineMissingError as e:
                err = _missing_engine_error(str(e), pool.engine)
                self._fail_pool(pool, err)
                raise err
            except _ModelBrokenError as e:
                err = EngineError(str(e))
                self._fail_pool(pool, err)
                raise err
            except _WorkerFailed as e:
                failure = str(e)
                if pool.slots[slot] is not None:
                    self._discard_worker(pool, slot)
                    self._count("restarts")
                if self._closed:
                    raise EngineError("the synthesizer was closed") from None
                continue
            if reply.get("ok"):
                return int(reply["length"])
            failure = str(reply.get("error", "unknown error"))
            if reply.get("kind") != "engine":
                raise EngineError(f"speech engine: {failure}")
            self._discard_worker(pool, slot)     # the engine may be wedged: a fresh one
            self._count("restarts")
        raise EngineError(
            f"the speech engine failed twice on {job.request['text'][:60]!r}: {failure}"
        )


def list_voices(timeout: float = 15.0, worker_argv: Optional[Sequence[str]] = None) -> List[dict]:
    """espeak-ng's voices: ``[{"id", "name", "languages", "default"}]``.

    Asked of a short-lived worker process, so the caller's process never
    initialises espeak (which it could never re-initialise or unload).
    Raises :class:`EngineError` when there is no engine. Piper voices are
    files: :func:`voiceguide.synth.voices.piper_voices` lists them.
    """
    argv = (list(worker_argv) if worker_argv else default_worker_argv()) + ["--engine", "espeak"]
    try:
        w = _Worker(argv, max(timeout, 5.0))
    except _EngineMissingError as e:
        raise _missing_engine_error(str(e)) from None
    except _WorkerFailed as e:
        raise EngineError(f"cannot list voices: {e}") from None
    try:
        reply = w.request({"op": "voices"}, timeout)
    except _WorkerFailed as e:
        w.kill()
        raise EngineError(f"cannot list voices: {e}") from None
    w.close(grace=1.0)
    if not reply.get("ok"):
        raise EngineError(f"cannot list voices: {reply.get('error')}")
    return [
        {"id": v["id"], "name": v["name"], "languages": list(v["languages"]), "default": bool(v["default"])}
        for v in reply["voices"]
    ]
