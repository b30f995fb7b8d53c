"""The synthesizer's jobs: a pool of worker processes per engine, fed by dispatcher threads.

Why a module of its own: everything here is about processes and threads --
which pool a request goes to, its priority, the dispatcher thread that
blocks on a worker's pipe, the retry after a hang or a death, the idle
timeout that lets a worker go, and the engine that cannot run at all. It
knows nothing of pins: a finished synthesis is handed to an *adopt*
function (:meth:`voiceguide.synth.pins.Pins.adopt`), which names and pins
the worker's entry and answers its length.

Each engine (for Piper: each model) has its own :class:`~voiceguide.synth.workers.Pool`:
espeak-ng and Piper never share a process, and a Piper worker loads its
model once and keeps it. A pool has at most ``size`` processes, one per
dispatcher thread (slot); a worker idle for ``idle_timeout`` seconds exits
and frees its memory, and the next request starts a fresh one. Processes
start lazily, on the first request, and one at a time (a second worker
loads its model only once the first is ready: the first clip gets the CPU).

Heads (issue 24): with :attr:`Dispatcher.heads_wanted` (a player sets it),
a job somebody waits for (:data:`PRIORITY_NOW`) asks its worker for the
clip's first unit early (:mod:`voiceguide.synth.worker`); :meth:`Dispatcher.head`
answers it until the job is done, and lets it go then (the pinned clip,
whose first samples it is, answers from there on).

A request that times out or whose worker dies has its worker killed and
replaced and is retried once; a second failure raises
:class:`~voiceguide.errors.EngineError`. A machine without the engine is
reported by the first worker at start-up, once, with the package to
install; every later request of that pool fails at once with the same error.
"""

from __future__ import annotations

import itertools
import queue
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, Optional, Sequence, Tuple

from ..errors import CacheError, EngineError, UnknownVoice
from . import cache, prestart
from .budget import roomy, usable_cores
from .cachefolder import check_cache_folder
from .workers import NoEngine, Job, ModelBroken, Pool, Worker, WorkerFailed, missing_engine_error, piper_workers

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .voices import Choice

__all__ = ["Dispatcher", "PRIORITY_NOW", "PRIORITY_LATER"]

PRIORITY_NOW = 0      # clip()/length() is waiting for it
PRIORITY_LATER = 1    # prefetch()


def saved_model(choice: "Choice", cache_dir: Path) -> Path:
    """Where a Piper choice's workers keep its optimised model (made by the first that loads it).

    Mapped weights load ~90 ms sooner but hold ~15-30 MB more: not on a
    small machine (:func:`voiceguide.synth.budget.roomy`).
    """
    from .engines.piper import optimised_path

    return optimised_path(choice, cache_dir / "models", mapped=roomy())


