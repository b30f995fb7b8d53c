"""The player's side of speech synthesis: voice choice, cache look-ups and worker processes.

:class:`Synthesizer` answers ``clip(text, voice)`` from the on-disk cache when
it can, and otherwise sends the text to a worker process
(:mod:`voiceguide.synth.worker`) that runs the voice's engine and writes a
complete entry into a temporary file; the synthesizer then names it (the
first writer of a key wins: an existing entry is never replaced, see
:mod:`voiceguide.synth.cache`). The voice is resolved here first
(:func:`voiceguide.synth.voices.choose`): engine, model and every synthesis
parameter go into the cache key and into the request, so they cannot drift.

A clip read once is *pinned* for the synthesizer's life
(:mod:`voiceguide.synth.pins`): ``length()`` and ``clip()`` always agree, so
a timeline measured early and a mixer that loads samples minutes later can
never disagree, whatever happens to the cache folder in between.

Each engine (for Piper: each model) has its own pool of workers
(:mod:`voiceguide.synth.dispatch`): espeak-ng and Piper never share a
process, and a Piper worker loads its model once and keeps it. A pool has at
most ``workers`` processes (Piper: at most one per core, and no more than the
free memory holds); a worker idle for ``idle_timeout`` seconds exits and
frees its memory (a station keeps one player running for days), and the next
request starts a fresh one.

Why this module is only the joint: the pins (file handling) and the
dispatcher (processes and threads) each have a module of their own; this one
keys a request (voice choice, cache key), asks the pins first and the
dispatcher on a miss, and answers the public questions.

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

import os
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import EngineError
from . import cache
from .cachefolder import default_cache_dir
from .dispatch import PRIORITY_LATER, PRIORITY_NOW, Dispatcher
from .pins import Pin, Pins
from .spec import VoiceSpec, cache_key, normalise_text
from .workers import Job, Pool, default_worker_argv, list_voices

if TYPE_CHECKING:  # pragma: no cover
    from .cachesize import Limits
    from .voices import Choice

__all__ = ["Synthesizer"]

#: A worker with nothing to do for this long exits (its engine's memory with it).
IDLE_TIMEOUT_S = 60.0


def _shutdown(pools: Dict[str, Pool], pins: Dict[str, Pin]) -> None:
    """The finalizer of a synthesizer never closed: end its workers and release its pins."""
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
    (:class:`~voiceguide.synth.pins.Pin`: the open file, or the samples): every later
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
        self._choices: Dict[Tuple[Optional[str], str], "Choice"] = {}
        self._pins = Pins(self.cache_dir, self._lock)
        self._jobs = Dispatcher(self.cache_dir, self.worker_argv, self.workers, workers,
                                self.timeout, self.startup_timeout, self.idle_timeout,
                                self._lock, self.stats, self._pins.adopt)
        self._finalizer = weakref.finalize(self, _shutdown, self._jobs.pools, self._pins.pins)

    # -- public API ---------------------------------------------------------

    def clip(self, text: str, voice: VoiceSpec = VoiceSpec()) -> np.ndarray:
        """The clip's samples: float32 mono at ``sample_rate``, read-only.

        Blocks until the clip is ready (cache, or a worker). Always exactly
        :meth:`length` samples. Raises :class:`EngineError` when the engine
        is missing, fails or hangs, :class:`CacheError` when the cache
        folder cannot be written.
        """
        key = self._key(text, voice)
        data = self._pins.remembered(key)
        if data is not None:
            self._count("cache_hits")
            return data
        pin, waited = self._pin(key, text, voice)
        data = self._pins.samples(key, pin, lambda: self._pin(key, text, voice)[0])
        if not waited:
            self._count("cache_hits")
        self._pins.remember(key, data)
        return data

    def length(self, text: str, voice: VoiceSpec = VoiceSpec()) -> int:
        """The clip's length in samples at ``sample_rate`` (blocks until known).

        Reads (and pins) the clip itself, not only a header: the samples
        :meth:`clip` returns later are these very ones.
        """
        return self._pin(self._key(text, voice), text, voice)[0].count

    def words(self, text: str, voice: VoiceSpec = VoiceSpec()) -> Tuple[List[Tuple[int, int]], str]:
        """When each word of the clip is spoken: ``([(start, end) sample], source)``, see :mod:`.words`.

        Kept with the clip when it was made (no synthesis for it); a clip
        cached without timings gets an estimate (source ``"estimate"``).
        """
        from .words import pinned_timings

        key = self._key(text, voice)
        pin = self._pin(key, text, voice)[0]
        return pinned_timings(pin.entry, pin.count, text, cache.entry_path(self.cache_dir, key), key)

    @property
    def stream_heads(self) -> bool:
        """Whether a clip waited for comes with its first unit early (:meth:`head`); off unless a player asks."""
        return self._jobs.heads_wanted

    @stream_heads.setter
    def stream_heads(self, on: bool) -> None:
        self._jobs.heads_wanted = bool(on)

    def head(self, text: str, voice: VoiceSpec = VoiceSpec(), wait: float = 0.0
             ) -> Optional[Tuple[np.ndarray, bytes]]:
        """The first unit of a clip still being made: ``(samples, word-timing trailer)``, or None.

        Only with :attr:`stream_heads`, for an engine that makes clips in
        units (Piper: clause by clause, see :mod:`voiceguide.synth.worker`),
        and only while the rest of the clip is still being made: the samples
        are exactly the first ones of the clip :meth:`clip` gives once it is
        done. Waits up to *wait* seconds for it. None once the clip is done
        (ask :meth:`clip`), or when no head comes.
        """
        return self._jobs.head(self._key(text, voice), wait)

    def prefetch(self, items: Iterable[Tuple[str, VoiceSpec]]) -> int:
        """Queue synthesis of every uncached item, in order; returns at once: how many are being made.

        A later :meth:`clip` or :meth:`length` for one of them waits only for
        that item (it jumps the queue if it has not started yet). Failures
        surface there, not here; only an engine already known to be missing,
        or a closed synthesizer, raises :class:`EngineError` at once.
        """
        making = 0
        for text, voice in items:
            key = self._key(text, voice)
            if self._pins.get(key) is not None:
                continue
            if self._jobs.has_job(key):
                making += 1
            elif cache.entry_length(cache.entry_path(self.cache_dir, key), key) is None:
                self._submit(key, text, voice, PRIORITY_LATER)
                making += 1
        return making

    def ready(self, text: str, voice: VoiceSpec = VoiceSpec()) -> bool:
        """True when :meth:`clip` and :meth:`length` would not wait for synthesis.

        When the clip is not ready, its synthesis is made to happen next
        (queued, or moved to the front of its queue): the player asks this
        of the next clip it needs, so synthesis runs in order of need. A clip
        whose synthesis failed counts as ready: :meth:`length` then raises.
        """
        key = self._key(text, voice)
        if self._pins.get(key) is not None or self._jobs.failed(key):
            return True
        if cache.entry_length(cache.entry_path(self.cache_dir, key), key) is not None:
            return True
        job = self._submit(key, text, voice, PRIORITY_NOW)
        return job.done.is_set()

    def cached(self, text: str, voice: VoiceSpec = VoiceSpec()) -> bool:
        """True when the clip is pinned or has a cache entry (header checked): no synthesis needed."""
        key = self._key(text, voice)
        if self._pins.get(key) is not None:
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

    def first_use(self, voice: VoiceSpec = VoiceSpec()) -> bool:
        """Whether a worker speaking *voice* will first prepare its model (a Piper voice never used here).

        That costs ~0.4 s here and seconds on a Pi before its first clip,
        once: ``play`` says so (``voiceguide prepare --voice-only`` does it ahead).
        """
        from .dispatch import saved_model

        choice = self.choice(voice)
        return choice.engine == "piper" and not saved_model(choice, self.cache_dir).is_dir()

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
        if not self._jobs.close(grace):
            return
        self._pins.close()
        self._finalizer.detach()
        if self._pins.added:
            from .cachesize import Limits, prune

            try:
                prune(self.cache_dir, self.limits or Limits.from_config())
            except OSError:
                pass  # best effort: a bound not kept this time is kept by the next synthesizer that closes

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

    def _pin(self, key: str, text: str, voice: VoiceSpec) -> Tuple[Pin, bool]:
        """The clip's pin, reading the cache or synthesising; (pin, whether it waited for a worker)."""
        waited = False
        for _ in range(3):
            pin = self._pins.get(key)
            if pin is not None:
                return pin, waited
            pin = self._pins.entry(key)
            if pin is not None:
                return pin, waited
            self._jobs.wait(self._submit(key, text, voice, PRIORITY_NOW))
            waited = True
        pin = self._pins.get(key)
        if pin is None:  # pragma: no cover - the job pins its clip before it finishes
            raise EngineError(f"speech synthesis gave no clip for {normalise_text(text)[:60]!r}")
        return pin, waited

    def _submit(self, key: str, text: str, voice: VoiceSpec, priority: int) -> Job:
        choice = self.choice(voice)

        def request() -> dict:
            return {
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
            }

        return self._jobs.submit(key, choice, request, priority)
