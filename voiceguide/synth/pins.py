"""Pins: each clip as a synthesizer first read it, so a session's lengths and samples always agree.

Why a module of its own: "a clip never changes under a session" (the design
notes' cache rules) is kept by file handling alone -- open a cache entry and
keep it open (or, past a budget of descriptors, keep its samples), speak a
clip again and fit it to the pinned length when the pinned file was changed
in place, and name a worker's new entry (the first writer wins). None of it
knows about worker processes or threads: :mod:`voiceguide.synth.dispatch`
does, and :class:`~voiceguide.synth.synthesizer.Synthesizer` joins the two.

The small memory cache in front of the pins (a session repeats clips) lives
here too: it holds samples of pinned clips only.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np

from ..errors import EngineError
from . import cache
from .workers import WorkerFailed

__all__ = ["Pin", "Pins", "MAX_PINNED_FILES", "MEMORY_CACHE_BYTES"]

log = logging.getLogger("voiceguide.synth")

#: Clips kept in memory after loading, by total size (a session repeats clips).
MEMORY_CACHE_BYTES = 8 * 1024 * 1024

#: At most this many clips are pinned by an open file descriptor; beyond it a
#: pinned clip's samples are kept in memory instead (see :class:`Pin`).
MAX_PINNED_FILES = 256


def pin_file_limit() -> int:
    """How many pins may hold a file descriptor: a quarter of the soft limit, at most :data:`MAX_PINNED_FILES`."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft > 0:
            return max(0, min(MAX_PINNED_FILES, soft // 4))
    except (ImportError, OSError, ValueError):
        pass  # no resource module (Windows) or no answer: the conservative default below
    return MAX_PINNED_FILES // 4


def fit(samples: np.ndarray, count: int) -> np.ndarray:
    """*samples* cut or padded with silence to exactly *count*, with a 10 ms fade-out at a cut."""
    out = np.zeros(count, np.float32)
    n = min(count, samples.size)
    out[:n] = samples[:n]
    if samples.size > count:
        fade = min(n, 480)
        out[n - fade:n] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    out.flags.writeable = False
    return out


def _reason(e: BaseException) -> str:
    return str(e) if isinstance(e, cache.Damaged) else f"cannot be read ({getattr(e, 'strerror', None) or e})"


class Pin:
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


class Pins:
    """The pins of one synthesizer, by cache key, and the memory cache in front of them.

    *lock* is the synthesizer's own (one lock for its pins, jobs and
    counters). ``pins`` is the dict itself, so that a finalizer can close
    them without holding this object; ``added`` counts the entries this
    synthesizer named in the cache folder (the folder is pruned at close
    when it is not zero).
    """

    def __init__(self, cache_dir: Path, lock: threading.Lock):
        self.cache_dir = cache_dir
        self.pins: Dict[str, Pin] = {}
        self.added = 0
        self._lock = lock
        self._pinned_files = 0
        self._file_limit = pin_file_limit()
        self._warned: set = set()
        self._memory: "collections.OrderedDict[str, np.ndarray]" = collections.OrderedDict()
        self._memory_bytes = 0

    def get(self, key: str) -> Optional[Pin]:
        with self._lock:
            return self.pins.get(key)

    def remembered(self, key: str) -> Optional[np.ndarray]:
        """The clip's samples if the memory cache holds them (then they are the most recent)."""
        with self._lock:
            data = self._memory.get(key)
            if data is not None:
                self._memory.move_to_end(key)
            return data

    def remember(self, key: str, data: np.ndarray) -> None:
        with self._lock:
            if key in self._memory or data.nbytes > MEMORY_CACHE_BYTES // 4:
                return
            self._memory[key] = data
            self._memory_bytes += data.nbytes
            while self._memory_bytes > MEMORY_CACHE_BYTES:
                _, old = self._memory.popitem(last=False)
                self._memory_bytes -= old.nbytes

    def entry(self, key: str) -> Optional[Pin]:
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
            self._warn_damaged(key, path, _reason(e))
            cache.discard(path, entry.ident)
            return None
        entry.touch()
        return self.keep(key, entry, samples)

    def keep(self, key: str, entry: cache.OpenEntry, samples: np.ndarray) -> Pin:
        """Make *entry* the key's pin (unless another thread pinned it first)."""
        spare: Optional[cache.OpenEntry] = entry
        with self._lock:
            pin = self.pins.get(key)
            if pin is None:
                if self._pinned_files < self._file_limit:
                    pin = Pin(entry.count, entry=entry)
                    self._pinned_files += 1
                    spare = None
                else:
                    pin = Pin(int(samples.size), samples=samples)
                self.pins[key] = pin
        if spare is not None:
            spare.close()
        self.remember(key, samples)
        return pin

    def samples(self, key: str, pin: Pin, again: Callable[[], Pin]) -> np.ndarray:
        """The pinned clip's samples; exactly ``pin.count`` of them, come what may.

        *again* pins the clip anew (from the cache or a worker); it is called
        only when the pinned file can no longer be read.
        """
        if pin.samples is not None:
            return pin.samples
        try:
            return pin.file.samples()
        except (cache.Damaged, OSError) as e:
            # The very file we pinned was changed in place (never by us: entries
            # are written once, under a new name). Speak it again, fitted to the
            # length the timeline already has.
            self._warn_damaged(key, pin.file.path, _reason(e) + " while in use")
            cache.discard(pin.file.path, pin.file.ident)
            with self._lock:
                if self.pins.get(key) is pin:
                    del self.pins[key]
                    self._pinned_files -= 1
            pin.close()
            fresh = again()
            samples = fresh.samples if fresh.samples is not None else fresh.file.samples()
            fitted = fit(samples, pin.count)
            with self._lock:
                if self.pins.get(key) is fresh:
                    self.pins[key] = Pin(pin.count, samples=fitted)
                    if fresh.entry is not None:
                        self._pinned_files -= 1
            fresh.close()
            return fitted

    def adopt(self, key: str, temp: Path) -> int:
        """Name a worker's new entry (unless the key has one: the first writer wins) and pin it; its length."""
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
            pin: Optional[Pin] = None
            for _ in range(2):
                try:
                    if cache.place(temp, path):
                        with self._lock:
                            self.added += 1
                except OSError:
                    pass  # cannot name it: still spoken, from our own file
                pin = self.entry(key)   # the first writer's entry, ours or another's
                if pin is not None:
                    break
            if pin is None:
                pin = self.keep(key, own, samples)
                kept = True
        finally:
            if not kept:
                own.close()
            try:
                os.unlink(temp)
            except OSError:
                pass  # named (a link remains) or already gone: nothing of ours is left behind
        return pin.count

    def close(self) -> None:
        """Release every pin (their files close)."""
        with self._lock:
            pins = list(self.pins.values())
            self.pins.clear()
        for pin in pins:
            pin.close()

    def _warn_damaged(self, key: str, path: Path, reason: str) -> None:
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        log.warning("voiceguide: warning: the speech cache entry %s %s; it is made again", path, reason)