class Dispatcher:
    """Synthesis jobs by cache key, run by worker processes; one per synthesizer.

    *lock* and *stats* are the synthesizer's own (``synthesised``,
    ``restarts``, ``workers_started`` and ``idle_exits`` are counted here).
    *adopt(key, temp)* takes a worker's finished entry and answers its
    length in samples. ``pools`` is the dict itself, so that a finalizer can
    end the workers without holding this object.
    """

    def __init__(
        self,
        cache_dir: Path,
        worker_argv: Sequence[str],
        workers: int,
        workers_given: Optional[int],
        timeout: float,
        startup_timeout: float,
        idle_timeout: float,
        lock: threading.Lock,
        stats: Dict[str, int],
        adopt: Callable[[str, Path], int],
    ):
        self.cache_dir = cache_dir
        self.worker_argv = list(worker_argv)
        self.workers = workers
        self.workers_given = workers_given
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.idle_timeout = idle_timeout
        self.pools: Dict[str, Pool] = {}
        self.closed = False
        self._lock = lock
        self._stats = stats
        self._adopt = adopt
        self._jobs: Dict[str, Job] = {}
        self._failed: Dict[str, BaseException] = {}
        self._seq = itertools.count()
        #: Whether a job waited for gets its first unit early (:meth:`head`); the player's choice.
        self.heads_wanted = False
        #: Heads of clips still being made: key -> (samples, word-timing trailer).
        self._heads: Dict[str, Tuple["np.ndarray", bytes]] = {}
        self._head_arrived = threading.Condition(threading.Lock())

    # -- what the synthesizer asks ---------------------------------------------

    def has_job(self, key: str) -> bool:
        with self._lock:
            return key in self._jobs

    def failed(self, key: str) -> bool:
        """True when the key's last synthesis failed (and none succeeded since)."""
        with self._lock:
            return key in self._failed

    def submit(self, key: str, choice: "Choice", request: Callable[[], dict], priority: int) -> Job:
        """The key's job, queued now unless it is queued already (then maybe sooner: *priority*).

        *request* makes the worker's request, for a new job only.
        """
        with self._lock:
            if self.closed:
                raise EngineError("the synthesizer was closed")
            pool = self._pool(choice)
            if pool.fatal is not None:
                raise EngineError(str(pool.fatal))
            job = self._jobs.get(key)
            if job is not None and priority == PRIORITY_NOW and self.heads_wanted:
                job.request["head"] = True   # read when it is sent: a job already sent has no head
            if job is not None:
                if job.state == "pending" and priority < job.priority:
                    job.priority = priority       # jump the queue: queue it again, sooner
                    job.pool.queue.put((priority, next(self._seq), job))
                return job
            job = Job(key, request(), priority, pool)
            if priority == PRIORITY_NOW and self.heads_wanted:
                job.request["head"] = True
            self._jobs[key] = job
            pool.queue.put((priority, next(self._seq), job))
            return job

    def head(self, key: str, wait: float = 0.0) -> Optional[Tuple["np.ndarray", bytes]]:
        """The first unit of the key's clip while the rest is still made: ``(samples, trailer)``; else None.

        Waits up to *wait* seconds for it; None at once when the key has no
        job (its clip is made, or never was asked for).
        """
        import time

        deadline = time.monotonic() + wait
        with self._head_arrived:
            while True:
                found = self._heads.get(key)
                if found is not None:
                    return found
                if not self.has_job(key):
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._head_arrived.wait(left)

    def _take_head(self, job: Job, message: dict) -> None:
        """A worker's head line: read its entry (and remove the file); kept until the clip is done."""
        temp = Path(str(message.get("temp")))
        try:
            samples = cache.load_entry(temp, job.key)
            entry = cache.open_entry(temp, job.key)
            try:
                trailer = entry.trailer()
            finally:
                entry.close()
        except (OSError, cache.Damaged, ValueError):
            return
        finally:
            try:
                temp.unlink()
            except OSError:
                pass
        with self._head_arrived:
            if job.state != "done":
                self._heads[job.key] = (samples, trailer)
            self._head_arrived.notify_all()
        job.pool.spoke.set()

    @staticmethod
    def wait(job: Job) -> None:
        """Block until *job* is done; raise its error (a fresh exception per waiter)."""
        job.done.wait()
        if job.error is not None:
            # A fresh exception per waiter: several threads may share the job.
            # UnknownVoice too
            kind = type(job.error) if isinstance(job.error, (EngineError, CacheError)) else EngineError
            raise kind(str(job.error)) from None

    def close(self, grace: float) -> bool:
        """Fail pending jobs, end the dispatcher threads and the workers; False if closed already.

        A worker still busy after *grace* seconds is killed.
        """
        with self._lock:
            if self.closed:
                return False
            self.closed = True
            pending = [j for j in self._jobs.values() if j.state == "pending"]
            pools = list(self.pools.values())
        for job in pending:
            self._finish(job, error=EngineError("the synthesizer was closed"))
        for pool in pools:
            pool.spoke.set()   # a worker slot waiting to start must see the close at once
            for _ in pool.threads:
                pool.queue.put((-1, next(self._seq), None))
        # Idle workers exit at end of input; a busy one is killed after the
        # grace period, which fails its request at once (no retry: closed).
        for pool in pools:
            for proc in list(pool.starting):  # a worker hung while it starts has no slot yet
                try:
                    proc.kill()
                except OSError:
                    pass  # it has exited meanwhile: nothing left to kill
            for w in list(pool.slots):
                if w is not None:
                    w.close(grace=grace)
        for pool in pools:
            for t in pool.threads:
                t.join(timeout=grace + 1.0)
        return True

    # -- jobs ----------------------------------------------------------------

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._stats[name] += n

    def _finish(self, job: Job, length: Optional[int] = None, error: Optional[BaseException] = None) -> None:
        job.pool.spoke.set()
        with self._lock:
            if job.state == "done":
                return
            job.state = "done"
            job.length, job.error = length, error
            if self._jobs.get(job.key) is job:
                del self._jobs[job.key]
            if length is not None:
                self._failed.pop(job.key, None)
            elif error is not None:
                self._failed[job.key] = error
        job.done.set()
        with self._head_arrived:
            self._heads.pop(job.key, None)   # the clip itself (pinned) answers from now on
            self._head_arrived.notify_all()

    def _pool(self, choice: "Choice") -> Pool:
        """The pool for the choice's engine and model; started on first use (lock held)."""
        name = choice.engine if choice.model is None else f"{choice.engine}:{choice.model}"
        pool = self.pools.get(name)
        if pool is not None:
            return pool
        check_cache_folder(self.cache_dir)
        argv = self.worker_argv + ["--engine", choice.engine]
        size = self.workers
        if choice.engine == "piper":
            size = piper_workers(self.workers_given)
            cores = usable_cores()   # affinity and cgroup quota, not every core
            saved = saved_model(choice, self.cache_dir)
            argv += ["--model", str(choice.model), "--optimised", str(saved)]
            # The first worker makes the first clause alone (Pool.spoke): it may use every core;
            # the others share them.
            first = argv + ["--threads", str(cores)]
            argv = argv + ["--threads", str(max(1, cores // size))]
            prestart.remember(self.cache_dir, first[len(self.worker_argv):])   # the next session's guess
        else:
            first = argv
        pool = Pool(choice.engine, argv, size, first_argv=first)
        self.pools[name] = pool
        for i in range(size):
            t = threading.Thread(target=self._dispatch, args=(pool, i),
                                 name=f"voiceguide-synth-{choice.engine}-{i}", daemon=True)
            pool.threads.append(t)
            t.start()
        return pool

    def _dispatch(self, pool: Pool, slot: int) -> None:
        while True:
            try:
                _, _, job = pool.queue.get(timeout=self.idle_timeout)
            except queue.Empty:
                # Nothing to do for a while: let the worker go (and its memory).
                w = pool.slots[slot]
                if w is not None:
                    pool.slots[slot] = None
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
                if self.closed:
                    fatal = EngineError("the synthesizer was closed")
            if fatal is not None:
                self._finish(job, error=fatal)
                continue
            try:
                length = self._run(pool, slot, job)
            except (EngineError, CacheError) as e:
                self._finish(job, error=e)
            except Exception as e:  # a bug here must not leave a caller waiting forever
                self._finish(job, error=EngineError(f"speech synthesis failed: {type(e).__name__}: {e}"))
            else:
                self._count("synthesised")
                self._finish(job, length=length)

    # -- workers ---------------------------------------------------------------

    def _worker(self, pool: Pool, slot: int) -> Worker:
        w = pool.slots[slot]
        if w is not None and w.alive():
            return w
        if w is not None:
            self._discard_worker(pool, slot)
        startup = self.startup_timeout if pool.engine != "piper" else max(self.startup_timeout, 30.0)
        with pool.start_lock:   # one at a time: see Pool.start_lock
            if not pool.spoke.is_set() and any(o is not None for i, o in enumerate(pool.slots) if i != slot):
                pool.spoke.wait(startup)   # the first clip first: see Pool.spoke
            if self.closed:
                raise EngineError("the synthesizer was closed")
            argv = pool.first_argv if not pool.started else pool.argv
            early = prestart.take(self.worker_argv)
            deferred = None if early is None else (early, argv[len(self.worker_argv):])
            w = Worker(argv, startup, starting=pool.starting, deferred=deferred)
            with self._lock:   # in its slot before the next may start (it waits for this one: Pool.spoke)
                pool.slots[slot] = w
                pool.started += 1
                self._stats["workers_started"] += 1
                closed = self.closed
        if closed:
            self._discard_worker(pool, slot)
            raise EngineError("the synthesizer was closed")
        return w

    def _discard_worker(self, pool: Pool, slot: int) -> None:
        pool.spoke.set()   # nobody to wait for (Pool.spoke)
        w = pool.slots[slot]
        pool.slots[slot] = None
        if w is not None:
            w.kill()
            cache.remove_temp_files(self.cache_dir, w.pid)

    def _fail_pool(self, pool: Pool, err: EngineError) -> None:
        """The engine cannot run at all: fail this pool's every waiting request at once."""
        with self._lock:
            pool.fatal = err
            doomed = [j for j in self._jobs.values() if j.state == "pending" and j.pool is pool]
        for other in doomed:
            self._finish(other, error=err)

    def _run(self, pool: Pool, slot: int, job: Job) -> int:
        """Synthesise one job: retry once on a hang, death or engine error."""
        failure = ""
        for _attempt in (1, 2):
            try:
                worker = self._worker(pool, slot)
                reply = worker.request(job.request, self.timeout,
                                       on_head=lambda message: self._take_head(job, message))
                if reply.get("ok"):
                    return self._adopt(job.key, Path(str(reply.get("temp"))))
            except NoEngine as e:
                err = missing_engine_error(str(e), pool.engine)
                self._fail_pool(pool, err)
                raise err from e
            except ModelBroken as e:
                err = EngineError(str(e))
                self._fail_pool(pool, err)
                raise err from e
            except WorkerFailed as e:
                failure = str(e)
                if pool.slots[slot] is not None:
                    self._discard_worker(pool, slot)
                    self._count("restarts")
                if self.closed:
                    raise EngineError("the synthesizer was closed") from None
                continue
            failure = str(reply.get("error", "unknown error"))
            if reply.get("kind") == "cache":
                check_cache_folder(self.cache_dir)   # the precise line, naming the folder and the cure
                raise CacheError(failure)
            if reply.get("kind") == "voice":  # the engine knows no such voice: the asker's mistake
                raise UnknownVoice(failure)
            if reply.get("kind") != "engine":
                raise EngineError(f"speech engine: {failure}")
            self._discard_worker(pool, slot)     # the engine may be wedged: a fresh one
            self._count("restarts")
        raise EngineError(
            f"the speech engine failed twice on {job.request['text'][:60]!r}: {failure}"
        )
