"""The player's side of speech synthesis: voice choice, cache look-ups and worker processes.

:class:`Synthesizer` answers ``clip(text, voice)`` from the on-disk cache when
it can, and otherwise sends the text to a worker process
(:mod:`voiceguide.synth.worker`) that runs the voice's engine and writes a
complete entry into a temporary file; the synthesizer then names it (the
first writer of a key wins: an existing entry is never replaced, see
:mod:`voiceguide.synth.cache`). The voice is resolved here first
(:func:`voiceguide.synth.voices.choose`): engine, model and every synthesis
parameter go into the cache key and into the request, so they cannot drift.

A clip read once is *pinned* for the synthesizer's life (:class:`_Pin`):
``length()`` and ``clip()`` always agree, so a timeline measured early and a
mixer that loads samples minutes later can never disagree, whatever happens
to the cache folder in between.

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
import logging
import os
import queue
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import CacheError, EngineError, UnknownVoice
from . import cache
from .cachefolder import check_cache_folder, default_cache_dir
from .workers import (NoEngine, Job, ModelBroken, Pool, Worker, WorkerFailed, default_worker_argv,
                      list_voices, missing_engine_error, piper_workers)
from .spec import VoiceSpec, cache_key, normalise_text

if TYPE_CHECKING:  # pragma: no cover
    from .cachesize import Limits
    from .voices import Choice

__all__ = ["Synthesizer"]

log = logging.getLogger("voiceguide.synth")

#: A worker with nothing to do for this long exits (its engine's memory with it).
IDLE_TIMEOUT_S = 60.0

#: Clips kept in memory after loading, by total size (a session repeats clips).
MEMORY_CACHE_BYTES = 8 * 1024 * 1024

#: At most this many clips are pinned by an open file descriptor; beyond it a
#: pinned clip's samples are kept in memory instead (see :class:`_Pin`).
MAX_PINNED_FILES = 256

_PRIORITY_NOW = 0      # clip()/length() is waiting for it
_PRIORITY_LATER = 1    # prefetch()


def _pin_file_limit() -> int:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft > 0:
            return max(0, min(MAX_PINNED_FILES, soft // 4))
    except (ImportError, OSError, ValueError):
        pass
    return MAX_PINNED_FILES // 4


def _fit(samples: np.ndarray, count: int) -> np.ndarray:
    """*samples* cut or padded with silence to exactly *count*, with a 10 ms fade-out at a cut."""
    out = np.zeros(count, np.float32)
    n = min(count, samples.size)
    out[:n] = samples[:n]
    if samples.size > count:
        fade = min(n, 480)
        out[n - fade:n] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    out.flags.writeable = False
    return out


class _Pin:
    """One clip as this synthesizer first read it: its length can never change after that.

    Either an open :class:`~voiceguide.synth.cache.OpenEntry` (the very file that
    was read, whatever later happens to its name: eviction, another
    process, a damaged copy removed) or, beyond :data:`MAX_PINNED_FILES`,
    the samples themselves.
    """

    __slots__ = ("count", "entry", "samples")

    def __init__(self, count: int, entry: Optional[cache.OpenEntry] = None, samples: Optional[np.ndarray] = None):
        self.count, self.entry, self.samples = count, entry, samples

    def close(self) -> None:
        if self.entry is not None:
            self.entry.close()

    @property
    def file(self) -> cache.OpenEntry:
        """The pinned entry, for a pin that holds no samples."""
        assert self.entry is not None, "a pin holds its entry or its samples"
        return self.entry


def _shutdown(pools: Dict[str, Pool], pins: Dict[str, "_Pin"]) -> None:
    for pool in list(pools.values()):
        for _ in pool.threads:
            pool.queue.put((-1, -1, None))
        for w in list(pool.slots):
            if w is not None:
                w.close(grace=0.5)
    for pin in list(pins.values()):
        pin.close()
    pins.clear()


class Synthesizer:
    """Speech clips for a session, from the cache or from worker processes.

    ``clip(text, voice)`` returns float32 mono samples at ``sample_rate``,
    already trimmed of the engine's silence, faded at both ends (10 ms),
    normalised to a -3 dBFS peak and scaled by ``voice.volume``.

    **A clip never changes under a session.** The first time a clip's length
    or samples are asked for, its cache entry is read, checked and *pinned*
    (:class:`_Pin`: the open file, or the samples): every later
    :meth:`length` and :meth:`clip` answers from that same clip, so the
    timeline (which takes lengths) and the mixer (which takes samples, maybe
    minutes later) always agree, whatever happens to the cache meanwhile --
    another process writing the same key, an entry evicted or found damaged.
    Use one synthesizer per session; :meth:`close` releases the pins.

    ``worker_argv`` replaces the worker command (see
    :func:`default_worker_argv`; the engine's ``--engine``/``--model``
    arguments are appended); it is for a different interpreter or for
    tests. ``timeout`` bounds one synthesis request (and a
    worker's start; a Piper worker gets at least 30 s to load its model).
    ``workers`` bounds each engine's pool; ``idle_timeout`` ends a worker
    that had nothing to do for that long. ``limits`` bounds the cache folder
    (:class:`~voiceguide.synth.cachesize.Limits`, by default from the
    config); it is enforced when a synthesizer that added entries closes.

    ``stats`` counts ``cache_hits`` (``clip()`` calls answered without
    waiting for synthesis), ``synthesised``, ``restarts`` (workers killed
    after a hang, death or engine error), ``workers_started`` and
    ``idle_exits``.

    Thread-safe. Use as a context manager, or call :meth:`close`, to end the
    worker processes (they also end by themselves when this process exits:
    their input reaches end of file, and the kernel ends them with us).
    """

    def __init__(
        self,
        sample_rate: int = 48000,
        cache_dir: Optional[os.PathLike] = None,
        workers: Optional[int] = None,
        timeout: float = 15.0,
        worker_argv: Optional[Sequence[str]] = None,
        idle_timeout: float = IDLE_TIMEOUT_S,
        limits: Optional["Limits"] = None,
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
        self.limits = limits
        self.stats: Dict[str, int] = {"cache_hits": 0, "synthesised": 0, "restarts": 0,
                                      "workers_started": 0, "idle_exits": 0}

        self._lock = threading.Lock()
        self._jobs: Dict[str, Job] = {}
        self._seq = itertools.count()
        self._pools: Dict[str, Pool] = {}
        self._choices: Dict[Tuple[Optional[str], str], "Choice"] = {}
        self._pins: Dict[str, _Pin] = {}
        self._pinned_files = 0
        self._pin_file_limit = _pin_file_limit()
        self._warned: set = set()
        self._added = 0
        self._failed: Dict[str, BaseException] = {}
        self._memory: "collections.OrderedDict[str, np.ndarray]" = collections.OrderedDict()
        self._memory_bytes = 0
        self._closed = False
        self._finalizer = weakref.finalize(self, _shutdown, self._pools, self._pins)

    # -- public API ---------------------------------------------------------

    def clip(self, text: str, voice: VoiceSpec = VoiceSpec()) -> np.ndarray:
        """The clip's samples: float32 mono at ``sample_rate``, read-only.

        Blocks until the clip is ready (cache, or a worker). Always exactly
        :meth:`length` samples. Raises :class:`EngineError` when the engine
        is missing, fails or hangs, :class:`CacheError` when the cache
        folder cannot be written.
        """
        key = self._key(text, voice)
        with self._lock:
            data = self._memory.get(key)
            if data is not None:
                self._memory.move_to_end(key)
                self.stats["cache_hits"] += 1
                return data
        pin, waited = self._pin(key, text, voice)
        data = self._pinned_samples(key, pin, text, voice)
        if not waited:
            self._count("cache_hits")
        self._remember(key, data)
        return data

    def length(self, text: str, voice: VoiceSpec = VoiceSpec()) -> int:
        """The clip's length in samples at ``sample_rate`` (blocks until known).

        Reads (and pins) the clip itself, not only a header: the samples
        :meth:`clip` returns later are these very ones.
        """
        return self._pin(self._key(text, voice), text, voice)[0].count

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
                if key in self._pins or key in self._jobs:
                    continue
            if cache.entry_length(cache.entry_path(self.cache_dir, key), key) is None:
                self._submit(key, text, voice, _PRIORITY_LATER, wait=False)

    def ready(self, text: str, voice: VoiceSpec = VoiceSpec()) -> bool:
        """True when :meth:`clip` and :meth:`length` would not wait for synthesis.

        When the clip is not ready, its synthesis is made to happen next
        (queued, or moved to the front of its queue): the player asks this
        of the next clip it needs, so synthesis runs in order of need. A clip
        whose synthesis failed counts as ready: :meth:`length` then raises.
        """
        key = self._key(text, voice)
        with self._lock:
            if key in self._pins or key in self._failed:
                return True
        if cache.entry_length(cache.entry_path(self.cache_dir, key), key) is not None:
            return True
        job = self._submit(key, text, voice, _PRIORITY_NOW)
        return job.done.is_set()

    def cached(self, text: str, voice: VoiceSpec = VoiceSpec()) -> bool:
        """True when the clip is pinned or has a cache entry (header checked): no synthesis needed."""
        key = self._key(text, voice)
        with self._lock:
            if key in self._pins:
                return True
        return cache.entry_length(cache.entry_path(self.cache_dir, key), key) is not None

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
        """End the worker processes and release the pins; pending requests fail with EngineError.

        A worker still busy after *grace* seconds is killed (``grace=0``: at
        once, as a player does after a stop). If this synthesizer added
        entries, the cache folder is then brought within its limits
        (:func:`voiceguide.synth.cachesize.prune`).
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
            for proc in list(pool.starting):  # a worker hung while it starts has no slot yet
                try:
                    proc.kill()
                except OSError:
                    pass
            for w in list(pool.slots):
                if w is not None:
                    w.close(grace=grace)
        for pool in pools:
            for t in pool.threads:
                t.join(timeout=grace + 1.0)
        with self._lock:
            pins = list(self._pins.values())
            self._pins.clear()
        for pin in pins:
            pin.close()
        self._finalizer.detach()
        if self._added:
            from .cachesize import Limits, prune

            try:
                prune(self.cache_dir, self.limits or Limits.from_config())
            except OSError:
                pass  # a bound not kept this time is kept next time

    def __enter__(self) -> "Synthesizer":
        return self

    def __exit__(self, *exc: object) -> None:
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
            if key in self._memory or data.nbytes > MEMORY_CACHE_BYTES // 4:
                return
            self._memory[key] = data
            self._memory_bytes += data.nbytes
            while self._memory_bytes > MEMORY_CACHE_BYTES:
                _, old = self._memory.popitem(last=False)
                self._memory_bytes -= old.nbytes

    # -- pins: one clip per key for the synthesizer's life --------------------

    def _pin(self, key: str, text: str, voice: VoiceSpec) -> Tuple[_Pin, bool]:
        """The clip's pin, reading the cache or synthesising; (pin, whether it waited for a worker)."""
        waited = False
        for _ in range(3):
            with self._lock:
                pin = self._pins.get(key)
            if pin is not None:
                return pin, waited
            pin = self._pin_entry(key)
            if pin is not None:
                return pin, waited
            self._wait(self._submit(key, text, voice, _PRIORITY_NOW))
            waited = True
        with self._lock:
            pin = self._pins.get(key)
        if pin is None:  # pragma: no cover - the job pins its clip before it finishes
            raise EngineError(f"speech synthesis gave no clip for {normalise_text(text)[:60]!r}")
        return pin, waited

    def _pin_entry(self, key: str) -> Optional[_Pin]:
        """Pin the clip's cache entry if it is there and sound; None if missing or damaged (removed)."""
        path = cache.entry_path(self.cache_dir, key)
        try:
            entry = cache.open_entry(path, key)
        except FileNotFoundError:
            return None
        except cache.Damaged as e:
            self._warn_damaged(key, path, str(e))
            cache.discard(path, getattr(e, "ident", None))
            return None
        except OSError as e:  # unreadable: permissions, an I/O error
            self._warn_damaged(key, path, f"cannot be read ({e.strerror or e})")
            return None
        try:
            samples = entry.samples()
        except (cache.Damaged, OSError) as e:
            entry.close()
            self._warn_damaged(key, path, str(e) if isinstance(e, cache.Damaged)
                               else f"cannot be read ({e.strerror or e})")
            cache.discard(path, entry.ident)
            return None
        entry.touch()
        return self._keep(key, entry, samples)

    def _keep(self, key: str, entry: cache.OpenEntry, samples: np.ndarray) -> _Pin:
        """Make *entry* the key's pin (unless another thread pinned it first)."""
        spare: Optional[cache.OpenEntry] = entry
        with self._lock:
            pin = self._pins.get(key)
            if pin is None:
                if self._pinned_files < self._pin_file_limit:
                    pin = _Pin(entry.count, entry=entry)
                    self._pinned_files += 1
                    spare = None
                else:
                    pin = _Pin(int(samples.size), samples=samples)
                self._pins[key] = pin
        if spare is not None:
            spare.close()
        self._remember(key, samples)
        return pin

    def _pinned_samples(self, key: str, pin: _Pin, text: str, voice: VoiceSpec) -> np.ndarray:
        """The pinned clip's samples; exactly ``pin.count`` of them, come what may."""
        if pin.samples is not None:
            return pin.samples
        try:
            return pin.file.samples()
        except (cache.Damaged, OSError) as e:
            # The very file we pinned was changed in place (never by us: entries
            # are written once, under a new name). Speak it again, fitted to the
            # length the timeline already has.
            reason = str(e) if isinstance(e, cache.Damaged) else f"cannot be read ({e.strerror or e})"
            self._warn_damaged(key, pin.file.path, reason + " while in use")
            cache.discard(pin.file.path, pin.file.ident)
            with self._lock:
                if self._pins.get(key) is pin:
                    del self._pins[key]
                    self._pinned_files -= 1
            pin.close()
            fresh, _ = self._pin(key, text, voice)
            samples = fresh.samples if fresh.samples is not None else fresh.file.samples()
            fitted = _fit(samples, pin.count)
            with self._lock:
                if self._pins.get(key) is fresh:
                    self._pins[key] = _Pin(pin.count, samples=fitted)
                    if fresh.entry is not None:
                        self._pinned_files -= 1
            fresh.close()
            return fitted

    def _adopt(self, job: Job, temp: Path) -> int:
        """Name the worker's new entry (unless the key has one: the first writer wins) and pin it."""
        key = job.key
        temp = Path(temp)
        if temp.parent != self.cache_dir or not temp.name.startswith(cache.TEMP_PREFIX):
            raise EngineError(f"the speech worker wrote its clip outside the speech cache: {temp}")
        try:
            own = cache.open_entry(temp, key)
            samples = own.samples()
        except (OSError, cache.Damaged) as e:
            cache.discard(temp)
            raise WorkerFailed(f"the speech worker wrote an unreadable clip ({e})") from None
        path = cache.entry_path(self.cache_dir, key)
        kept = False  # own is the pin's from then on
        try:
            pin: Optional[_Pin] = None
            for _ in range(2):
                try:
                    if cache.place(temp, path):
                        with self._lock:
                            self._added += 1
                except OSError:
                    pass  # cannot name it: still spoken, from our own file
                pin = self._pin_entry(key)   # the first writer's entry, ours or another's
                if pin is not None:
                    break
            if pin is None:
                pin = self._keep(key, own, samples)
                kept = True
        finally:
            if not kept:
                own.close()
            try:
                os.unlink(temp)
            except OSError:
                pass
        return pin.count

    def _warn_damaged(self, key: str, path: Path, reason: str) -> None:
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        log.warning("voiceguide: warning: the speech cache entry %s %s; it is made again", path, reason)

    # -- jobs and workers ------------------------------------------------------

    def _submit(self, key: str, text: str, voice: VoiceSpec, priority: int, wait: bool = True) -> Job:
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
            job = Job(
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
                    "folder": str(self.cache_dir),
                    "key": key,
                },
                priority,
                pool,
            )
            self._jobs[key] = job
            pool.queue.put((priority, next(self._seq), job))
            return job

    def _wait(self, job: Job) -> None:
        job.done.wait()
        if job.error is not None:
            # A fresh exception per waiter: several threads may share the job.
            # UnknownVoice too
            kind = type(job.error) if isinstance(job.error, (EngineError, CacheError)) else EngineError
            raise kind(str(job.error)) from None

    def _finish(self, job: Job, length: Optional[int] = None, error: Optional[BaseException] = None) -> None:
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

    def _pool(self, choice: "Choice") -> Pool:
        """The pool for the choice's engine and model; started on first use (lock held)."""
        name = choice.engine if choice.model is None else f"{choice.engine}:{choice.model}"
        pool = self._pools.get(name)
        if pool is not None:
            return pool
        check_cache_folder(self.cache_dir)
        argv = self.worker_argv + ["--engine", choice.engine]
        size = self.workers
        if choice.engine == "piper":
            size = piper_workers(self._workers_given)
            threads = max(1, (os.cpu_count() or 1) // size)
            argv += ["--model", str(choice.model), "--threads", str(threads)]
        pool = Pool(choice.engine, argv, size)
        self._pools[name] = pool
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
                if self._closed:
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

    def _worker(self, pool: Pool, slot: int) -> Worker:
        w = pool.slots[slot]
        if w is not None and w.alive():
            return w
        if w is not None:
            self._discard_worker(pool, slot)
        startup = self.startup_timeout if pool.engine != "piper" else max(self.startup_timeout, 30.0)
        w = Worker(pool.argv, startup, starting=pool.starting)
        with self._lock:
            pool.slots[slot] = w
            self.stats["workers_started"] += 1
            closed = self._closed
        if closed:
            self._discard_worker(pool, slot)
            raise EngineError("the synthesizer was closed")
        return w

    def _discard_worker(self, pool: Pool, slot: int) -> None:
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
                reply = worker.request(job.request, self.timeout)
                if reply.get("ok"):
                    return self._adopt(job, Path(str(reply.get("temp"))))
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
                if self._closed:
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

